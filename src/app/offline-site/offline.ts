import { setupWorker } from 'msw/browser';
import { createMemoryRepositories } from '../../../mock-server/src/persistence/memory';
import { createBrowserSite } from './browser-site';

/**
 * `npm run demo:offline`: the console with the site running inside the
 * page (MSW service worker). Everything the site stores lives in memory and
 * is gone on reload; no request leaves the browser.
 */
export async function startOfflineSite(): Promise<void> {
  const { handlers } = await createBrowserSite({ repositories: createMemoryRepositories() });
  await setupWorker(...handlers).start({ onUnhandledRequest: 'bypass', quiet: true });
  console.info(
    'Custodian offline demo: the site runs in this page; sign in as operator / custodian-operator.',
  );
}
