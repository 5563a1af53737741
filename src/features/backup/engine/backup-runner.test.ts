import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KeyRelease } from '@/core/contract';
import {
  CHUNK_SIZE,
  decryptChunk,
  fromHex,
  importSigningPublicKeyJwk,
  openEnvelope,
  sha256Hex,
  verifyReceipt,
  type VolumeKeys,
} from '@/core/crypto';
import type { VolumeIdentity } from '@/core/volume';
import { BackupDatabase } from '@/shared/storage/database';
import { closeKeyStore, getPendingDataKey, wipeAllKeys } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import type { ImageFile } from '@/features/backup/worker/chunk-reader';
import { InProcessSealPool, type SealOutcome } from '@/features/backup/worker/seal-pool';
import { BackupCancelled } from './backup-control';
import { describeBackupError } from './backup-errors';
import { http, HttpResponse } from 'msw';
import { createBrowserSite } from '@/app/offline-site/browser-site';
import { enc, requestRelease } from '../../../../mock-server/test/support/backup-client';
import { server } from '@/testing/msw-server';
import { siteRepositories } from '@/testing/site-repositories';
import type { SiteFaults } from '@/testing/site-faults';
import type { TestSite } from '@/testing/site';
import { BackupRunner, type BackupRequest, type RunnerDeps } from './backup-runner';
import { liveSite } from './backup-site';
import {
  engineSite,
  memoryImageFile,
  patternBytes,
  siteVolume,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';

useSameRealmTextEncoder();
// Each backup sends padded 4 MiB transfers through the site's own rules: slower than a unit test.
vi.setConfig({ testTimeout: 60_000 });

const CHUNK = CHUNK_SIZE;
const policy = { kind: 'reusable', approvalRequired: false, expiresAt: null } as const;

const randomBytes = patternBytes;
const imageFile = (bytes: Uint8Array<ArrayBuffer>): ImageFile => memoryImageFile(bytes);

const identity = (volumeId = 'ext4:0123abcd-4567-489a-8bcd-ef0123456789'): VolumeIdentity => ({
  kind: 'ext4',
  volumeId,
  details: {},
});

/** A pool that counts what it seals, to prove finished chunks are not encrypted again. */
class CountingPool extends InProcessSealPool {
  sealed = 0;
  pending = 0;
  override async seal(plaintext: ArrayBuffer): Promise<SealOutcome> {
    this.pending += 1;
    try {
      const outcome = await super.seal(plaintext);
      if (outcome.kind === 'sealed') this.sealed += 1;
      return outcome;
    } finally {
      this.pending -= 1;
    }
  }
}

let db: BackupDatabase;
let site: TestSite;
let faults: SiteFaults;
let pools: CountingPool[];

function deps(overrides: Partial<RunnerDeps> = {}): RunnerDeps {
  return {
    site: liveSite,
    localCopy: new LocalCopy(db),
    createPool: (size) => {
      const pool = new CountingPool(size);
      pools.push(pool);
      return pool;
    },
    workers: 2,
    chunkSize: CHUNK,
    now: () => Date.now(),
    storage: undefined,
    locks: undefined,
    deviceLabel: 'test browser',
    ...overrides,
  };
}

function request(file: ImageFile, overrides: Partial<BackupRequest> = {}): BackupRequest {
  return {
    file,
    identity: identity(),
    userId: 'operator',
    restorers: ['restorer'],
    policy,
    ...overrides,
  };
}

function sealedCount(): number {
  return pools.reduce((sum, pool) => sum + pool.sealed, 0);
}

/**
 * Seals counted once a stopped run's chunks in flight have finished: a
 * stopped run does not wait for them, and they must not be counted as work
 * of the run that follows.
 */
async function sealedCountAfterStop(): Promise<number> {
  await vi.waitFor(() => expect(pools.every((pool) => pool.pending === 0)).toBe(true));
  return sealedCount();
}

/** The page's requests the site was asked, as "METHOD /path", that match `pattern`. */
function asked(pattern: RegExp): number {
  return site.requests().filter((r) => pattern.test(r)).length;
}
const CLAIMS = /^POST \/api\/volumes\/[^/]+\/claim$/;
const HEADS = /^HEAD \/api\/volumes\/[^/]+\/chunks\//;

/** What the site holds of a volume; fails when it holds none. */
async function held(volumeId = identity().volumeId) {
  const volume = await siteVolume(site, volumeId);
  if (!volume) throw new Error(`the site holds no volume ${volumeId}`);
  return volume;
}

beforeEach(async () => {
  db = new BackupDatabase(`backup-test-${crypto.randomUUID()}`);
  ({ site, faults } = await engineSite());
  pools = [];
});

afterEach(async () => {
  db.close();
  await wipeAllKeys();
  await closeKeyStore();
});

describe('backup runner (BK-6, BK-8, BK-10)', () => {
  it('backs up an image end to end and verifies the receipt', async () => {
    const bytes = randomBytes(2 * CHUNK + 1234);
    const runner = new BackupRunner(request(imageFile(bytes)), () => undefined, deps());
    const result = await runner.run();

    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect(result.size).toBe(bytes.length);
    expect(result.generation).toBe(1);
    const statement = await verifyReceipt(
      result.receipt,
      await importSigningPublicKeyJwk(site.site.info.signingKey.jwk),
    );
    expect(statement.volumeId).toBe(identity().volumeId);
    expect(statement.owner).toBe('operator');

    const volume = await held();
    expect(volume.generations).toHaveLength(1);
    expect(volume.generations[0]!.manifestHash).toBe(statement.manifestHash);
    expect([...volume.restorers].sort()).toEqual(['operator', 'restorer']);
    expect(volume.chunks).toHaveLength(3);

    const local = new LocalCopy(db);
    const generation = await local.getGeneration(identity().volumeId, 1);
    expect(generation?.state).toBe('complete');
    expect(await local.outbox(identity().volumeId, 1)).toEqual([]);
    expect((await local.receipt(identity().volumeId, 1))?.statement.manifestHash).toBe(
      statement.manifestHash,
    );
    // BK-8: the raw data key is gone once the site confirmed.
    expect(await getPendingDataKey(identity().volumeId, 1)).toBeUndefined();
  });

  it('numbers transfers 1, 2, 3 … with the epoch key first and the commit last (RC-2)', async () => {
    await new BackupRunner(
      request(imageFile(randomBytes(3 * CHUNK))),
      () => undefined,
      deps(),
    ).run();
    const transfers = [...faults.received()].sort((a, b) => a.seq - b.seq);
    expect(transfers.map((t) => t.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(transfers.map((t) => t.kind)).toEqual([
      'epoch-key',
      'chunk',
      'chunk',
      'chunk',
      'commit',
    ]);
    expect((await held()).pair?.seqApplied).toBe(5);
    expect(faults.sent('epoch-key')).toBe(1);
    expect(faults.sent('chunk')).toBe(3);
    expect(faults.sent('commit')).toBe(1);
  });

  it('sends a commit answered "buffered" again until the receipt comes back', async () => {
    faults.holdCommit(1_200);
    const bytes = randomBytes(2 * CHUNK, 31);
    const result = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect(faults.sent('commit')).toBe(1);
    expect(faults.received().length).toBeGreaterThan(4);
    const commits = faults.received().filter((t) => t.kind === 'commit');
    expect(commits[0]!.answer).toBe('buffered');
    expect(commits.at(-1)!.answer).toBe('applied');
  });

  it('sends a chunk that repeats in the image only once', async () => {
    const bytes = new Uint8Array(6 * CHUNK);
    bytes.set(randomBytes(CHUNK), 2 * CHUNK);
    const result = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect(faults.sent('chunk')).toBe(2);
    const { manifest } = (await held()).generations[0]!;
    expect(manifest.index.chunks).toHaveLength(6);
    expect(new Set(manifest.index.chunks.map((c) => c.chunkId)).size).toBe(2);
  });

  it('sends only the changed chunks in a second generation', async () => {
    const first = randomBytes(5 * CHUNK, 3);
    await new BackupRunner(request(imageFile(first)), () => undefined, deps()).run();
    const sentBefore = faults.sent('chunk');
    const sealedBefore = await sealedCountAfterStop();

    const second = first.slice();
    second.set(randomBytes(100, 9), 1 * CHUNK + 10);
    second.set(randomBytes(100, 10), 3 * CHUNK + 10);
    const result = await new BackupRunner(
      request(imageFile(second)),
      () => undefined,
      deps(),
    ).run();

    expect(result.generation).toBe(2);
    expect(result.imageSha256).toBe(await sha256Hex(second));
    expect(faults.sent('chunk') - sentBefore).toBe(2);
    expect(sealedCount() - sealedBefore).toBe(2);
    const { generations } = await held();
    expect(generations[1]!.manifest.index.previousManifestHash).toBe(generations[0]!.manifestHash);
  });

  it("continues the volume from the owner's other browser: the site hands over the chunk-ID key, the next generation is differential under a new epoch, and the move is audited", async () => {
    const first = randomBytes(5 * CHUNK, 3);
    await new BackupRunner(request(imageFile(first)), () => undefined, deps()).run();
    const sentBefore = faults.sent('chunk');

    // Another browser of the same operator: its own local copy and key store, nothing of the volume.
    await wipeAllKeys();
    db = new BackupDatabase(`backup-test-${crypto.randomUUID()}`);
    const second = first.slice();
    second.set(randomBytes(100, 9), 2 * CHUNK + 10);
    const result = await new BackupRunner(
      request(imageFile(second)),
      () => undefined,
      deps(),
    ).run();

    expect(result.generation).toBe(2);
    expect(result.imageSha256).toBe(await sha256Hex(second));
    expect(faults.sent('chunk') - sentBefore).toBe(1);
    const { generations } = await held();
    const epochs = generations.map((g) => g.manifest.sealed.epoch);
    expect(epochs[1]).toBeGreaterThan(epochs[0]!);
    // Four unchanged chunks stay under the first epoch's key; the changed one is under the new one.
    expect(generations[1]!.manifest.index.chunks.map((c) => c.epoch)).toEqual([
      epochs[0],
      epochs[0],
      epochs[1],
      epochs[0],
      epochs[0],
    ]);
    const moves = (await site.auditEntries()).filter((e) => e.event === 'volume_moved');
    expect(moves).toHaveLength(1);
    expect(moves[0]).toMatchObject({ actor: 'operator', volumeId: identity().volumeId });
    expect((await site.auditEntries()).some((e) => e.event === 'key_released')).toBe(false);
  });

  it('resumes after the tab went away without encrypting or sending finished work again (BK-7)', async () => {
    const bytes = randomBytes(8 * CHUNK + 77, 5);
    const first = new BackupRunner(request(imageFile(bytes)), () => undefined, deps());
    let puts = 0;
    faults.afterTransfer(() => {
      puts += 1;
      if (puts === 4) first.control.stop(new Error('the tab was closed'));
    });
    await expect(first.run()).rejects.toThrow('the tab was closed');
    faults.afterTransfer(undefined);
    // PUTs already sent when the tab went away are still being applied.
    await faults.idle();
    const local = new LocalCopy(db);
    const interrupted = await local.getGeneration(identity().volumeId, 1);
    expect(interrupted?.state).toBe('in-progress');
    const stored = interrupted!.nextPosition;
    const sealedBefore = await sealedCountAfterStop();
    const applied = (await held()).pair!.seqApplied;
    const putsBefore = faults.received().length;

    const result = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect(sealedCount() - sealedBefore).toBe(9 - stored);
    // Every transfer the site had applied stays applied; none is sent twice.
    const resent = faults.received().length - putsBefore;
    expect(resent).toBe(1 + 9 + 1 - applied);
    expect(faults.sent('chunk')).toBe(9);
  });

  it('waits while the site is unreachable and finishes when it is back', async () => {
    const bytes = randomBytes(6 * CHUNK, 7);
    const reachable: boolean[] = [];
    let away = false;
    const runner = new BackupRunner(
      request(imageFile(bytes)),
      (snapshot) => {
        reachable.push(snapshot.siteReachable);
        // The site comes back a while after the runner said it was away.
        if (away && !snapshot.siteReachable) {
          away = false;
          setTimeout(() => site.outage(undefined), 1_500);
        }
      },
      deps(),
    );
    faults.afterTransfer((seq) => {
      if (seq === 3) {
        away = true;
        site.outage(() => true);
      }
    });
    const result = await runner.run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect(reachable).toContain(false);
    expect(reachable[reachable.length - 1]).toBe(true);
  });

  it('rebuilds the stream when the site lost chunks before the commit', async () => {
    const bytes = randomBytes(4 * CHUNK, 11);
    const { volumeId } = identity();
    let cleared = false;
    faults.afterTransfer(async () => {
      // Once every chunk is there (the commit comes only after), the claim
      // outlives its time-to-live and the site forgets the chunks; the
      // operator's other browser claims the volume again before the commit.
      if (cleared || (await siteVolume(site, volumeId))?.chunks.length !== 4) return;
      cleared = true;
      await faults.expireClaim(volumeId);
      const other = await site.browser('operator');
      const claim = await other.request(
        'POST',
        `/api/volumes/${encodeURIComponent(volumeId)}/claim`,
        {
          json: { resume: false },
        },
      );
      if (claim.status !== 200) throw new Error(`claim refused: ${claim.text}`);
    });
    const result = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(cleared).toBe(true);
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    const commits = faults.received().filter((t) => t.kind === 'commit');
    expect(commits.map((t) => t.answer)).toEqual(['chunks_missing', 'applied']);
    expect(faults.sent('chunk')).toBe(8);
    expect((await held()).chunks).toHaveLength(4);
  });

  it('claims again when the site collected the claim before the commit, and sends what it lost', async () => {
    const bytes = randomBytes(4 * CHUNK, 12);
    const { volumeId } = identity();
    let expired = false;
    faults.afterTransfer(async () => {
      if (expired || (await siteVolume(site, volumeId))?.chunks.length !== 4) return;
      expired = true;
      await faults.expireClaim(volumeId);
    });
    const result = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(expired).toBe(true);
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    const commits = faults.received().filter((t) => t.kind === 'commit');
    // The claim answer cannot say which chunks the site forgot: the commit
    // after the new claim finds them missing and the stream is rebuilt.
    expect(commits.map((t) => t.answer)).toEqual(['pair_not_found', 'chunks_missing', 'applied']);
    // The first claim, the claim again, and the rebuild's.
    expect(asked(CLAIMS)).toBe(3);
    expect(faults.sent('chunk')).toBe(8);
    const volume = await held();
    expect(volume.chunks).toHaveLength(4);
    expect(volume.generations).toHaveLength(1);
  });

  it('sends a new chunk without asking, and asks (HEAD) only for what the site may hold', async () => {
    const bytes = randomBytes(6 * CHUNK, 37);
    await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(asked(HEADS)).toBe(0);

    // Cancel a second backup half-way: the site forgets the new volume, the local copy stays.
    const other = randomBytes(6 * CHUNK, 38);
    const otherVolume = identity('ext4:11111111-2222-4333-8444-555555555555');
    const cancelled = new BackupRunner(
      request(imageFile(other), { identity: otherVolume }),
      () => undefined,
      deps(),
    );
    faults.afterTransfer((seq) => {
      if (seq === 4) cancelled.cancel();
    });
    await expect(cancelled.run()).rejects.toBeInstanceOf(BackupCancelled);
    faults.afterTransfer(undefined);
    expect(await siteVolume(site, otherVolume.volumeId)).toBeUndefined();
    const sealedBefore = await sealedCountAfterStop();
    const storedBefore = (await new LocalCopy(db).getGeneration(otherVolume.volumeId, 1))!
      .nextPosition;

    const result = await new BackupRunner(
      request(imageFile(other), { identity: otherVolume }),
      () => undefined,
      deps(),
    ).run();
    expect(result.imageSha256).toBe(await sha256Hex(other));
    // The stream was rebuilt from the local copy: stored chunks were asked about, not re-encrypted.
    expect(asked(HEADS)).toBe(storedBefore);
    expect(sealedCount() - sealedBefore).toBe(6 - storedBefore);
  });

  it('refuses another operator’s volume and the site raises an alert (BK-3)', async () => {
    await site.signIn('operator2');
    await new BackupRunner(
      request(imageFile(randomBytes(2 * CHUNK)), { userId: 'operator2' }),
      () => undefined,
      deps(),
    ).run();
    await site.signIn('operator');
    const error = await new BackupRunner(
      request(imageFile(randomBytes(2 * CHUNK, 2))),
      () => undefined,
      deps(),
    )
      .run()
      .catch((e: unknown) => e);
    expect(describeBackupError(error).code).toBe('registered_to_another_operator');
    const alerts = await site.site.alerts.all({});
    expect(alerts.map(({ kind, userId, volumeId }) => ({ kind, userId, volumeId }))).toEqual([
      { kind: 'overwrite_attempt', userId: 'operator', volumeId: identity().volumeId },
    ]);
  });

  it('stops when the site’s escrow key differs from the one pinned', async () => {
    await new BackupRunner(
      request(imageFile(randomBytes(CHUNK)), { identity: identity('ext4:aaaa') }),
      () => undefined,
      deps(),
    ).run();
    // The site now describes itself with another escrow key (that of a fresh site).
    const other = await createBrowserSite({
      repositories: await siteRepositories(),
      demoAccounts: false,
    });
    server.use(
      http.get('*/api/site', () =>
        HttpResponse.json({ ...site.site.info, escrowKey: other.site.info.escrowKey }),
      ),
    );
    const claims = asked(CLAIMS);
    const error = await new BackupRunner(
      request(imageFile(randomBytes(CHUNK, 4))),
      () => undefined,
      deps(),
    )
      .run()
      .catch((e: unknown) => e);
    expect(describeBackupError(error).code).toBe('site_key_changed');
    expect(asked(CLAIMS)).toBe(claims);
  });

  it('stops before claiming when the browser has too little storage (BK-11)', async () => {
    const storage = {
      estimate: async () => ({ quota: 10 * 1024 * 1024, usage: 9 * 1024 * 1024 }),
      persist: async () => true,
    } as unknown as StorageManager;
    const error = await new BackupRunner(
      request(imageFile(randomBytes(4 * CHUNK))),
      () => undefined,
      deps({ storage }),
    )
      .run()
      .catch((e: unknown) => e);
    expect(describeBackupError(error)).toMatchObject({ code: 'quota_insufficient' });
    expect(asked(CLAIMS)).toBe(0);
  });

  it('keeps what it stored when the quota runs out mid-way, then resumes (BK-11)', async () => {
    class FullDisk extends LocalCopy {
      batches = 0;
      override async saveBatch(...args: Parameters<LocalCopy['saveBatch']>): Promise<void> {
        if (++this.batches > 2)
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return super.saveBatch(...args);
      }
    }
    const bytes = randomBytes(10 * CHUNK, 13);
    const error = await new BackupRunner(
      request(imageFile(bytes)),
      () => undefined,
      deps({ localCopy: new FullDisk(db) }),
    )
      .run()
      .catch((e: unknown) => e);
    expect(describeBackupError(error).code).toBe('quota_exceeded');
    const stored = (await new LocalCopy(db).getGeneration(identity().volumeId, 1))!.nextPosition;
    expect(stored).toBeGreaterThan(0);

    const result = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
  });

  it('says when the file changed while it was being read', async () => {
    const bytes = randomBytes(4 * CHUNK, 17);
    const file = imageFile(bytes);
    const changing: ImageFile = {
      name: file.name,
      size: file.size,
      lastModified: file.lastModified,
      slice: (start, end) =>
        start >= 2 * CHUNK
          ? {
              arrayBuffer: () =>
                Promise.reject(new DOMException('The file changed.', 'NotReadableError')),
            }
          : file.slice(start, end),
    };
    const error = await new BackupRunner(request(changing), () => undefined, deps())
      .run()
      .catch((e: unknown) => e);
    expect(describeBackupError(error).code).toBe('image_changed');
  });

  it('refuses a different file offered to resume an interrupted backup', async () => {
    const bytes = randomBytes(4 * CHUNK, 19);
    const first = new BackupRunner(request(imageFile(bytes)), () => undefined, deps());
    faults.afterTransfer((seq) => {
      if (seq === 3) first.control.stop(new Error('reload'));
    });
    await expect(first.run()).rejects.toThrow('reload');
    faults.afterTransfer(undefined);
    const error = await new BackupRunner(
      request(imageFile(randomBytes(4 * CHUNK, 20))),
      () => undefined,
      deps(),
    )
      .run()
      .catch((e: unknown) => e);
    expect(describeBackupError(error).code).toBe('image_mismatch');
  });

  it('refuses empty and too-small files', async () => {
    for (const [size, code] of [
      [0, 'image_empty'],
      [100, 'image_too_small'],
    ] as const) {
      const error = await new BackupRunner(
        request(imageFile(randomBytes(size))),
        () => undefined,
        deps(),
      )
        .run()
        .catch((e: unknown) => e);
      expect(describeBackupError(error).code).toBe(code);
    }
  });

  it('says so when the site will not hand a cleared browser the volume’s key, and sends nothing', async () => {
    const bytes = randomBytes(2 * CHUNK, 23);
    await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    await wipeAllKeys();
    const sentBefore = faults.sent('chunk');
    server.use(
      http.post('*/api/volumes/:volumeId/move', () =>
        HttpResponse.json(
          {
            code: 'device_not_registered',
            message: 'This browser’s device key is not registered.',
          },
          { status: 403 },
        ),
      ),
    );
    const error = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps())
      .run()
      .catch((e: unknown) => e);
    expect(describeBackupError(error)).toMatchObject({
      code: 'transfer_refused',
      siteMessage: 'This browser’s device key is not registered.',
    });
    expect(faults.sent('chunk')).toBe(sentBefore);
  });

  it('gives the claim back on Cancel', async () => {
    const runner = new BackupRunner(
      request(imageFile(randomBytes(5 * CHUNK, 29))),
      () => undefined,
      deps(),
    );
    faults.afterTransfer((seq) => {
      if (seq === 2) runner.cancel();
    });
    await expect(runner.run()).rejects.toBeInstanceOf(BackupCancelled);
    expect(await siteVolume(site, identity().volumeId)).toBeUndefined();
  });

  it('lets only one backup run per browser (Web Locks)', async () => {
    const locks = {
      request: async (
        _name: string,
        _options: LockOptions,
        callback: (lock: Lock | null) => Promise<unknown>,
      ) => callback(null),
    } as unknown as LockManager;
    const error = await new BackupRunner(
      request(imageFile(randomBytes(CHUNK))),
      () => undefined,
      deps({ locks }),
    )
      .run()
      .catch((e: unknown) => e);
    expect(describeBackupError(error).code).toBe('already_running');
  });
});

describe('retiring released keys (ES-5)', () => {
  const oneTime = { kind: 'one-time', approvalRequired: false, expiresAt: null } as const;
  const volumeId = identity().volumeId;

  /** The restorer's one-time release of generation 1: the keys they hold from now on. */
  async function releasedToRestorer(): Promise<VolumeKeys> {
    const restorer = await site.browser('restorer');
    const { answer, pair } = await requestRelease(restorer, volumeId, 1);
    expect(answer.status, answer.text).toBe(200);
    const release = answer.json as KeyRelease;
    if (release.state !== 'released') throw new Error(`the release is ${release.state}`);
    return (
      await openEnvelope(release.envelope, pair.privateKey, {
        purpose: 'release',
        volumeId,
        generation: 1,
      })
    ).keys;
  }

  /** How many chunks of generation 2, as the restorer downloads them, the released keys open. */
  async function openedWith(keys: VolumeKeys): Promise<number> {
    const restorer = await site.browser('restorer');
    const { generations } = await held();
    let opened = 0;
    for (const entry of generations[1]!.manifest.index.chunks) {
      const blob = await restorer.request(
        'GET',
        `/api/volumes/${enc(volumeId)}/chunks/${entry.chunkId}`,
      );
      expect(blob.status).toBe(200);
      for (const dataKey of keys.dataKeys.values()) {
        const plain = await decryptChunk(new Uint8Array(blob.body), {
          volumeId,
          chunkId: fromHex(entry.chunkId),
          epoch: entry.epoch,
          dataKey,
          chunkIdKey: keys.chunkIdKey,
        }).catch(() => null);
        if (plain) opened += 1;
      }
    }
    return opened;
  }

  async function twoGenerations(retire: boolean): Promise<VolumeKeys> {
    const first = randomBytes(4 * CHUNK, 3);
    await new BackupRunner(
      request(imageFile(first), { policy: oneTime }),
      () => undefined,
      deps(),
    ).run();
    const released = await releasedToRestorer();
    const sentBefore = faults.sent('chunk');
    const second = first.slice();
    second.set(randomBytes(100, 9), 2 * CHUNK + 10);
    const result = await new BackupRunner(
      request(imageFile(second), {
        policy: oneTime,
        ...(retire ? { retireKeys: { releases: 1 } } : {}),
      }),
      () => undefined,
      deps(),
    ).run();
    expect(result.generation).toBe(2);
    expect(result.imageSha256).toBe(await sha256Hex(second));
    // Retiring seals and sends every chunk again; otherwise only the changed one goes.
    expect(faults.sent('chunk') - sentBefore).toBe(retire ? 4 : 1);
    return released;
  }

  it('after a one-time release, the next generation sealed anew: the released keys open none of its chunks', async () => {
    const released = await twoGenerations(true);
    expect(await openedWith(released)).toBe(0);
    const { generations } = await held();
    const before = new Set(generations[0]!.manifest.index.chunks.map((c) => c.chunkId));
    expect(generations[1]!.manifest.index.chunks.some((c) => before.has(c.chunkId))).toBe(false);
    // The owner's next backup goes on under the new keys: only what changed is sent.
    const sentBefore = faults.sent('chunk');
    const third = randomBytes(4 * CHUNK, 3);
    third.set(randomBytes(100, 9), 2 * CHUNK + 10);
    third.set(randomBytes(100, 11), 10);
    await new BackupRunner(
      request(imageFile(third), { policy: oneTime }),
      () => undefined,
      deps(),
    ).run();
    expect(faults.sent('chunk') - sentBefore).toBe(1);
  });

  it('without retiring, the unchanged chunks of the next generation stay open to the released keys', async () => {
    const released = await twoGenerations(false);
    expect(await openedWith(released)).toBe(3);
  });
});
