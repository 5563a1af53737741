import { setupWorker } from 'msw/browser';
import { kyselyRepositories } from '../../../mock-server/src/persistence/repositories';
import { createBrowserSite } from './browser-site';
import { openPageDatabase } from './page-database';

/**
 * `npm run demo:offline`: the console with the site running inside the
 * page (MSW service worker), on the site's own repositories over SQLite
 * compiled to WebAssembly. Everything the site stores lives in the page's
 * memory and is gone on reload; no request leaves the browser.
 */
export async function startOfflineSite(): Promise<void> {
  const repositories = kyselyRepositories(await openPageDatabase());
  const { handlers } = await createBrowserSite({ repositories });
  await setupWorker(...handlers).start({ onUnhandledRequest: 'bypass', quiet: true });
  console.info(
    'Custodian offline demo: the site runs in this page; sign in as operator / custodian-operator.',
  );
}
