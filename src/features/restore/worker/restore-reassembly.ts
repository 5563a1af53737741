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

import type { ChunkBudget } from '@/shared/workers/chunk-budget';

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
  // Wakes the writer when a position starts, the producer fails or the run stops.
  let announce: (() => void) | undefined;
  const wake = (): void => announce?.();
  stop.signal.addEventListener('abort', wake, { once: true });
  let producerFailure: { readonly error: unknown } | undefined;

  // Starts positions in order, each once a permit is free.
  const produce = async (): Promise<void> => {
    try {
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
        wake();
      }
    } catch (error) {
      producerFailure = { error };
      wake();
    }
  };
  void produce();

  // Wrapped, so that awaiting its turn does not await the work itself.
  const turnOf = async (position: number): Promise<{ readonly work: Promise<T> }> => {
    for (;;) {
      stop.signal.throwIfAborted();
      if (producerFailure) throw producerFailure.error;
      const work = started.get(position);
      if (work) return { work };
      await new Promise<void>((resolve) => (announce = resolve));
    }
  };

  // The work of a chunk, or the stop, whichever comes first: a chunk whose
  // work never ends (a stuck worker) does not hold up a stop. Listeners are
  // removed each time, so nothing grows with the number of chunks.
  const untilStopped = (work: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onStop = (): void => reject(stop.signal.reason);
      if (stop.signal.aborted) {
        onStop();
        return;
      }
      stop.signal.addEventListener('abort', onStop, { once: true });
      work.then(
        (value) => {
          stop.signal.removeEventListener('abort', onStop);
          resolve(value);
        },
        (error: unknown) => {
          stop.signal.removeEventListener('abort', onStop);
          reject(error);
        },
      );
    });

  try {
    for (let position = from; position < to; position++) {
      input.signal.throwIfAborted();
      const { work } = await turnOf(position);
      let value: T;
      try {
        value = await untilStopped(work);
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
