import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { P256PublicJwk } from '@/core/contract';
import {
  CHUNK_SIZE,
  combineReleases,
  decryptChunk,
  fromHex,
  exportEnvelopePublicKeyJwk,
  generateEnvelopeKeyPair,
  KeySharesError,
  manifestEpochs,
  openManifestSecret,
  openSiteRelease,
  randomBytes,
  toBase64Url,
  type ChunkEntry,
  type SiteRelease,
  type VolumeKeys,
} from '@/core/crypto';
import { openEnvelopePayload } from '@/core/crypto/envelope';
import { BackupDatabase, type EscrowPlan } from '@/shared/storage/database';
import { closeKeyStore, wipeAllKeys } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import {
  engineSite,
  inProcessRunnerDeps,
  memoryBackupRequest,
  patternBytes,
  siteVolume,
  TEST_VOLUME_ID,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';
import { otherTestSite, type OtherTestSite } from '@/testing/other-site';
import type { TestSite } from '@/testing/site';
import type { ReleasePolicy } from '@/core/crypto';
import type { SiteServices } from '../../../../mock-server/src/site';
import { escrowPlanFor } from './backup-escrow';
import { BackupRunner } from './backup-runner';
import { liveSite, siteAt } from './backup-site';
import { copyToSite, type CopyDeps, type CopyTarget } from './site-copy';
import { rekeyIdlePair } from './pair-rekey';

/**
 * Split keys (MS-4, MS-5, seed 004): a backup whose keys are split 2-of-3
 * across three real sites in process, each given only its own share; each
 * site deciding alone who gets its share; and the keys rebuilt from any two.
 */

useSameRealmTextEncoder();
vi.setConfig({ testTimeout: 60_000 });

let db: BackupDatabase;
let home: TestSite;
let osaka: OtherTestSite;
let sapporo: OtherTestSite;

const REUSABLE: ReleasePolicy = { kind: 'reusable', approvalRequired: false, expiresAt: null };
const ONE_TIME: ReleasePolicy = { kind: 'one-time', approvalRequired: false, expiresAt: null };

async function target(site: OtherTestSite): Promise<CopyTarget> {
  return {
    siteId: site.site.info.siteId,
    name: site.name,
    url: site.url,
    token: await site.token('operator'),
    fingerprint: site.fingerprint,
  };
}

function copyDeps(): CopyDeps {
  return {
    localCopy: new LocalCopy(db),
    site: (t) => siteAt({ url: t.url, token: t.token }),
    deviceLabel: 'test browser',
    now: () => Date.now(),
  };
}

async function plan(threshold: number): Promise<EscrowPlan> {
  const others = await Promise.all(
    [osaka, sapporo].map(async (s) => ({
      siteId: s.site.info.siteId,
      name: s.name,
      fingerprint: s.fingerprint,
      site: siteAt({ url: s.url, token: await s.token('operator') }),
    })),
  );
  return escrowPlanFor(liveSite, others, threshold, db);
}

async function backUpSplit(
  bytes: Uint8Array<ArrayBuffer>,
  policy: ReleasePolicy = REUSABLE,
  threshold = 2,
  retireKeys?: { releases: number },
): Promise<void> {
  await new BackupRunner(
    {
      ...memoryBackupRequest(bytes, ['restorer', 'restorer2']),
      policy,
      escrow: await plan(threshold),
      ...(retireKeys ? { retireKeys } : {}),
    },
    () => undefined,
    inProcessRunnerDeps(db),
  ).run();
}

const allSites = (): SiteServices[] => [home.site, osaka.site, sapporo.site];

/** `userId` asks `site` for the keys of `generation` (1 unless said) with their own ephemeral key. */
async function release(
  site: SiteServices,
  userId: string,
  pair: CryptoKeyPair,
  requestId: string,
  generation = 1,
): Promise<SiteRelease> {
  const answer = await site.releases.request(
    { userId, roles: ['restorer'], clientAddress: '127.0.0.1' },
    TEST_VOLUME_ID,
    {
      requestId,
      generation,
      ephemeralPublicKey: (await exportEnvelopePublicKeyJwk(pair.publicKey)) as P256PublicJwk,
    },
  );
  if (answer.state !== 'released') throw new Error(`not released: ${answer.state}`);
  return openSiteRelease(site.info.siteId, answer.envelope, pair.privateKey, {
    purpose: 'release',
    volumeId: TEST_VOLUME_ID,
    requestId,
  });
}

async function manifestOf(site: SiteServices) {
  return (await siteVolume({ site }, TEST_VOLUME_ID))!.generations[0]!.manifest;
}

beforeEach(async () => {
  db = new BackupDatabase(`split-keys-test-${crypto.randomUUID()}`);
  ({ site: home } = await engineSite());
  osaka = await otherTestSite(home, 'Osaka', 'https://osaka.example');
  sapporo = await otherTestSite(home, 'Sapporo', 'https://sapporo.example');
  // The sites that keep shares trust one another, as their administrators set them up (MS-1).
  const admin = { userId: 'admin', roles: ['admin' as const], clientAddress: '127.0.0.1' };
  await osaka.site.sites.trust(admin, sapporo.url, sapporo.fingerprint, 'shares are kept there');
  await sapporo.site.sites.trust(admin, osaka.url, osaka.fingerprint, 'shares are kept there');
});

afterEach(async () => {
  db.close();
  await wipeAllKeys();
  await closeKeyStore();
});

describe('a backup split 2 of 3 across three sites (MS-4)', () => {
  it('gives each site only its own share, names the sites in the signed index, and any two rebuild the keys', async () => {
    await backUpSplit(patternBytes(2 * CHUNK_SIZE + 1000));
    for (const other of [osaka, sapporo]) {
      const copy = await copyToSite(await target(other), TEST_VOLUME_ID, 'operator', copyDeps());
      expect(copy).toMatchObject({ state: 'copied', generation: 1 });
    }
    const manifest = await manifestOf(home.site);
    expect(manifest.index.escrow).toEqual({
      threshold: 2,
      sites: [home.site, osaka.site, sapporo.site].map((s) => ({
        siteId: s.info.siteId,
        fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
      })),
    });
    // Each site holds a share made for it, never a key, and no record naming the home site as keeper.
    for (const site of allSites()) {
      const envelopes = await site.escrow.store.envelopes.of(TEST_VOLUME_ID);
      expect(envelopes).toHaveLength(1);
      const opened = await openEnvelopePayload(
        envelopes[0]!.envelope,
        site.keys.escrow.privateKey,
        {
          purpose: 'escrow',
        },
      );
      expect(opened.payload).toMatchObject({
        type: 'custodian-volume-key-shares',
        siteId: site.info.siteId,
        threshold: 2,
        shares: 3,
      });
      expect((await site.escrow.store.records.find(TEST_VOLUME_ID))?.keysAt ?? null).toBeNull();
    }
    // The shares sealed for the other sites left this browser once they confirmed.
    const kept = new LocalCopy(db);
    for (const site of allSites()) {
      expect(await kept.escrowEnvelopesFor(TEST_VOLUME_ID, site.info.siteId)).toEqual([]);
    }

    const pair = await generateEnvelopeKeyPair();
    const releases = await Promise.all(
      allSites().map((site) => release(site, 'restorer', pair, 'req-all')),
    );
    const expected = {
      volumeId: TEST_VOLUME_ID,
      threshold: 2,
      sites: allSites().map((s) => s.info.siteId),
      epochs: manifestEpochs(manifest),
    };
    for (const two of [
      [0, 1],
      [0, 2],
      [1, 2],
    ]) {
      const { keys, badSites } = await combineReleases(
        two.map((i) => releases[i]!),
        expected,
      );
      expect(badSites).toEqual([]);
      const secret = await openManifestSecret(manifest, keys.dataKeys);
      expect(secret.size).toBe(2 * CHUNK_SIZE + 1000);
    }
    // One share alone is not enough.
    await expect(combineReleases([releases[1]!], expected)).rejects.toThrow(KeySharesError);
  });

  it('lets each site refuse an outsider on its own, and alerts each site’s administrators', async () => {
    await backUpSplit(patternBytes(CHUNK_SIZE + 10));
    for (const other of [osaka, sapporo]) {
      await copyToSite(await target(other), TEST_VOLUME_ID, 'operator', copyDeps());
    }
    const pair = await generateEnvelopeKeyPair();
    for (const site of allSites()) {
      await expect(release(site, 'outsider', pair, 'req-outsider')).rejects.toMatchObject({
        code: 'unauthorized_use',
      });
      const { alerts } = await site.alerts.list({ page: 1, pageSize: 50 } as never);
      expect(
        alerts.some((a) => a.kind === 'unauthorized_restorer' && a.userId === 'outsider'),
      ).toBe(true);
    }
  });

  it('never gives two requesters of a one-time volume two shares each, however their requests interleave', async () => {
    await backUpSplit(patternBytes(CHUNK_SIZE + 10), ONE_TIME);
    for (const other of [osaka, sapporo]) {
      await copyToSite(await target(other), TEST_VOLUME_ID, 'operator', copyDeps());
    }
    const first = await generateEnvelopeKeyPair();
    const second = await generateEnvelopeKeyPair();
    const asks = allSites().flatMap((site) => [
      release(site, 'restorer', first, `req-a-${toBase64Url(randomBytes(6))}`).then(
        () => 'restorer',
        () => null,
      ),
      release(site, 'restorer2', second, `req-b-${toBase64Url(randomBytes(6))}`).then(
        () => 'restorer2',
        () => null,
      ),
    ]);
    const winners = await Promise.all(asks);
    const count = (who: string) => winners.filter((w) => w === who).length;
    // Each site released its share once; three shares cannot make 2 + 2.
    expect(winners.filter((w) => w !== null)).toHaveLength(3);
    expect(count('restorer') >= 2 && count('restorer2') >= 2).toBe(false);
    expect(Math.max(count('restorer'), count('restorer2'))).toBeGreaterThanOrEqual(2);
  });

  it('finishes on the other sites when one is down, and that site catches up with the very share made for it', async () => {
    await backUpSplit(patternBytes(CHUNK_SIZE + 10));
    sapporo.down(true);
    await copyToSite(await target(osaka), TEST_VOLUME_ID, 'operator', copyDeps());
    await expect(
      copyToSite(await target(sapporo), TEST_VOLUME_ID, 'operator', copyDeps()),
    ).rejects.toThrow();
    // Sapporo's share waits here, sealed to Sapporo.
    const waiting = await new LocalCopy(db).escrowEnvelopesFor(
      TEST_VOLUME_ID,
      sapporo.site.info.siteId,
    );
    expect(waiting).toHaveLength(1);

    // Two of three sites hold shares: the keys can be rebuilt already.
    const pair = await generateEnvelopeKeyPair();
    const manifest = await manifestOf(home.site);
    const two = [
      await release(home.site, 'restorer', pair, 'req-down'),
      await release(osaka.site, 'restorer', pair, 'req-down'),
    ];
    const { keys } = await combineReleases(two, {
      volumeId: TEST_VOLUME_ID,
      threshold: 2,
      sites: allSites().map((s) => s.info.siteId),
      epochs: manifestEpochs(manifest),
    });
    expect((await openManifestSecret(manifest, keys.dataKeys)).size).toBe(CHUNK_SIZE + 10);

    sapporo.down(false);
    await copyToSite(await target(sapporo), TEST_VOLUME_ID, 'operator', copyDeps());
    const atSapporo = await sapporo.site.escrow.store.envelopes.of(TEST_VOLUME_ID);
    expect(atSapporo.map((e) => e.envelope)).toEqual(waiting.map((e) => e.envelope));
    const third = await release(sapporo.site, 'restorer', pair, 'req-down');
    const again = await combineReleases([two[0]!, third], {
      volumeId: TEST_VOLUME_ID,
      threshold: 2,
      sites: allSites().map((s) => s.info.siteId),
      epochs: manifestEpochs(manifest),
    });
    expect((await openManifestSecret(manifest, again.keys.dataKeys)).size).toBe(CHUNK_SIZE + 10);
  });

  it('refuses a manifest naming a site this site does not trust', async () => {
    const plan3 = await plan(2);
    const stranger = { ...plan3.sites[2]!, siteId: 'test-site-nowhere' };
    await expect(
      new BackupRunner(
        {
          ...memoryBackupRequest(patternBytes(CHUNK_SIZE + 10)),
          escrow: { threshold: 2, sites: [plan3.sites[0]!, plan3.sites[1]!, stranger] },
        },
        () => undefined,
        inProcessRunnerDeps(db),
      ).run(),
    ).rejects.toMatchObject({ code: 'key_site_not_trusted' });
  });

  it('keeps splitting across the same sites a key made by "rekey now" between two backups', async () => {
    const first = patternBytes(2 * CHUNK_SIZE);
    await backUpSplit(first);
    for (const other of [osaka, sapporo]) {
      await copyToSite(await target(other), TEST_VOLUME_ID, 'operator', copyDeps());
    }
    const [pair] = await home.site.pairs.mine(await home.caller('operator'));
    const epoch = await rekeyIdlePair(
      { site: liveSite, localCopy: new LocalCopy(db), userId: 'operator' },
      pair!,
    );
    expect(epoch).toBe(1);
    const second = first.slice();
    second[7] = (second[7] ?? 0) ^ 0xff;
    await backUpSplit(second);
    for (const other of [osaka, sapporo]) {
      await copyToSite(await target(other), TEST_VOLUME_ID, 'operator', copyDeps());
    }
    // Every site holds its own share of the rekeyed epoch, and none the key.
    for (const site of allSites()) {
      const envelopes = await site.escrow.store.envelopes.of(TEST_VOLUME_ID);
      expect(envelopes.map((e) => e.epoch).sort()).toEqual([0, 1]);
      for (const { envelope } of envelopes) {
        const opened = await openEnvelopePayload(envelope, site.keys.escrow.privateKey, {
          purpose: 'escrow',
        });
        expect(opened.payload.type).toBe('custodian-volume-key-shares');
      }
    }
    const manifest = (await siteVolume({ site: home.site }, TEST_VOLUME_ID))!.generations[1]!
      .manifest;
    expect(manifestEpochs(manifest)).toContain(1);
    const pairKey = await generateEnvelopeKeyPair();
    const answers = await Promise.all(
      [osaka.site, sapporo.site].map(async (site) => {
        const answer = await site.releases.request(
          { userId: 'restorer', roles: ['restorer'], clientAddress: '127.0.0.1' },
          TEST_VOLUME_ID,
          {
            requestId: 'req-rekeyed',
            generation: 2,
            ephemeralPublicKey: (await exportEnvelopePublicKeyJwk(
              pairKey.publicKey,
            )) as P256PublicJwk,
          },
        );
        if (answer.state !== 'released') throw new Error(answer.state);
        return openSiteRelease(site.info.siteId, answer.envelope, pairKey.privateKey, {
          purpose: 'release',
          volumeId: TEST_VOLUME_ID,
        });
      }),
    );
    const { keys } = await combineReleases(answers, {
      volumeId: TEST_VOLUME_ID,
      threshold: 2,
      sites: allSites().map((s) => s.info.siteId),
      epochs: manifestEpochs(manifest),
    });
    expect((await openManifestSecret(manifest, keys.dataKeys)).size).toBe(2 * CHUNK_SIZE);
  });

  it('retires released keys across the sites: the shares of the next generation rebuild new keys, and the released ones open none of its chunks', async () => {
    const first = patternBytes(2 * CHUNK_SIZE + 1000);
    await backUpSplit(first);
    const copyAll = async (): Promise<void> => {
      for (const other of [osaka, sapporo]) {
        await copyToSite(await target(other), TEST_VOLUME_ID, 'operator', copyDeps());
      }
    };
    await copyAll();
    const sites = allSites().map((s) => s.info.siteId);
    const keysOf = async (generation: number, requestId: string) => {
      const pair = await generateEnvelopeKeyPair();
      const answers = await Promise.all(
        [osaka.site, sapporo.site].map((site) =>
          release(site, 'restorer', pair, requestId, generation),
        ),
      );
      const manifest = (await siteVolume({ site: home.site }, TEST_VOLUME_ID))!.generations[
        generation - 1
      ]!.manifest;
      const { keys } = await combineReleases(answers, {
        volumeId: TEST_VOLUME_ID,
        threshold: 2,
        sites,
        epochs: manifestEpochs(manifest),
      });
      return { keys, manifest };
    };
    const released = (await keysOf(1, 'req-first')).keys;

    const second = first.slice();
    second[7] = (second[7] ?? 0) ^ 0xff;
    await backUpSplit(second, REUSABLE, 2, { releases: 2 });
    await copyAll();
    const { keys, manifest } = await keysOf(2, 'req-second');
    const opens = async (entry: ChunkEntry, with_: VolumeKeys): Promise<boolean> => {
      const blob = await home.site.escrow.blobs.get(TEST_VOLUME_ID, entry.chunkId);
      const dataKey = with_.dataKeys.get(entry.epoch) ?? [...with_.dataKeys.values()][0]!;
      return decryptChunk(blob!, {
        volumeId: TEST_VOLUME_ID,
        chunkId: fromHex(entry.chunkId),
        epoch: entry.epoch,
        dataKey,
        chunkIdKey: with_.chunkIdKey,
      }).then(
        () => true,
        () => false,
      );
    };
    const before = (await siteVolume({ site: home.site }, TEST_VOLUME_ID))!.generations[0]!.manifest
      .index.chunks;
    for (const entry of manifest.index.chunks) {
      expect(before.some((b) => b.chunkId === entry.chunkId)).toBe(false);
      expect(await opens(entry, keys)).toBe(true);
      expect(await opens(entry, released)).toBe(false);
    }
  });

  it("continues the volume from the owner's other browser with shares of the chunk-ID key from two sites, and says what is missing when only one can be asked", async () => {
    const first = patternBytes(3 * CHUNK_SIZE);
    await backUpSplit(first);
    for (const other of [osaka, sapporo]) {
      await copyToSite(await target(other), TEST_VOLUME_ID, 'operator', copyDeps());
    }
    // The owner's other browser: no local copy, no key.
    await wipeAllKeys();
    db = new BackupDatabase(`split-keys-test-${crypto.randomUUID()}`);
    const second = first.slice();
    second[CHUNK_SIZE + 5] = (second[CHUNK_SIZE + 5] ?? 0) ^ 0xff;
    const request = {
      ...memoryBackupRequest(second, ['restorer', 'restorer2']),
      escrow: await plan(2),
    };

    // Signed in nowhere else: one share of the two needed.
    const alone = new BackupRunner(request, () => undefined, inProcessRunnerDeps(db)).run();
    await expect(alone).rejects.toMatchObject({
      code: 'volume_move_short',
      params: { sharesReceived: 1, sharesNeeded: 2 },
    });

    const shareSites = async () => {
      const sites = await Promise.all(
        [osaka, sapporo].map(async (s) => ({
          siteId: s.site.info.siteId,
          name: s.name,
          fingerprint: s.fingerprint,
          site: siteAt({ url: s.url, token: await s.token('operator') }),
        })),
      );
      return (ids: readonly string[]) => sites.filter((s) => ids.includes(s.siteId));
    };
    const result = await new BackupRunner(
      request,
      () => undefined,
      inProcessRunnerDeps(db, { shareSites: await shareSites() }),
    ).run();
    expect(result.generation).toBe(2);
    const generations = (await siteVolume({ site: home.site }, TEST_VOLUME_ID))!.generations;
    const chunks = generations[1]!.manifest.index.chunks;
    // Same chunk IDs for the unchanged chunks: the rebuilt key is the volume's own.
    expect(chunks[0]!.chunkId).toBe(generations[0]!.manifest.index.chunks[0]!.chunkId);
    expect(chunks[2]!.chunkId).toBe(generations[0]!.manifest.index.chunks[2]!.chunkId);
    expect(chunks[1]!.chunkId).not.toBe(generations[0]!.manifest.index.chunks[1]!.chunkId);
    // Every handing-over is audited where it happened: the home site passed on its share twice.
    const moved = async (site: SiteServices) =>
      (await site.audit.all({ event: 'volume_moved' })).map((e) => e.actor);
    expect(await moved(home.site)).toEqual(['operator', 'operator']);
    expect(await moved(osaka.site)).toEqual(['operator']);
    expect(await moved(sapporo.site)).toEqual(['operator']);
  });
});
