import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ROTATION_BOUNDS,
  rotationDue,
  rotationIntervalMs,
  rotationPolicy,
  timeToBreakMs,
} from './rotation';

describe('key rotation (RC-4, seed 002 claim 11)', () => {
  it('computes the time to break a key by exhaustive search', () => {
    // 2^39 guesses on average for a 40-bit key at 2^20 guesses/s: 2^19 s.
    expect(timeToBreakMs(40, 2 ** 20)).toBeCloseTo(2 ** 19 * 1000, -3);
    expect(timeToBreakMs(256, 1e18)).toBeGreaterThan(1e50);
    expect(timeToBreakMs(4096, 1)).toBe(Infinity);
    expect(() => timeToBreakMs(0, 1)).toThrow(RangeError);
    expect(() => timeToBreakMs(128, -5)).toThrow(RangeError);
  });

  it('derives T from the time to break, clamped to sane bounds', () => {
    expect(rotationIntervalMs(256, 1e18)).toBe(ROTATION_BOUNDS.maxMs);
    expect(rotationIntervalMs(40, 1e12)).toBe(ROTATION_BOUNDS.minMs);
    const mid = rotationIntervalMs(64, 1e9, 1e-6); // about 2.5 hours
    expect(mid).toBeGreaterThan(ROTATION_BOUNDS.minMs);
    expect(mid).toBeLessThan(ROTATION_BOUNDS.maxMs);
    expect(mid).toBeCloseTo(timeToBreakMs(64, 1e9) * 1e-6, -3);
  });

  it('always stays within the bounds (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4096 }),
        fc.double({ min: 1e-3, max: 1e30, noNaN: true }),
        fc.double({ min: 1e-12, max: 1, noNaN: true }),
        (bits, rate, factor) => {
          const t = rotationIntervalMs(bits, rate, factor);
          return t >= ROTATION_BOUNDS.minMs && t <= ROTATION_BOUNDS.maxMs;
        },
      ),
    );
  });

  it('rotates after N bytes or T, whichever comes first', () => {
    const policy = rotationPolicy(128 * 1024 ** 2, 10 * 60_000);
    expect(rotationDue(policy, 100 * 1024 ** 2, 60_000)).toBe(false);
    expect(rotationDue(policy, 128 * 1024 ** 2, 60_000)).toBe(true);
    expect(rotationDue(policy, 0, 10 * 60_000)).toBe(true);
    expect(rotationPolicy(1, 1)).toEqual({
      everyBytes: ROTATION_BOUNDS.minBytes,
      everyMs: ROTATION_BOUNDS.minMs,
    });
    expect(rotationPolicy(Infinity, NaN)).toEqual({
      everyBytes: ROTATION_BOUNDS.maxBytes,
      everyMs: ROTATION_BOUNDS.maxMs,
    });
  });
});
