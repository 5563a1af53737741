import { http, HttpResponse } from 'msw';
import { siteFingerprints } from '@/core/crypto/site-fingerprint';
import { createBrowserSite } from '@/app/offline-site/browser-site';
import type { SiteServices } from '../../mock-server/src/site';
import { demoPassword } from '../../mock-server/src/demo';
import { openInMemoryDatabase } from '../../mock-server/src/persistence/in-memory-database';
import { kyselyRepositories } from '../../mock-server/src/persistence/repositories';
import { httpRemoteSites } from '../../mock-server/src/platform/remote-sites';
import { credentialFor } from '../../mock-server/test/support/credentials';
import {
  backUp,
  newOperator,
  randomImage,
  type BackupOptions,
  type BackupResult,
} from '../../mock-server/test/support/backup-client';
import type { Client } from '../../mock-server/test/support/test-site';
import { SESSION_COOKIE } from '@/app/offline-site/msw-router';
import { server } from './msw-server';
import { SiteCaller, type TestSite } from './site';

/**
 * A second site beside this test's own (site.ts) for tests of several
 * sites (MS-1..MS-5): the escrow site's own rules on SQLite in memory,
 * answering at an origin of its own through MSW, trusting the test's site
 * as an administrator there would (by its fingerprint), and trusted by it.
 */
export interface OtherTestSite {
  readonly site: SiteServices;
  readonly name: string;
  readonly url: string;
  /** The site fingerprint its administrators compare (MS-1). */
  readonly fingerprint: string;
  /** A bearer token of `userId` signed in here, as the console holds one (MS-2). */
  token(userId: string): Promise<string>;
  /** While on, every request to this site fails as a site that is down would. */
  down(isDown: boolean): void;
  /** `userId` backs up an image of `volumeId` here from their own browser, through the real protocol. */
  backUp(
    userId: string,
    volumeId: string,
    options?: BackupOptions & { image?: Uint8Array },
  ): Promise<BackupResult>;
}

export async function otherTestSite(
  home: TestSite,
  name: string,
  url: string,
): Promise<OtherTestSite> {
  const opened = await openInMemoryDatabase();
  const browserSite = await createBrowserSite({
    repositories: kyselyRepositories(opened.db),
    remoteSites: httpRemoteSites(),
    siteId: `test-site-${name.toLowerCase()}`,
    deriveCredential: credentialFor,
    at: { name, url },
  });
  const { site } = browserSite;
  let isDown = false;
  server.use(
    // In front of its own handlers: a site that is down answers nothing.
    http.all(`${url}/*`, () => (isDown ? HttpResponse.error() : undefined)),
    ...browserSite.handlers,
  );
  const signIn = async (userId: string) =>
    site.identity.signIn(
      userId,
      await credentialFor(demoPassword(userId), site.info.siteId),
      '127.0.0.1',
    );
  const homeFingerprint = (await siteFingerprints(home.site.info)).site;
  await site.sites.trust(
    { userId: 'admin', roles: ['admin'], clientAddress: '127.0.0.1' },
    window.location.origin,
    homeFingerprint,
    'the keys are escrowed there',
  );
  const fingerprint = (await siteFingerprints(site.info)).site;
  await home.site.sites.trust(
    { userId: 'admin', roles: ['admin'], clientAddress: '127.0.0.1' },
    url,
    fingerprint,
    'copies are kept there',
  );
  await signIn('admin');
  return {
    site,
    name,
    url,
    fingerprint,
    token: async (userId) => (await signIn(userId)).token,
    down: (next) => {
      isDown = next;
    },
    async backUp(userId, volumeId, { image, ...options } = {}) {
      const token = (await signIn(userId)).token;
      const caller = new SiteCaller(url, async () => `${SESSION_COOKIE}=${token}`);
      // The same public surface as the server tests' client; its private fields differ.
      const operator = await newOperator(caller as unknown as Client, userId);
      return backUp(operator, site.info, volumeId, image ?? randomImage(4096), options);
    },
  };
}
