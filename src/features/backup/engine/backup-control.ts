/**
 * Pause, Resume and Cancel of a running backup (BK-7), shared by its stages:
 * every stage waits at `gate()` between units of work, so a pause takes
 * effect after the chunks already in flight and a cancel stops them.
 */

export class BackupCancelled extends Error {
  constructor() {
    super('The backup was cancelled.');
    this.name = 'BackupCancelled';
  }
}

export class RunControl {
  readonly #abort = new AbortController();
  #paused = false;
  #waiters: (() => void)[] = [];
  #pausedAt: number | null = null;
  #pausedMs = 0;

  constructor(private readonly now: () => number = () => Date.now()) {}

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Total time spent paused, for durations that count only running time. */
  get pausedMs(): number {
    return this.#pausedMs + (this.#pausedAt === null ? 0 : this.now() - this.#pausedAt);
  }

  pause(): void {
    if (this.#paused || this.stopped) return;
    this.#paused = true;
    this.#pausedAt = this.now();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#pausedAt !== null) this.#pausedMs += this.now() - this.#pausedAt;
    this.#pausedAt = null;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Stops every stage; `reason` is what they throw (BackupCancelled by default). */
  stop(reason: unknown = new BackupCancelled()): void {
    if (this.stopped) return;
    this.#abort.abort(reason);
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Throws if stopped; waits while paused. */
  async gate(): Promise<void> {
    for (;;) {
      this.#throwIfStopped();
      if (!this.#paused) return;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Waits `ms`, cut short (by throwing) if the run stops. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.stopped) {
        reject(this.#abort.signal.reason);
        return;
      }
      const timer = setTimeout(() => {
        this.#abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(this.#abort.signal.reason);
      };
      this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #throwIfStopped(): void {
    if (this.stopped) throw this.#abort.signal.reason;
  }
}
