import type { Locale } from './locale';

/** Named number formats; `n(value, 'percent')` formats for the current language. */
const numberFormat = {
  integer: { maximumFractionDigits: 0 },
  decimal: { minimumFractionDigits: 1, maximumFractionDigits: 1 },
  percent: { style: 'percent', maximumFractionDigits: 1 },
} as const;

export const numberFormats: Record<Locale, typeof numberFormat> = {
  en: numberFormat,
  ja: numberFormat,
};

/** Named date formats; Intl writes them the way each language expects. */
const dateTimeFormat = {
  date: { year: 'numeric', month: 'short', day: 'numeric' },
  dateTime: {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  },
} as const;

export const datetimeFormats: Record<Locale, typeof dateTimeFormat> = {
  en: dateTimeFormat,
  ja: dateTimeFormat,
};
