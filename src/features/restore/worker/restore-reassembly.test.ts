/**
 * Ordered reassembly of a parallel restore (issue #6): whatever order the
 * chunks finish in, they are handed on in image order; never more than the
 * budget's chunks exist at once; a failure in the middle ends the run with
 * that chunk's error after exactly the chunks before it; an abort stops it;
 * and every result that is not handed on is discarded (its plaintext wiped).
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkBudget } from '@/shared/workers/chunk-budget';
import { reassembleInOrder } from './restore-reassembly';

interface Tracker {
  readonly consumed: number[];
  readonly discarded: number[];
  alive: number;
  peak: number;
}

function tracker(): Tracker {
  return { consumed: [], discarded: [], alive: 0, peak: 0 };
}

const ranges = fc
  .record({
    from: fc.nat({ max: 5 }),
    length: fc.nat({ max: 24 }),
    limit: fc.integer({ min: 1, max: 6 }),
  })
  .map(({ from, length, limit }) => ({ from, to: from + length, limit }));

describe('reassembleInOrder', () => {
  it('hands every chunk on in order, whatever order they finish in, within the budget', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), ranges, async (s, { from, to, limit }) => {
        const t = tracker();
        const budget = new ChunkBudget(limit);
        const run = reassembleInOrder({
          from,
          to,
          budget,
          work: (position) => {
            t.alive += 1;
            t.peak = Math.max(t.peak, t.alive);
            return s.schedule(Promise.resolve({ position }), `chunk ${position}`);
          },
          consume: async (position, value) => {
            expect(value.position).toBe(position);
            t.consumed.push(position);
            await s.schedule(Promise.resolve(), `write ${position}`);
            t.alive -= 1;
          },
          discard: (value) => {
            t.discarded.push(value.position);
            t.alive -= 1;
          },
          signal: new AbortController().signal,
        });
        await s.waitFor(run);
        expect(t.consumed).toEqual(Array.from({ length: to - from }, (_, i) => from + i));
        expect(t.discarded).toEqual([]);
        expect(t.peak).toBeLessThanOrEqual(limit);
        expect(budget.peak).toBeLessThanOrEqual(limit);
        expect(budget.held).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('keeps the chunks before a failing one, reports its error, and discards those after it', async () => {
    const withFailure = ranges
      .filter(({ from, to }) => to > from)
      .chain((range) =>
        fc.record({
          range: fc.constant(range),
          failing: fc.integer({ min: range.from, max: range.to - 1 }),
        }),
      );
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), withFailure, async (s, { range, failing }) => {
        const { from, to, limit } = range;
        const t = tracker();
        const run = reassembleInOrder({
          from,
          to,
          budget: new ChunkBudget(limit),
          work: (position) => {
            t.alive += 1;
            t.peak = Math.max(t.peak, t.alive);
            return s.schedule(
              position === failing
                ? Promise.reject(new Error(`chunk ${position} was tampered with`))
                : Promise.resolve({ position }),
              `chunk ${position}`,
            );
          },
          consume: async (position) => {
            t.consumed.push(position);
            t.alive -= 1;
          },
          discard: (value) => {
            t.discarded.push(value.position);
            t.alive -= 1;
          },
          signal: new AbortController().signal,
        });
        const error = await s.waitFor(
          run.then(
            () => undefined,
            (e: unknown) => e,
          ),
        );
        await s.waitIdle();
        expect(error).toEqual(new Error(`chunk ${failing} was tampered with`));
        expect(t.consumed).toEqual(Array.from({ length: failing - from }, (_, i) => from + i));
        // Every chunk read ahead of the failure is discarded, none is left unwiped.
        expect(t.alive).toBe(1);
        expect(t.discarded.every((p) => p > failing)).toBe(true);
        expect(t.peak).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 150 },
    );
  });

  it('stops on abort: nothing more is handed on, the work is told, and what it finished is discarded', async () => {
    const controller = new AbortController();
    const finishes = new Map<number, () => void>();
    const signals: AbortSignal[] = [];
    const t = tracker();
    const run = reassembleInOrder({
      from: 0,
      to: 100,
      budget: new ChunkBudget(3),
      work: (position, signal) => {
        signals.push(signal);
        return new Promise<{ position: number }>((resolve) =>
          finishes.set(position, () => resolve({ position })),
        );
      },
      consume: async (position) => {
        t.consumed.push(position);
      },
      discard: (value) => t.discarded.push(value.position),
      signal: controller.signal,
    });
    const settled = run.then(
      () => 'finished',
      (e: unknown) => e,
    );
    await until(() => finishes.size === 3);
    finishes.get(0)!();
    await until(() => finishes.size === 4);
    expect(t.consumed).toEqual([0]);
    finishes.get(2)!();
    controller.abort(new DOMException('The restore was stopped.', 'AbortError'));
    finishes.get(1)!();
    finishes.get(3)!();
    expect(await settled).toMatchObject({ name: 'AbortError' });
    await until(() => t.discarded.length === 3);
    expect(t.consumed).toEqual([0]);
    expect([...t.discarded].sort()).toEqual([1, 2, 3]);
    expect(finishes.size).toBe(4);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
  });

  it('never holds more than the budget while the writer is slow', async () => {
    const t = tracker();
    const writes: (() => void)[] = [];
    const run = reassembleInOrder({
      from: 0,
      to: 40,
      budget: new ChunkBudget(4),
      work: async (position) => {
        t.alive += 1;
        t.peak = Math.max(t.peak, t.alive);
        return { position };
      },
      consume: (position) =>
        new Promise<void>((resolve) =>
          writes.push(() => {
            t.consumed.push(position);
            t.alive -= 1;
            resolve();
          }),
        ),
      discard: () => undefined,
      signal: new AbortController().signal,
    });
    for (let i = 0; i < 40; i++) {
      await until(() => writes.length > i);
      // The writer holds chunk i: at most three more were read ahead.
      expect(t.alive).toBeLessThanOrEqual(4);
      writes[i]!();
    }
    await run;
    expect(t.consumed).toHaveLength(40);
    expect(t.peak).toBe(4);
  });
});

/** Lets pending promise callbacks run until `done` holds (no timers involved). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await Promise.resolve();
  expect(done()).toBe(true);
}
