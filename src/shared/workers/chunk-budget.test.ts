import { describe, expect, it } from 'vitest';
import { ChunkBudget } from './chunk-budget';

describe('chunk budget (BK-6 back-pressure)', () => {
  it('hands out at most `limit` permits and wakes waiters in order', async () => {
    const budget = new ChunkBudget(2);
    await budget.acquire();
    await budget.acquire();
    const order: number[] = [];
    const third = budget.acquire().then(() => order.push(3));
    const fourth = budget.acquire().then(() => order.push(4));
    await Promise.resolve();
    expect(order).toEqual([]);
    budget.release();
    await third;
    expect(order).toEqual([3]);
    budget.release();
    await fourth;
    expect(order).toEqual([3, 4]);
    expect(budget.peak).toBe(2);
  });

  it('stops waiting when the run stops', async () => {
    const budget = new ChunkBudget(1);
    await budget.acquire();
    const stop = new AbortController();
    const waiting = budget.acquire(stop.signal);
    stop.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    budget.release();
    expect(budget.held).toBe(0);
  });

  it('refuses a permit returned twice', () => {
    const budget = new ChunkBudget(1);
    expect(() => budget.release()).toThrow(/twice/);
  });
});
