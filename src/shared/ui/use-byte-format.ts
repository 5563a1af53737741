import { useI18n } from 'vue-i18n';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'] as const;

/**
 * Sizes, speeds and durations as the backup screen shows them (BK-7), in
 * decimal units (1 MB = 1 000 000 bytes, as "MB/s" is usually meant) and the
 * current language's number format.
 */
export function useByteFormat() {
  const { n } = useI18n();

  function bytes(value: number): string {
    let unit = 0;
    let scaled = value;
    while (scaled >= 1000 && unit < UNITS.length - 1) {
      scaled /= 1000;
      unit += 1;
    }
    return unit === 0 ? `${n(value, 'integer')} B` : `${n(scaled, 'decimal')} ${UNITS[unit]}`;
  }

  function duration(ms: number): string {
    const seconds = ms / 1000;
    if (seconds < 10) return `${n(seconds, 'decimal')} s`;
    if (seconds < 60) return `${n(Math.round(seconds), 'integer')} s`;
    const minutes = Math.floor(seconds / 60);
    const rest = Math.round(seconds % 60);
    if (minutes < 60) return `${n(minutes, 'integer')} min ${n(rest, 'integer')} s`;
    return `${n(Math.floor(minutes / 60), 'integer')} h ${n(minutes % 60, 'integer')} min`;
  }

  function percent(fraction: number): string {
    return n(Math.max(0, Math.min(1, fraction)), 'percent');
  }

  return { bytes, duration, percent };
}
