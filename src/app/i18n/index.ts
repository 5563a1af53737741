import { watch } from 'vue';
import { createI18n } from 'vue-i18n';
import { en, type Messages } from './en';
import { datetimeFormats, numberFormats } from './formats';
import { ja } from './ja';
import { applyDocumentLocale, detectLocale, rememberLocale, type Locale } from './locale';

export { locales, localeNames, isLocale, LOCALE_STORAGE_KEY, type Locale } from './locale';
export type { Messages } from './en';

// Editors complete message keys from the English catalog; i18n.test.ts checks
// that every key the console uses exists.
declare module 'vue-i18n' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  export interface DefineLocaleMessage extends Messages {}
}

/**
 * The console's i18n instance (Composition API mode). The language starts as
 * remembered or as the browser prefers; every later change is remembered and
 * reflected in `<html lang>`.
 */
export function createConsoleI18n(locale: Locale = detectLocale()) {
  const i18n = createI18n({
    legacy: false,
    locale,
    fallbackLocale: 'en',
    messages: { en, ja },
    numberFormats,
    datetimeFormats,
  });
  applyDocumentLocale(locale);
  watch(i18n.global.locale, (next) => {
    const chosen = next === 'ja' ? 'ja' : 'en';
    rememberLocale(chosen);
    applyDocumentLocale(chosen);
  });
  return i18n;
}

export type ConsoleI18n = ReturnType<typeof createConsoleI18n>;
