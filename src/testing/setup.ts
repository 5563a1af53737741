// First, before any module encodes text at load time.
import './page-realm';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { server } from '@/testing/msw-server';
import { runTeardowns } from './teardowns';

// Every call a component makes must be answered by a handler (the test site's,
// src/testing/site.ts, or the test's own): an unexpected request is a test
// failure, not a silent network error.
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(async () => {
  // Mounted consoles, then the test's site, when the test file used them.
  await runTeardowns();
  server.resetHandlers();
  localStorage.clear();
  document.body.innerHTML = '';
});
afterAll(() => server.close());

// jsdom has no matchMedia; PrimeVue asks it for responsive behaviour.
if (!window.matchMedia) {
  window.matchMedia = (query: string): MediaQueryList =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => undefined,
      removeListener: () => undefined,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      dispatchEvent: () => false,
    }) as MediaQueryList;
}

// jsdom does not say whether the page is a secure context; the console runs
// in one (localhost or HTTPS), so tests do too unless they say otherwise.
if (!('isSecureContext' in globalThis) || globalThis.isSecureContext === undefined) {
  Object.defineProperty(globalThis, 'isSecureContext', { value: true, configurable: true });
}
