/**
 * Ordered reassembly for a restore (RS-5, RS-6): chunks are read and opened
 * in parallel and may finish in any order, but each is handed on strictly in
 * image order — the order checks, the image's incremental SHA-256 and the
 * output file all see position 0, 1, 2, … and nothing else.
 *
 * Memory stays flat whatever the image size: a ChunkBudget permit is taken
 * before a chunk's work starts and given back only once the chunk has been
 * handed on (written and flushed) or thrown away, so at most `budget.limit`
 * chunks exist at once, counting reads, decryptions and those waiting for
 * their turn.
 */

import type { ChunkBudget } from './chunk-budget';

export interface ReassemblyInput<T> {
  /** First position to hand on, and one past the last. */
  readonly from: number;
  readonly to: number;
  readonly budget: ChunkBudget;
  /** Reads and opens the chunk at `position`; may finish in any order. */
  readonly work: (position: number, signal: AbortSignal) => Promise<T>;
  /** Takes the chunk at `position`, in order; owns `value` from then on. */
  readonly consume: (position: number, value: T) => Promise<void>;
  /** Disposes of a value that will never be consumed (wipes its plaintext). */
  readonly discard: (value: T) => void;
  readonly signal: AbortSignal;
}

/**
 * Runs every position through `work`, hands the results to `consume` in
 * order and returns once the last one was consumed. The first failure in
 * image order ends the run (as a strictly ordered restore would report it);
 * work still under way is aborted and its results discarded.
 */
export async function reassembleInOrder<T>(input: ReassemblyInput<T>): Promise<void> {
  const { from, to, budget } = input;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(input.signal.reason);
  input.signal.addEventListener('abort', onAbort, { once: true });
  const started = new Map<number, Promise<T>>();
  let announce: (() => void) | undefined;

  // Starts positions in order, each once a permit is free.
  const produce = async (): Promise<void> => {
    for (let position = from; position < to; position++) {
      await budget.acquire(stop.signal);
      // The permit may have been granted just as the run ended.
      if (stop.signal.aborted) {
        budget.release();
        return;
      }
      const work = input.work(position, stop.signal);
      // A failure is reported when its turn comes, not as an unhandled rejection.
      work.catch(() => undefined);
      started.set(position, work);
      announce?.();
    }
  };
  const producing = produce();
  producing.catch(() => undefined);

  // Wrapped, so that awaiting its turn does not await the work itself.
  const turnOf = async (position: number): Promise<{ readonly work: Promise<T> }> => {
    for (;;) {
      stop.signal.throwIfAborted();
      const work = started.get(position);
      if (work) return { work };
      await Promise.race([new Promise<void>((resolve) => (announce = resolve)), producing]);
    }
  };

  // A chunk whose work never ends (a stuck worker) does not hold up a stop.
  const stopped = new Promise<never>((_, reject) =>
    stop.signal.addEventListener('abort', () => reject(stop.signal.reason), { once: true }),
  );
  stopped.catch(() => undefined);

  try {
    for (let position = from; position < to; position++) {
      input.signal.throwIfAborted();
      const { work } = await turnOf(position);
      let value: T;
      try {
        value = await Promise.race([work, stopped]);
      } catch (error) {
        if (!stop.signal.aborted) started.delete(position);
        budget.release();
        throw error;
      }
      started.delete(position);
      try {
        if (input.signal.aborted) {
          input.discard(value);
          throw input.signal.reason;
        }
        await input.consume(position, value);
      } finally {
        budget.release();
      }
    }
  } finally {
    input.signal.removeEventListener('abort', onAbort);
    stop.abort(new DOMException('The restore ended.', 'AbortError'));
    for (const work of started.values()) {
      work.then(
        (value) => input.discard(value),
        () => undefined,
      );
    }
    started.clear();
  }
}
