import type { HttpHandler } from 'msw';
import { seedDemoAccounts } from '../../../mock-server/src/demo';
import {
  composeMemorySite,
  type MemorySite,
  type MemorySiteOptions,
} from '../../../mock-server/src/memory-site';
import type { RouteContext } from '../../../mock-server/src/http/router';
import type { AlertMailer } from '../../../mock-server/src/platform/alert-mailer';
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
  options: {
    iterations?: number;
    demoAccounts?: boolean;
    /** Alert mail (AL-3), as the site has it when SMTP is configured; default none. */
    mailer?: AlertMailer;
    /** More of the site's composition (clock, time limits). */
    site?: Omit<MemorySiteOptions, 'hasher'>;
  } = {},
): Promise<BrowserSite> {
  const site = await composeMemorySite({
    siteName: 'Custodian offline demo',
    demo: true,
    ...options.site,
    ...(options.mailer ? { notifiers: [...(options.site?.notifiers ?? []), options.mailer] } : {}),
    hasher: createWebCryptoHasher({ iterations: options.iterations ?? 1_000 }),
  });
  if (options.demoAccounts !== false) await seedDemoAccounts(site.identity, site.users);
  const context: RouteContext = {
    ...site,
    mailer: options.mailer,
    heartbeatMs: 15_000,
    secureCookies: false,
  };
  return { site, context, handlers: siteHandlers(context) };
}
