import 'primeicons/primeicons.css';
import { createPinia } from 'pinia';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import { createApp } from 'vue';
import App from './App.vue';
import { primeVueOptions } from './primevue-options';
import { createConsoleI18n } from './i18n';
import { createConsoleRouter } from './router';

/**
 * The site serves index.html with a fresh nonce per request in
 * `<meta property="csp-nonce">`; PrimeVue must put it on the `<style>`
 * elements it injects or the strict CSP drops them. The `nonce` property is
 * read because browsers hide the attribute once the page has loaded.
 */
function cspNonce(): string | undefined {
  const meta = document.querySelector<HTMLMetaElement>('meta[property="csp-nonce"]');
  const nonce = meta?.nonce || meta?.getAttribute('nonce') || '';
  return nonce && nonce !== '__CSP_NONCE__' ? nonce : undefined;
}

// `npm run demo:offline` (Vite mode "offline") answers the API inside the page.
if (import.meta.env.MODE === 'offline') {
  const { startOfflineSite } = await import('./offline-site/offline');
  await startOfflineSite();
}

const pinia = createPinia();
const app = createApp(App);
app.use(pinia);
app.use(createConsoleRouter(pinia));
app.use(createConsoleI18n());
app.use(PrimeVue, primeVueOptions(cspNonce()));
app.use(ToastService);
app.mount('#app');
