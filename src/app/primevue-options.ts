import { definePreset } from '@primeuix/themes';
import Aura from '@primeuix/themes/aura';
import type { PrimeVueConfiguration } from 'primevue/config';

/**
 * Aura with the light scheme's primary and danger colours one step darker,
 * so that text in them, and white text on them, reaches the 4.5:1 contrast
 * WCAG AA asks for (Aura's emerald-500 and red-500 give 2.5:1 and 3.8:1 on
 * white).
 */
const CustodianTheme = definePreset(Aura, {
  semantic: {
    colorScheme: {
      light: {
        primary: {
          color: '{primary.700}',
          contrastColor: '#ffffff',
          hoverColor: '{primary.800}',
          activeColor: '{primary.900}',
        },
      },
    },
  },
  components: {
    button: {
      colorScheme: {
        light: {
          root: {
            danger: {
              background: '{red.700}',
              hoverBackground: '{red.800}',
              activeBackground: '{red.900}',
              borderColor: '{red.700}',
              hoverBorderColor: '{red.800}',
              activeBorderColor: '{red.900}',
            },
          },
          outlined: { danger: { color: '{red.700}' } },
          text: { danger: { color: '{red.700}' } },
        },
      },
    },
  },
});

/**
 * PrimeVue set-up shared by the console and its component tests. The theme
 * is injected as `<style>` elements, which the site's strict CSP allows only
 * with the page's nonce (style-src-elem 'self' 'nonce-…').
 */
export function primeVueOptions(nonce?: string): PrimeVueConfiguration {
  return {
    theme: { preset: CustodianTheme, options: { darkModeSelector: 'system' } },
    ripple: false,
    pt: {
      // A table wider than a phone scrolls inside its box: the box takes the
      // focus, so that it can be scrolled with the keyboard (WCAG 2.1.1).
      datatable: { tableContainer: { tabindex: '0' } },
      // The password box is a plain text box (no strength overlay): PrimeVue's
      // aria-expanded on it is not allowed on a textbox.
      password: { pcInputText: { root: { 'aria-expanded': undefined } } },
    },
    ...(nonce ? { csp: { nonce } } : {}),
  };
}
