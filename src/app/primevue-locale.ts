import { usePrimeVue } from 'primevue/config';
import { en } from 'primelocale/js/en.js';
import { ja } from 'primelocale/js/ja.js';
import { watch } from 'vue';
import { useI18n } from 'vue-i18n';
import { isLocale, type Locale } from '@/app/i18n';

/** PrimeVue's own words (password prompts, paging, empty lists, ARIA labels) per console language. */
const PRIMEVUE_LOCALES: Record<Locale, typeof en> = { en, ja };

/** Keeps PrimeVue's words in the console's language, from the first render and on every switch. */
export function usePrimeVueLocale(): void {
  const primevue = usePrimeVue();
  const { locale } = useI18n();
  watch(
    locale,
    (code) => {
      const words = PRIMEVUE_LOCALES[isLocale(code) ? code : 'en'];
      primevue.config.locale = { ...primevue.config.locale, ...words };
    },
    { immediate: true },
  );
}
