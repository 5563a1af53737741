import type { HttpHandler } from 'msw';
import { version } from '../../../package.json';
import { randomBytes, sha256Hex } from '@/core/crypto/bytes';
import { seedDemoAccounts, type DeriveCredential } from '../../../mock-server/src/demo';
import type { Clock } from '../../../mock-server/src/domain/ports';
import type { RemoteSites } from '../../../mock-server/src/domain/sites/ports';
import type { RouteContext } from '../../../mock-server/src/http/router';
import type { SiteRepositories } from '../../../mock-server/src/persistence/repositories';
import type { AlertMailer } from '../../../mock-server/src/platform/alert-mailer';
import { MemoryBlobStore } from '../../../mock-server/src/platform/memory-blob-store';
import { createWebCryptoHasher } from '../../../mock-server/src/platform/webcrypto-hasher';
import { webCryptoRandom } from '../../../mock-server/src/platform/webcrypto-random';
import { composeSite, SITE_DEFAULTS, type SiteServices } from '../../../mock-server/src/site';
import { siteHandlers } from './msw-router';

export interface BrowserSite {
  readonly site: SiteServices;
  readonly context: RouteContext;
  readonly handlers: HttpHandler[];
}

const wallClock: Clock = { now: () => new Date() };

/** The offline demo reaches no other site: trusting one answers "unreachable" (MS-1). */
const noOtherSites: RemoteSites = {
  siteInfo: async () => ({
    kind: 'unreachable',
    reason: 'the offline demo runs in this page alone and reaches no other site',
  }),
};

/**
 * The escrow site's own rules on its own repositories, answering the
 * console's requests through MSW: the offline demo (SQLite compiled to
 * WebAssembly) and component tests that want the real behaviour (SQLite in
 * memory). Chunk blobs are kept in memory. The site's verifiers of
 * credentials use PBKDF2 with few iterations here: the demo's accounts are
 * public anyway, and tests should stay quick. The credentials themselves are
 * derived as everywhere (MS-2, 600 000 rounds).
 */
export async function createBrowserSite(options: {
  /** The site's repositories, on a new database with the site's schema. */
  repositories: SiteRepositories;
  iterations?: number;
  demoAccounts?: boolean;
  /** Alert mail (AL-3), as the site has it when SMTP is configured; default none. */
  mailer?: AlertMailer;
  /** The site's clock; default: the wall clock. */
  clock?: Clock;
  /** How the site reaches other sites (MS-1); default: it reaches none. */
  remoteSites?: RemoteSites;
  /** The site's ID; default: a random UUID, as a new site makes. */
  siteId?: string;
  /** How the demo accounts' credentials are derived (MS-2); tests cache them. */
  deriveCredential?: DeriveCredential;
  /**
   * Another site's address (tests with several sites): its name, and the
   * origin it answers at instead of every origin.
   */
  at?: { readonly name: string; readonly url: string };
}): Promise<BrowserSite> {
  const site = await composeSite(
    options.repositories,
    {
      blobs: new MemoryBlobStore(),
      hasher: createWebCryptoHasher({ iterations: options.iterations ?? 1_000 }),
      random: webCryptoRandom,
      sha256Hex,
      clock: options.clock ?? wallClock,
      notifiers: options.mailer ? [options.mailer] : [],
      remoteSites: options.remoteSites ?? noOtherSites,
    },
    {
      siteId: options.siteId ?? globalThis.crypto.randomUUID(),
      siteName: options.at?.name ?? 'Custodian offline demo',
      // The page is the site's console (tests of engines run where there is no page).
      publicUrl: () =>
        options.at?.url ??
        ('location' in globalThis ? globalThis.location.origin : 'http://localhost'),
      version,
      demo: true,
      masterKey: randomBytes(32),
      ...SITE_DEFAULTS,
    },
  );
  if (options.demoAccounts !== false) {
    await seedDemoAccounts(site, { deriveCredential: options.deriveCredential });
  }
  const context: RouteContext = {
    ...site,
    mailer: options.mailer,
    heartbeatMs: 15_000,
    secureCookies: false,
  };
  return { site, context, handlers: siteHandlers(context, options.at?.url) };
}
