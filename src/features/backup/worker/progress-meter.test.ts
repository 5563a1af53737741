import { describe, expect, it } from 'vitest';
import { ProgressMeter } from './progress-meter';

const MB = 1_000_000;

describe('progress meter (BK-7)', () => {
  it('says no rate while the first chunks are encrypted and nothing is confirmed', () => {
    const meter = new ProgressMeter(5_000);
    expect(meter.bytesPerSecond()).toBeNull();
    for (let at = 0; at <= 4_000; at += 250) meter.sample(at, 0);
    expect(meter.bytesPerSecond()).toBeNull();
    expect(meter.secondsLeft(100 * MB)).toBeNull();
  });

  it('says a rate only after a few seconds of data, and a time left only once it is steady', () => {
    const meter = new ProgressMeter(5_000);
    meter.sample(0, 0);
    meter.sample(1_000, 10 * MB);
    meter.sample(2_000, 20 * MB);
    // Two seconds of data: too early for either figure.
    expect(meter.bytesPerSecond()).toBeNull();
    meter.sample(3_000, 30 * MB);
    expect(meter.bytesPerSecond()).toBe(10 * MB);
    expect(meter.secondsLeft(30 * MB)).toBeNull();
    meter.sample(4_000, 40 * MB);
    meter.sample(5_000, 50 * MB);
    expect(meter.secondsLeft(30 * MB)).toBe(3);
  });

  it('waits while the rate changes, and keeps the time left once steady', () => {
    const meter = new ProgressMeter(5_000);
    // A slow start, then three times as fast: the later half is not the whole window's rate.
    meter.sample(0, 0);
    meter.sample(2_500, 5 * MB);
    meter.sample(5_000, 35 * MB);
    expect(meter.bytesPerSecond()).toBe(7 * MB);
    expect(meter.secondsLeft(70 * MB)).toBeNull();
    meter.sample(7_500, 65 * MB);
    meter.sample(10_000, 95 * MB);
    expect(meter.secondsLeft(120 * MB)).toBe(10);
    // A brief stall does not take the time left away again.
    meter.sample(12_500, 95 * MB);
    expect(meter.secondsLeft(120 * MB)).toBe(20);
  });

  it('never says less than a second while work remains, and 0 when none does', () => {
    const meter = new ProgressMeter(5_000);
    for (let at = 0; at <= 6_000; at += 1_000) meter.sample(at, (at / 1_000) * 100 * MB);
    expect(meter.secondsLeft(1)).toBe(1);
    expect(meter.secondsLeft(0)).toBe(0);
  });

  it('starts afresh after a reset, as after a pause', () => {
    const meter = new ProgressMeter(5_000);
    for (let at = 0; at <= 6_000; at += 1_000) meter.sample(at, (at / 1_000) * MB);
    expect(meter.secondsLeft(10 * MB)).toBe(10);
    meter.reset();
    meter.sample(60_000, 6 * MB);
    expect(meter.bytesPerSecond()).toBeNull();
    expect(meter.secondsLeft(10 * MB)).toBeNull();
  });
});
