import type { HttpHandler } from 'msw';
import { seedDemoAccounts } from '../../../mock-server/src/demo';
import { composeMemorySite, type MemorySite } from '../../../mock-server/src/memory-site';
import type { RouteContext } from '../../../mock-server/src/http/router';
import { createWebCryptoHasher } from '../../../mock-server/src/platform/webcrypto-hasher';
import { siteHandlers } from './msw-router';

export interface BrowserSite {
  readonly site: MemorySite;
  readonly context: RouteContext;
  readonly handlers: HttpHandler[];
}

/**
 * The escrow site's own rules on in-memory repositories, answering the
 * console's requests through MSW: the offline demo and component tests that
 * want the real behaviour. Passwords use PBKDF2 with few iterations here:
 * the demo's accounts are public anyway, and tests should stay quick.
 */
export async function createBrowserSite(
  options: { iterations?: number; demoAccounts?: boolean } = {},
): Promise<BrowserSite> {
  const site = await composeMemorySite({
    siteName: 'Custodian offline demo',
    demo: true,
    hasher: createWebCryptoHasher({ iterations: options.iterations ?? 1_000 }),
  });
  if (options.demoAccounts !== false) await seedDemoAccounts(site.identity, site.users);
  const context: RouteContext = {
    ...site,
    mailer: undefined,
    heartbeatMs: 15_000,
    secureCookies: false,
  };
  return { site, context, handlers: siteHandlers(context) };
}
