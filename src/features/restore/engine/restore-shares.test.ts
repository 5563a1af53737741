import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  canonicalJson,
  CHUNK_SIZE,
  fromBase64Url,
  openManifestSecret,
  toBase64Url,
  type JsonValue,
  type ReleasePolicy,
  type VolumeKeySharesPayload,
} from '@/core/crypto';
import { encryptPayload, openEnvelopePayload } from '@/core/crypto/envelope';
import { BackupDatabase } from '@/shared/storage/database';
import { closeKeyStore, getRestoreKey, wipeAllKeys } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import {
  engineSite,
  inProcessRunnerDeps,
  memoryBackupRequest,
  patternBytes,
  TEST_VOLUME_ID,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';
import { otherTestSite, type OtherTestSite } from '@/testing/other-site';
import type { TestSite } from '@/testing/site';
import { escrowPlanFor } from '@/features/backup/engine/backup-escrow';
import { BackupRunner } from '@/features/backup/engine/backup-runner';
import { liveSite, siteAt } from '@/features/backup/engine/backup-site';
import { copyToSite } from '@/features/backup/engine/site-copy';
import { createEphemeralKey, newRequestId } from './restore-keys';
import { loadVerifiedManifest } from './restore-manifest';
import { buildRecoveryKit, recoveryKitQrText } from './restore-recovery-kit';
import { SharesShortError, type ShareAnswer } from './restore-errors';
import { gatherKeys, type GatherParams, type ShareSiteAddress } from './restore-shares';

/**
 * A restore of a volume whose keys are split 2 of 3 (MS-5): the console asks
 * the sites, rebuilds the keys from the first two shares, and when fewer than
 * two come says what each site answered.
 */

useSameRealmTextEncoder();
vi.setConfig({ testTimeout: 60_000 });

let db: BackupDatabase;
let lastRestoreId = '';
let home: TestSite;
let osaka: OtherTestSite;
let sapporo: OtherTestSite;
const SIZE = CHUNK_SIZE + 4321;

async function backUpSplit(policy: ReleasePolicy): Promise<void> {
  const others = await Promise.all(
    [osaka, sapporo].map(async (s) => ({
      siteId: s.site.info.siteId,
      name: s.name,
      fingerprint: s.fingerprint,
      site: siteAt({ url: s.url, token: await s.token('operator') }),
    })),
  );
  const escrow = await escrowPlanFor(liveSite, others, 2, db);
  await new BackupRunner(
    { ...memoryBackupRequest(patternBytes(SIZE), ['restorer', 'restorer2']), policy, escrow },
    () => undefined,
    inProcessRunnerDeps(db),
  ).run();
  for (const s of [osaka, sapporo]) {
    await copyToSite(
      {
        siteId: s.site.info.siteId,
        name: s.name,
        url: s.url,
        token: await s.token('operator'),
        fingerprint: s.fingerprint,
      },
      TEST_VOLUME_ID,
      'operator',
      {
        localCopy: new LocalCopy(db),
        site: (t) => siteAt({ url: t.url, token: t.token }),
        deviceLabel: 'test browser',
        now: () => Date.now(),
      },
    );
  }
}

/** `userId` signed in at every site, as the restore screen would be. */
async function gather(
  userId: string,
  seen: { received: number; needed: number; answers: readonly ShareAnswer[] }[] = [],
  again?: string,
  approvalPollMs?: number,
  known: OtherTestSite[] = [osaka, sapporo],
): Promise<ReturnType<typeof gatherKeys>> {
  await home.signIn(userId);
  const sites: ShareSiteAddress[] = await Promise.all(
    known.map(async (s) => ({
      siteId: s.site.info.siteId,
      name: s.name,
      url: s.url,
      token: await s.token(userId),
    })),
  );
  const restoreId = again ?? newRequestId();
  if (!again) await createEphemeralKey(restoreId, TEST_VOLUME_ID, 1);
  lastRestoreId = restoreId;
  const params: GatherParams = {
    restoreId,
    volumeId: TEST_VOLUME_ID,
    generation: 1,
    homeSiteId: home.site.info.siteId,
    homeName: 'Tokyo',
    sites,
    retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
    signal: new AbortController().signal,
    onPending: () => undefined,
    onShares: (received, needed, answers) => seen.push({ received, needed, answers }),
    loadManifest: () => loadVerifiedManifest({ userId, volumeId: TEST_VOLUME_ID, generation: 1 }),
    ...(approvalPollMs ? { approvalPollMs } : {}),
  };
  return gatherKeys(params);
}

beforeEach(async () => {
  db = new BackupDatabase(`restore-shares-test-${crypto.randomUUID()}`);
  ({ site: home } = await engineSite());
  osaka = await otherTestSite(home, 'Osaka', 'https://osaka.example');
  sapporo = await otherTestSite(home, 'Sapporo', 'https://sapporo.example');
  const admin = { userId: 'admin', roles: ['admin' as const], clientAddress: '127.0.0.1' };
  await osaka.site.sites.trust(admin, sapporo.url, sapporo.fingerprint, 'shares are kept there');
  await sapporo.site.sites.trust(admin, osaka.url, osaka.fingerprint, 'shares are kept there');
});

afterEach(async () => {
  db.close();
  await wipeAllKeys();
  await closeKeyStore();
});

describe('gathering the shares of a restore (MS-5)', () => {
  it('rebuilds the keys from the sites that answer, with one site down', async () => {
    await backUpSplit({ kind: 'reusable', approvalRequired: false, expiresAt: null });
    sapporo.down(true);
    const seen: { received: number; needed: number; answers: readonly ShareAnswer[] }[] = [];
    const { keys, verified, badSites } = await gather('restorer', seen);
    expect(badSites).toEqual([]);
    expect((await openManifestSecret(verified.manifest, keys.dataKeys)).size).toBe(SIZE);
    expect(seen.at(-1)).toMatchObject({ received: 2, needed: 2 });
    expect(seen.some((s) => s.received === 1 && s.needed === 2)).toBe(true);
  });

  it('keeps the shares it received wrapped to the ephemeral key, so a reload asks no site again', async () => {
    await backUpSplit({ kind: 'reusable', approvalRequired: false, expiresAt: null });
    await gather('restorer');
    const restoreId = lastRestoreId;
    const kept = await getRestoreKey(restoreId);
    expect(kept?.envelope).toBeDefined();
    expect(Object.keys(kept?.siteEnvelopes ?? {}).length).toBeGreaterThanOrEqual(1);
    // Both other sites away now: the shares kept from before are enough.
    osaka.down(true);
    sapporo.down(true);
    const { keys, verified } = await gather('restorer', [], restoreId);
    expect((await openManifestSecret(verified.manifest, keys.dataKeys)).size).toBe(SIZE);
  });

  it('refuses a second restore of a one-time volume, each site saying it may already have been decrypted', async () => {
    await backUpSplit({ kind: 'one-time', approvalRequired: false, expiresAt: null });
    const { keys, verified } = await gather('restorer');
    expect((await openManifestSecret(verified.manifest, keys.dataKeys)).size).toBe(SIZE);

    const error = await gather('restorer2').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SharesShortError);
    const short = error as SharesShortError;
    expect(short.needed).toBe(2);
    expect(short.received).toBeLessThan(2);
    // At least two of the three sites burned the record already; they say so.
    const burned = short.answers.filter((a) => a.problem?.kind === 'noKey');
    expect(burned.length).toBeGreaterThanOrEqual(2);
  });

  it('names a site whose share does not fit, restores from the others, and alerts that site', async () => {
    await backUpSplit({ kind: 'reusable', approvalRequired: false, expiresAt: null });
    // Sapporo's stored share is altered (a bit of its chunk-ID key share flipped).
    const [stored] = await sapporo.site.escrow.store.envelopes.of(TEST_VOLUME_ID);
    const opened = await openEnvelopePayload(
      stored!.envelope,
      sapporo.site.keys.escrow.privateKey,
      {
        purpose: 'escrow',
      },
    );
    const payload = opened.payload as VolumeKeySharesPayload;
    const share = fromBase64Url(payload.chunkIdKey);
    share[0] = (share[0] ?? 0) ^ 1;
    const tampered = await encryptPayload(
      canonicalJson({ ...payload, chunkIdKey: toBase64Url(share) } as unknown as JsonValue),
      sapporo.site.info.escrowKey.jwk,
      { purpose: 'escrow', volumeId: TEST_VOLUME_ID, epochs: [stored!.epoch] },
    );
    vi.spyOn(sapporo.site.escrow.store.envelopes, 'of').mockResolvedValue([
      { epoch: stored!.epoch, envelope: tampered },
    ]);
    // Osaka answers last: Tokyo's and Sapporo's shares are tried first, and do not fit.
    const request = osaka.site.releases.request.bind(osaka.site.releases);
    vi.spyOn(osaka.site.releases, 'request').mockImplementation(async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return request(...args);
    });
    const seen: { received: number; needed: number; answers: readonly ShareAnswer[] }[] = [];
    const { keys, verified, badSites } = await gather('restorer', seen);
    expect((await openManifestSecret(verified.manifest, keys.dataKeys)).size).toBe(SIZE);
    expect(badSites).toEqual([sapporo.site.info.siteId]);
    await vi.waitFor(async () => {
      const { alerts } = await sapporo.site.alerts.list({ page: 1, pageSize: 50 } as never);
      expect(JSON.stringify(alerts)).toContain('sent a share of the keys that does not fit');
    });
  });

  it('waits for the administrators of each site that requires approval, and restores once k approved', async () => {
    await backUpSplit({ kind: 'reusable', approvalRequired: true, expiresAt: null });
    const gathered = gather('restorer', [], undefined, 100);
    const pendingAt = async (site: TestSite['site']) => (await site.releases.pendingApprovals())[0];
    await vi.waitFor(
      async () => {
        for (const s of [home.site, osaka.site, sapporo.site])
          expect(await pendingAt(s)).toBeDefined();
      },
      { timeout: 20_000, interval: 100 },
    );
    // Osaka's and Sapporo's administrators approve, each on their own site; Tokyo's do not decide.
    for (const s of [osaka.site, sapporo.site]) {
      const pending = await pendingAt(s);
      await s.releases.decide(
        { userId: 'admin', roles: ['admin'], clientAddress: '127.0.0.1' },
        pending!.requestId,
        true,
        'approved in a test',
      );
    }
    const { keys, verified } = await gathered;
    expect((await openManifestSecret(verified.manifest, keys.dataKeys)).size).toBe(SIZE);
    expect(await pendingAt(home.site)).toBeDefined();
  });

  it('says which site the signed index names that this console does not know, and restores from the others', async () => {
    await backUpSplit({ kind: 'reusable', approvalRequired: false, expiresAt: null });
    const seen: { received: number; needed: number; answers: readonly ShareAnswer[] }[] = [];
    const { keys, verified } = await gather('restorer', seen, undefined, undefined, [osaka]);
    expect((await openManifestSecret(verified.manifest, keys.dataKeys)).size).toBe(SIZE);
    expect(seen.at(-1)?.answers).toContainEqual({
      siteId: sapporo.site.info.siteId,
      name: sapporo.site.info.siteId,
      outcome: 'not-asked',
      problem: { kind: 'shareSiteUnknown' },
    });
  });

  it('asks every site for an outsider, so that each refuses and alerts its own administrators', async () => {
    await backUpSplit({ kind: 'reusable', approvalRequired: false, expiresAt: null });
    await expect(gather('outsider')).rejects.toMatchObject({ code: 'unauthorized_use' });
    for (const site of [home.site, osaka.site, sapporo.site]) {
      const { alerts } = await site.alerts.list({ page: 1, pageSize: 50 } as never);
      expect(
        alerts.some((a) => a.kind === 'unauthorized_restorer' && a.userId === 'outsider'),
      ).toBe(true);
    }
  });

  it('puts the sites that keep shares, the number needed and their fingerprints in the recovery kit', async () => {
    await backUpSplit({ kind: 'reusable', approvalRequired: false, expiresAt: null });
    await home.signIn('operator');
    const kit = await buildRecoveryKit(
      {
        volumeId: TEST_VOLUME_ID,
        owner: 'operator',
        policy: null,
        unavailable: null,
        generations: [
          { generation: 1, size: SIZE, chunks: 2, committedAt: null, onSite: true, local: true },
        ],
        onSite: true,
        local: true,
      },
      home.site.info,
      { [osaka.site.info.siteId]: 'Osaka', [sapporo.site.info.siteId]: 'Sapporo' },
    );
    expect(kit.keySites).toEqual({
      threshold: 2,
      sites: [
        {
          siteId: home.site.info.siteId,
          name: home.site.info.name,
          fingerprint: expect.any(String),
        },
        { siteId: osaka.site.info.siteId, name: 'Osaka', fingerprint: osaka.fingerprint },
        { siteId: sapporo.site.info.siteId, name: 'Sapporo', fingerprint: sapporo.fingerprint },
      ],
    });
    const qr = JSON.parse(recoveryKitQrText(kit)) as { k: number; ks: string[][] };
    expect(qr.k).toBe(2);
    expect(qr.ks.map(([, fingerprint]) => fingerprint)).toContain(osaka.fingerprint);
  });
});
