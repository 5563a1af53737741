/**
 * BK-7 progress figures: MB/s over a sliding window and the time left at
 * that rate. Pure, so the runner, the screen and the benchmark agree.
 */

export interface RateSample {
  readonly at: number;
  readonly bytes: number;
}

export class ProgressMeter {
  #samples: RateSample[] = [];

  constructor(readonly windowMs: number) {}

  /** Records `bytes` done at time `at` (ms); call on every progress change. */
  sample(at: number, bytes: number): void {
    this.#samples.push({ at, bytes });
    const from = at - this.windowMs;
    while (this.#samples.length > 2 && this.#samples[1]!.at <= from) this.#samples.shift();
  }

  /** Forgets the window (after a pause, so the rate does not count the pause). */
  reset(): void {
    this.#samples = [];
  }

  /** Bytes per second over the window, 0 until two samples exist. */
  bytesPerSecond(): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last.at <= first.at) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }

  /** Seconds left for `remaining` bytes at the current rate, or null when unknown. */
  secondsLeft(remaining: number): number | null {
    const rate = this.bytesPerSecond();
    if (remaining <= 0) return 0;
    return rate > 0 ? remaining / rate : null;
  }
}
