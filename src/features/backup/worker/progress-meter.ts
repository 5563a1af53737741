/**
 * BK-7 progress figures: the rate over a sliding window and the time left at
 * that rate, said only when they mean something. A rate needs `settleMs` of
 * samples that moved bytes (the first chunks are encrypted before any is
 * confirmed, and a rate of 0 B/s then would be false); a time left needs the
 * rate to be steady: a full window whose later half ran within a third of
 * the whole window's rate. Once steady, the time left stays shown until
 * reset, so it does not blink. Pure, so the runner, the screen and the
 * benchmark agree.
 */

export interface RateSample {
  readonly at: number;
  readonly bytes: number;
}

export class ProgressMeter {
  #samples: RateSample[] = [];
  #steady = false;

  constructor(
    readonly windowMs: number,
    readonly settleMs: number = windowMs / 2,
  ) {}

  /** Records `bytes` done at time `at` (ms); call on every progress change. */
  sample(at: number, bytes: number): void {
    this.#samples.push({ at, bytes });
    const from = at - this.windowMs;
    while (this.#samples.length > 2 && this.#samples[1]!.at <= from) this.#samples.shift();
    if (!this.#steady) this.#steady = this.#isSteady();
  }

  /** Forgets the window (after a pause, so the rate does not count the pause). */
  reset(): void {
    this.#samples = [];
    this.#steady = false;
  }

  /** Bytes per second over the window, or null until `settleMs` of samples have moved bytes. */
  bytesPerSecond(): number | null {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last.at - first.at < this.settleMs || last.bytes <= first.bytes) {
      return null;
    }
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }

  /**
   * Seconds left for `remaining` bytes at the current rate: null until the
   * rate is steady, 0 when nothing remains, and never below one second
   * while something does.
   */
  secondsLeft(remaining: number): number | null {
    if (remaining <= 0) return 0;
    const rate = this.bytesPerSecond();
    if (!this.#steady || rate === null) return null;
    return Math.max(1, remaining / rate);
  }

  #isSteady(): boolean {
    const whole = this.bytesPerSecond();
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (whole === null || !first || !last || last.at - first.at < this.windowMs) return false;
    const halfway = last.at - this.windowMs / 2;
    const middle = this.#samples.find((sample) => sample.at >= halfway);
    if (!middle || middle.at >= last.at) return false;
    const later = ((last.bytes - middle.bytes) * 1000) / (last.at - middle.at);
    return Math.abs(later - whole) <= whole / 3;
  }
}
