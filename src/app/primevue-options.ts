import Aura from '@primeuix/themes/aura';
import type { PrimeVueConfiguration } from 'primevue/config';

/**
 * PrimeVue set-up shared by the console and its component tests. The theme
 * is injected as `<style>` elements, which the site's strict CSP allows only
 * with the page's nonce (style-src-elem 'self' 'nonce-…').
 */
export function primeVueOptions(nonce?: string): PrimeVueConfiguration {
  return {
    theme: { preset: Aura, options: { darkModeSelector: 'system' } },
    ripple: false,
    ...(nonce ? { csp: { nonce } } : {}),
  };
}
