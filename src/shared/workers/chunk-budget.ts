/**
 * Back-pressure for the pipeline (BK-6): a counting semaphore over chunks
 * held in memory. The reader takes a permit before it reads a chunk and the
 * permit comes back once the chunk's blob has left memory, so at most
 * `limit` chunks (plaintext or blob) exist at once, whatever the image size.
 */

export class ChunkBudget {
  readonly limit: number;
  #held = 0;
  #peak = 0;
  #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError('A budget holds at least one chunk.');
    this.limit = limit;
  }

  get held(): number {
    return this.#held;
  }

  /** Most chunks ever held at once (the back-pressure tests read it). */
  get peak(): number {
    return this.#peak;
  }

  /** Waits for a free permit; rejects if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#held < this.limit) {
      this.#take();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', abort);
        this.#take();
        resolve();
      };
      const abort = (): void => {
        this.#waiting = this.#waiting.filter((w) => w !== grant);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.#waiting.push(grant);
    });
  }

  release(count = 1): void {
    for (let i = 0; i < count; i++) {
      if (this.#held === 0) throw new Error('A chunk permit was returned twice.');
      this.#held -= 1;
      const next = this.#waiting.shift();
      next?.();
    }
  }

  #take(): void {
    this.#held += 1;
    this.#peak = Math.max(this.#peak, this.#held);
  }
}
