import { useI18n } from 'vue-i18n';

/** Binary multiples, named as such: a 4 MiB chunk is 4 × 1 048 576 bytes. */
const BINARY_UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/**
 * The console's one way of writing sizes, rates, durations and shares:
 * sizes in binary multiples labelled KiB, MiB, GiB (disk images and chunks
 * are measured so), rates in the same units per second, and numbers the way
 * the reader's language writes them.
 */
export function useQuantityFormat() {
  const { locale } = useI18n();

  function number(value: number, digits: number): string {
    return new Intl.NumberFormat(locale.value, { maximumFractionDigits: digits }).format(value);
  }

  function unit(value: number, name: string, digits: number, display: 'long' | 'short'): string {
    return new Intl.NumberFormat(locale.value, {
      style: 'unit',
      unit: name,
      unitDisplay: display,
      maximumFractionDigits: digits,
    }).format(value);
  }

  /** `value` bytes: "100 bytes", "5.6 MiB", "1.25 GiB". */
  function bytes(value: number): string {
    if (Math.abs(value) < 1024) return unit(value, 'byte', 0, 'long');
    return scaled(value);
  }

  /** `value` bytes per second: "512 B/s", "48.3 MiB/s". */
  function rate(bytesPerSecond: number): string {
    if (Math.abs(bytesPerSecond) < 1024) return `${number(bytesPerSecond, 0)} B/s`;
    return `${scaled(bytesPerSecond)}/s`;
  }

  function scaled(value: number): string {
    let amount = value / 1024;
    let index = 0;
    while (Math.abs(amount) >= 1024 && index < BINARY_UNITS.length - 1) {
      amount /= 1024;
      index++;
    }
    // Three significant figures at most: 5.61 MiB, 56.1 MiB, 561 MiB.
    const digits = Math.abs(amount) < 10 ? 2 : Math.abs(amount) < 100 ? 1 : 0;
    return `${number(amount, digits)} ${BINARY_UNITS[index]!}`;
  }

  /** Seconds as the largest sensible unit: 42 s, 3.5 min, 2 h, 1.5 d. */
  function duration(seconds: number): string {
    if (seconds < 60) return unit(seconds, 'second', seconds < 10 ? 1 : 0, 'short');
    if (seconds < 3600) return unit(seconds / 60, 'minute', 1, 'short');
    if (seconds < 86_400) return unit(seconds / 3600, 'hour', 1, 'short');
    return unit(seconds / 86_400, 'day', 1, 'short');
  }

  function integer(value: number): string {
    return number(value, 0);
  }

  /** `value` in 0..100. */
  function percent(value: number): string {
    return new Intl.NumberFormat(locale.value, {
      style: 'percent',
      maximumFractionDigits: 1,
    }).format(Math.max(0, Math.min(100, value)) / 100);
  }

  return { bytes, rate, duration, integer, percent };
}
