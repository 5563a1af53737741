/** The languages of the console (SPEC §4 Usability: English and Japanese). */
export const locales = ['en', 'ja'] as const;
export type Locale = (typeof locales)[number];

/** Where the chosen language is remembered between visits. */
export const LOCALE_STORAGE_KEY = 'custodian.locale';

/** Each language is offered under its own name, whatever the current language. */
export const localeNames: Readonly<Record<Locale, string>> = { en: 'English', ja: '日本語' };

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (locales as readonly string[]).includes(value);
}

function storedLocale(): Locale | undefined {
  try {
    const value = globalThis.localStorage?.getItem(LOCALE_STORAGE_KEY);
    return isLocale(value) ? value : undefined;
  } catch {
    // Storage can be disabled by the browser; the language is then not remembered.
    return undefined;
  }
}

/** The remembered choice, else the browser's first language (ja* → ja), else English. */
export function detectLocale(languages: readonly string[] = browserLanguages()): Locale {
  const stored = storedLocale();
  if (stored) return stored;
  const first = languages[0]?.toLowerCase() ?? 'en';
  return first.startsWith('ja') ? 'ja' : 'en';
}

function browserLanguages(): readonly string[] {
  const nav = globalThis.navigator;
  if (!nav) return [];
  return nav.languages?.length ? nav.languages : [nav.language];
}

export function rememberLocale(locale: Locale): void {
  try {
    globalThis.localStorage?.setItem(LOCALE_STORAGE_KEY, locale);
  } catch {
    // Not remembered when storage is disabled; the choice still applies to this visit.
  }
}

/** Screen readers and font selection follow `<html lang>`. */
export function applyDocumentLocale(locale: Locale): void {
  if (typeof document !== 'undefined') document.documentElement.lang = locale;
}
