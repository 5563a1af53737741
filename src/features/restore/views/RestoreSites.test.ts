import 'fake-indexeddb/auto';
import { delay, http, HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IntegrityReport } from '@/core/contract';
import type { BackupFixture } from '@/core/crypto/test-support/backup-fixture';
import { listRestoreKeys } from '@/shared/storage/key-store';
import { listRestores, putRestore } from '@/shared/storage/restore-progress';
import { createEphemeralKey } from '@/features/restore/engine/restore-keys';
import { useOtherSitesStore } from '@/features/sites';
import { useRestoreStore } from '@/features/restore/stores/restore';
import { setRestoreRuntime } from '@/features/restore/engine/restore-runtime';
import { MemoryRestoreRuntime, testBackup } from '@/testing/restore-test-support';
import { useSameRealmTextEncoder } from '@/testing/backup-test-support';
import { mountConsole, settle } from '@/testing/mount-console';
import { server } from '@/testing/msw-server';
import { testSite, type TestSite } from '@/testing/site';
import {
  FAST_RETRY,
  buttonIn,
  clickMenuItem,
  flipByte,
  resetBrowserStorage,
  rowOf,
  statusText,
} from '@/testing/restore-view-support';

/**
 * The restore screen with another site that holds copies of the chunks
 * (MS-5): the keys and the signed index come from this console's own site,
 * chunks from whichever source has a good copy, or from one site pinned
 * under "Options".
 */

useSameRealmTextEncoder();

const VOLUME = 'ext4:0f6e3c1a-5b2d-4c8e-9a7f-1234567890ab';
const OSAKA_ID = 'osaka-site-0001';
const OSAKA_URL = 'https://osaka.example';
const OSAKA_TOKEN = 'osaka-bearer-token';
/** Where the sites store keeps other sites' bearer tokens for the tab (sign-ins.ts). */
const TOKENS_KEY = 'custodian.other-site-tokens';

let runtime: MemoryRestoreRuntime;
let site: TestSite;

interface OsakaOptions {
  readonly damaged?: readonly string[];
  readonly missing?: readonly string[];
}

/**
 * Osaka, another site the console is signed in at: it answers its session
 * and chunk routes only to this console's bearer token, never to a cookie,
 * and keeps the chunk reads and integrity reports it received.
 */
function osakaSite(backup: BackupFixture, options: OsakaOptions = {}) {
  const reads: string[] = [];
  const reports: IntegrityReport[] = [];
  const authorized = (request: Request): boolean =>
    request.headers.get('authorization') === `Bearer ${OSAKA_TOKEN}` &&
    !request.headers.has('cookie');
  const signInFirst = () =>
    HttpResponse.json({ code: 'unauthenticated', message: 'Sign in first.' }, { status: 401 });
  server.use(
    http.get('*/api/sites', () =>
      HttpResponse.json({
        sites: [{ siteId: OSAKA_ID, name: 'Osaka', url: OSAKA_URL, fingerprint: 'ab'.repeat(32) }],
      }),
    ),
    http.get(`${OSAKA_URL}/api/auth/session`, ({ request }) =>
      authorized(request)
        ? HttpResponse.json({
            userId: 'restorer',
            displayName: 'Restorer',
            roles: ['restorer'],
            mustChangePassword: false,
            expiresAt: new Date(Date.now() + 3600_000).toISOString(),
          })
        : signInFirst(),
    ),
    http.get(`${OSAKA_URL}/api/volumes/:volumeId/chunks/:chunkId`, ({ request, params }) => {
      if (!authorized(request)) return signInFirst();
      const chunkId = String(params['chunkId']);
      reads.push(chunkId);
      const blob = backup.blobs.get(chunkId)?.slice();
      if (!blob || options.missing?.includes(chunkId)) {
        return HttpResponse.json(
          { code: 'chunk_not_found', message: 'No such chunk.' },
          { status: 404 },
        );
      }
      if (options.damaged?.includes(chunkId)) flipByte(blob, 30);
      return HttpResponse.arrayBuffer(blob.buffer, {
        headers: { 'content-type': 'application/octet-stream' },
      });
    }),
    http.post(`${OSAKA_URL}/api/alerts/integrity`, async ({ request }) => {
      if (!authorized(request)) return signInFirst();
      reports.push((await request.json()) as IntegrityReport);
      return HttpResponse.json({ ok: true });
    }),
  );
  return { reads, reports };
}

/** The integrity reports this console's own site received (RS-5), as its audit log keeps them. */
async function homeReports(): Promise<unknown[]> {
  return (await site.auditEntries())
    .filter((entry) => entry.event === 'integrity_failure_reported')
    .map((entry) => entry.details);
}

const homeChunkReads = (): string[] => site.requests().filter((r) => r.includes('/chunks/'));

const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

/** The restore screen, signed in here and (with its kept token) at Osaka. */
async function open(userId: string, { signedInAtOsaka = true } = {}) {
  if (signedInAtOsaka)
    sessionStorage.setItem(TOKENS_KEY, JSON.stringify({ [OSAKA_ID]: OSAKA_TOKEN }));
  const mounted = await mountConsole('/restore', { signedInAs: userId });
  const store = useRestoreStore(mounted.pinia);
  store.setRetryPolicy(FAST_RETRY);
  await until(() => expect(['ready', 'failed']).toContain(store.listState));
  const others = useOtherSitesStore(mounted.pinia);
  await until(() =>
    expect(others.sites[0]?.state).toBe(signedInAtOsaka ? 'signed-in' : 'signed-out'),
  );
  return { ...mounted, store };
}

/** The texts of the open popup menu's items. */
function menuItems(): string[] {
  return [...document.querySelectorAll('[role="menuitem"]')].map(
    (i) => i.textContent?.trim() ?? '',
  );
}

async function completes(): Promise<void> {
  await until(() => expect(statusText()).toContain('Restore complete'));
}

beforeEach(async () => {
  runtime = new MemoryRestoreRuntime();
  setRestoreRuntime(runtime);
  site = await testSite();
});

afterEach(async () => {
  setRestoreRuntime(undefined);
  sessionStorage.clear();
  await resetBrowserStorage();
});

describe('pinning one site (MS-5)', { timeout: 30_000 }, () => {
  it('"Options" offers each other signed-in site by name; pinned, the restore reads that site only', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    const osaka = osakaSite(backup);
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Options').click();
    await settle();
    clickMenuItem(/^From Osaka only$/);
    await completes();
    const chunks = backup.manifest.index.chunks.length;
    expect(statusText()).toContain(backup.secret.imageSha256);
    expect(statusText()).toContain(`${chunks} chunks from Osaka.`);
    expect(osaka.reads).toHaveLength(chunks);
    expect(homeChunkReads()).toEqual([]);
    expect(await runtime.sha256Of(runtime.downloads[0]!.restoreId)).toBe(backup.secret.imageSha256);
    expect((await listRestores('restorer'))[0]?.source).toBe(`site:${OSAKA_ID}`);
  });

  it('pinned to a site that holds no copy of a chunk, says so and raises no alert', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    const missing = backup.manifest.index.chunks[1]!.chunkId;
    const osaka = osakaSite(backup, { missing: [missing] });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Options').click();
    await settle();
    clickMenuItem(/^From Osaka only$/);
    await until(() => expect(statusText()).toContain('Osaka holds no copy of chunk 1'));
    expect(statusText()).not.toContain('tampered');
    expect(statusText()).not.toContain('alerted');
    expect(osaka.reports).toEqual([]);
    expect(await homeReports()).toEqual([]);
    expect(runtime.downloads).toEqual([]);
  });

  it('offers no site the console is not signed in at', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    osakaSite(backup);
    await open('restorer', { signedInAtOsaka: false });
    buttonIn(rowOf(VOLUME)!, 'Options').click();
    await settle();
    expect(menuItems()).toContain('From the site only');
    expect(menuItems().some((item) => item.includes('Osaka'))).toBe(false);
  });

  it('a restore a reload left pinned to Osaka goes on from Osaka once the site list has answered', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    const osaka = osakaSite(backup);
    // After the reload this console's site is slow to list the other sites.
    server.use(
      http.get('*/api/sites', async () => {
        await delay(1500);
        return HttpResponse.json({
          sites: [
            { siteId: OSAKA_ID, name: 'Osaka', url: OSAKA_URL, fingerprint: 'ab'.repeat(32) },
          ],
        });
      }),
    );
    const now = new Date().toISOString();
    const restoreId = 'restore-before-the-reload';
    await createEphemeralKey(restoreId, VOLUME, 1);
    await putRestore({
      restoreId,
      userId: 'restorer',
      volumeId: VOLUME,
      generation: 1,
      source: `site:${OSAKA_ID}`,
      phase: 'keys',
      startedAt: now,
      updatedAt: now,
    });
    sessionStorage.setItem(TOKENS_KEY, JSON.stringify({ [OSAKA_ID]: OSAKA_TOKEN }));
    await mountConsole('/restore', { signedInAs: 'restorer' });
    await completes();
    const chunks = backup.manifest.index.chunks.length;
    expect(statusText()).toContain(`${chunks} chunks from Osaka.`);
    expect(osaka.reads).toHaveLength(chunks);
    expect(homeChunkReads()).toEqual([]);
  });

  it('a restore pinned to a site the console is no longer signed in at stops before asking for keys', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    osakaSite(backup);
    const { store } = await open('restorer', { signedInAtOsaka: false });
    await store.restore(VOLUME, { source: `site:${OSAKA_ID}` });
    await until(() =>
      expect(statusText()).toContain(
        'This restore reads from Osaka only, and this console is not signed in there.',
      ),
    );
    expect(site.requests().some((r) => r.includes('key-release'))).toBe(false);
    expect(store.active?.stage).toBe('interrupted');
    expect(await listRestoreKeys()).toHaveLength(1);
  });
});

describe('failover across sites (MS-5)', { timeout: 30_000 }, () => {
  it('reads a chunk damaged at this console’s site from Osaka, and tells only this console’s site', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    const victim = backup.manifest.index.chunks[3]!.chunkId;
    await site.tamperChunk(VOLUME, victim, 40);
    const osaka = osakaSite(backup);
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await completes();
    expect(await runtime.sha256Of(runtime.downloads[0]!.restoreId)).toBe(backup.secret.imageSha256);
    expect(osaka.reads).toEqual([victim]);
    expect(statusText()).toContain('1 chunk from Osaka.');
    expect(statusText()).toContain(
      'A damaged copy of chunk 3 from this console’s site was passed over; that site’s administrators were alerted.',
    );
    await until(async () =>
      expect(await homeReports()).toEqual([
        {
          volumeId: VOLUME,
          generation: 1,
          source: 'site',
          check: 'index-hash',
          chunkIndex: 3,
          chunkId: victim,
        },
      ]),
    );
    expect(osaka.reports).toEqual([]);
  });

  it('goes on from Osaka when this console’s site stops serving chunks mid-restore', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    const osaka = osakaSite(backup);
    await open('restorer');
    let served = 0;
    site.outage((request) => {
      if (!request.url.includes('/chunks/')) return false;
      served++;
      return served > 2;
    });
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await completes();
    expect(await runtime.sha256Of(runtime.downloads[0]!.restoreId)).toBe(backup.secret.imageSha256);
    expect(osaka.reads.length).toBeGreaterThan(0);
    expect(statusText()).toMatch(/\d+ chunks? from Osaka\./);
  });

  it('stops naming the chunk when no site has a good copy; Osaka, which served a bad one, is told once', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    const victim = backup.manifest.index.chunks[2]!.chunkId;
    await site.loseChunk(VOLUME, victim);
    const osaka = osakaSite(backup, { damaged: [victim] });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() =>
      expect(statusText()).toContain(`Chunk 2 (${victim}) was tampered with or damaged`),
    );
    await until(() => expect(statusText()).toContain('The site’s administrators were alerted.'));
    expect(osaka.reports).toEqual([
      {
        volumeId: VOLUME,
        generation: 1,
        source: 'site',
        check: 'index-hash',
        chunkIndex: 2,
        chunkId: victim,
      },
    ]);
    expect(await homeReports()).toEqual([]);
    expect(runtime.downloads).toEqual([]);
  });
});
