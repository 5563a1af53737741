import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia } from 'pinia';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import { createMemoryHistory } from 'vue-router';
import App from '@/app/App.vue';
import { primeVueOptions } from '@/app/primevue-options';
import { createConsoleI18n, type Locale } from '@/app/i18n';
import { createConsoleRouter } from '@/app/router';
import { testSite } from './site';
import { afterEachTest } from './teardowns';

export interface MountOptions {
  /** Demo user already signed in (through the test site's login), if any. */
  readonly signedInAs?: string;
  readonly locale?: Locale;
}

const mounted: VueWrapper[] = [];

/** Unmounts every console mounted by the current test (called after each test). */
export function unmountAll(): void {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
}
afterEachTest(0, unmountAll);

/** The whole console on one page, talking to the in-memory site through MSW. */
export async function mountConsole(path: string, options: MountOptions = {}) {
  // The site's own rules (src/testing/site.ts): a real sign-in sets the session cookie.
  const site = await testSite();
  if (options.signedInAs) await site.signIn(options.signedInAs);
  const pinia = createPinia();
  const i18n = createConsoleI18n(options.locale ?? 'en');
  const router = createConsoleRouter(pinia, createMemoryHistory());
  await router.push(path);
  const wrapper = mount(App, {
    attachTo: document.body,
    global: { plugins: [pinia, router, i18n, [PrimeVue, primeVueOptions()], ToastService] },
  });
  mounted.push(wrapper);
  await settle();
  return { wrapper, router, pinia, i18n };
}

/** Lets fetches, lazy views and re-renders finish. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await flushPromises();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** Texts of the links inside the landmark with this accessible name. */
export function linksIn(navLabel: string): string[] {
  const nav = document.querySelector(`nav[aria-label="${navLabel}"]`);
  return nav ? [...nav.querySelectorAll('a')].map((a) => a.textContent?.trim() ?? '') : [];
}

/** The form control whose `<label>` has exactly this text. */
export function controlLabelled(text: string): HTMLInputElement | HTMLSelectElement {
  const label = [...document.querySelectorAll('label')].find((l) => l.textContent?.trim() === text);
  const id = label?.htmlFor;
  const control = id ? document.getElementById(id) : null;
  if (!(control instanceof HTMLInputElement || control instanceof HTMLSelectElement)) {
    throw new Error(`no control labelled "${text}"`);
  }
  return control;
}

/** The `<button>` whose text is exactly this. */
export function buttonNamed(text: string): HTMLButtonElement {
  const button = [...document.querySelectorAll('button')].find(
    (b) => b.textContent?.trim() === text || b.getAttribute('aria-label') === text,
  );
  if (!button) throw new Error(`no button "${text}"`);
  return button;
}

export function alertText(): string {
  return [...document.querySelectorAll('[role="alert"]')].map((a) => a.textContent).join(' ');
}

/** Types into an input the way a user does (value, then input event). */
export async function type(control: HTMLInputElement, value: string): Promise<void> {
  control.value = value;
  control.dispatchEvent(new Event('input', { bubbles: true }));
  await flushPromises();
}
