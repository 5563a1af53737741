import { useI18n } from 'vue-i18n';

const BYTE_UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;

/**
 * Sizes, rates and durations written the way the reader's language writes
 * them (issue 7 quality bar: numbers formatted for the language). Units are
 * binary multiples (1 MB here is 1 048 576 bytes), as the chunk size is.
 */
export function useQuantityFormat() {
  const { locale } = useI18n();

  function unit(value: number, name: string, digits: number): string {
    return new Intl.NumberFormat(locale.value, {
      style: 'unit',
      unit: name,
      // Plain bytes read better in full ("0 bytes", not "0 byte").
      unitDisplay: name.startsWith('byte') ? 'long' : 'short',
      maximumFractionDigits: digits,
    }).format(value);
  }

  function bytes(value: number): string {
    let scaled = value;
    let index = 0;
    while (scaled >= 1024 && index < BYTE_UNITS.length - 1) {
      scaled /= 1024;
      index++;
    }
    return unit(scaled, BYTE_UNITS[index]!, index === 0 ? 0 : 1);
  }

  function rate(bytesPerSecond: number): string {
    let scaled = bytesPerSecond;
    let index = 0;
    while (scaled >= 1024 && index < BYTE_UNITS.length - 1) {
      scaled /= 1024;
      index++;
    }
    return unit(scaled, `${BYTE_UNITS[index]!}-per-second`, index === 0 ? 0 : 1);
  }

  /** Seconds as the largest sensible unit: 42 s, 3.5 min, 2 h, 1.5 d. */
  function duration(seconds: number): string {
    if (seconds < 60) return unit(seconds, 'second', seconds < 10 ? 1 : 0);
    if (seconds < 3600) return unit(seconds / 60, 'minute', 1);
    if (seconds < 86_400) return unit(seconds / 3600, 'hour', 1);
    return unit(seconds / 86_400, 'day', 1);
  }

  function integer(value: number): string {
    return new Intl.NumberFormat(locale.value, { maximumFractionDigits: 0 }).format(value);
  }

  /** `value` in 0..100. */
  function percent(value: number): string {
    return new Intl.NumberFormat(locale.value, {
      style: 'percent',
      maximumFractionDigits: 1,
    }).format(value / 100);
  }

  return { bytes, rate, duration, integer, percent };
}
