import { describe, expect, it } from 'vitest';
import { ProgressMeter } from './progress-meter';

describe('progress meter (BK-7)', () => {
  it('averages the rate over its window and says the time left', () => {
    const meter = new ProgressMeter(5_000);
    expect(meter.bytesPerSecond()).toBe(0);
    expect(meter.secondsLeft(100)).toBeNull();
    meter.sample(0, 0);
    meter.sample(1_000, 10_000_000);
    meter.sample(2_000, 20_000_000);
    expect(meter.bytesPerSecond()).toBe(10_000_000);
    expect(meter.secondsLeft(30_000_000)).toBe(3);
    meter.sample(10_000, 20_000_000);
    expect(meter.bytesPerSecond()).toBeLessThan(10_000_000);
    expect(meter.secondsLeft(0)).toBe(0);
  });
});
