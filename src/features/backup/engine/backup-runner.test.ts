import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  generateEnvelopeKeyPair,
  importSigningPublicKeyJwk,
  publicKeyFingerprint,
  sha256Hex,
  verifyReceipt,
} from '@/core/crypto';
import type { VolumeIdentity } from '@/core/volume';
import { BackupDatabase } from '@/shared/storage/database';
import { closeKeyStore, getPendingDataKey, wipeAllKeys } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import type { ImageFile } from '@/features/backup/worker/chunk-reader';
import { InProcessSealPool, type SealOutcome } from '@/features/backup/worker/seal-pool';
import { BackupCancelled } from './backup-control';
import { describeBackupError } from './backup-errors';
import { FakeEscrowSite } from '@/testing/backup-fake-site';
import { BackupRunner, type BackupRequest, type RunnerDeps } from './backup-runner';
import {
  memoryImageFile,
  patternBytes,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';

useSameRealmTextEncoder();

const CHUNK = 64 * 1024;
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
let site: FakeEscrowSite;
let pools: CountingPool[];

function deps(overrides: Partial<RunnerDeps> = {}): RunnerDeps {
  return {
    site,
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

beforeEach(async () => {
  db = new BackupDatabase(`backup-test-${crypto.randomUUID()}`);
  site = await FakeEscrowSite.create({ chunkSize: CHUNK });
  pools = [];
});

afterEach(async () => {
  db.close();
  await wipeAllKeys();
  await closeKeyStore();
});

describe('backup runner (BK-6, BK-8, BK-10)', () => {
  it('backs up an image end to end and verifies the receipt', async () => {
    const bytes = randomBytes(5 * CHUNK + 1234);
    const runner = new BackupRunner(request(imageFile(bytes)), () => undefined, deps());
    const result = await runner.run();

    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect(result.size).toBe(bytes.length);
    expect(result.generation).toBe(1);
    const info = await site.siteInfo();
    const statement = await verifyReceipt(
      result.receipt,
      await importSigningPublicKeyJwk(info.signingKey.jwk),
    );
    expect(statement.volumeId).toBe(identity().volumeId);
    expect(statement.owner).toBe('operator');

    const volume = site.volumes.get(identity().volumeId)!;
    expect(volume.generations).toHaveLength(1);
    expect(volume.generations[0]!.restorers).toEqual(['operator', 'restorer']);
    expect(volume.chunks.size).toBe(6);

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
    const pair = [...site.pairs.values()][0]!;
    const seqs = [...pair.transfers.keys()].sort((a, b) => a - b);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(pair.seqApplied).toBe(5);
    expect(site.counters.epochKeyTransfers).toBe(1);
    expect(site.counters.chunkTransfers).toBe(3);
    expect(site.counters.commits).toBe(1);
  });

  it('sends a commit answered "buffered" again until the receipt comes back', async () => {
    site.holdCommitMs = 1_200;
    const bytes = randomBytes(2 * CHUNK, 31);
    const result = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect(site.counters.commits).toBe(1);
    expect(site.counters.puts).toBeGreaterThan(4);
  });

  it('sends a chunk that repeats in the image only once', async () => {
    const bytes = new Uint8Array(6 * CHUNK);
    bytes.set(randomBytes(CHUNK), 2 * CHUNK);
    const result = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect(site.counters.chunkTransfers).toBe(2);
    const manifest = site.volumes.get(identity().volumeId)!.generations[0]!.manifest;
    expect(manifest.index.chunks).toHaveLength(6);
    expect(new Set(manifest.index.chunks.map((c) => c.chunkId)).size).toBe(2);
  });

  it('sends only the changed chunks in a second generation', async () => {
    const first = randomBytes(8 * CHUNK, 3);
    await new BackupRunner(request(imageFile(first)), () => undefined, deps()).run();
    const sentBefore = site.counters.chunkTransfers;
    const sealedBefore = await sealedCountAfterStop();

    const second = first.slice();
    second.set(randomBytes(100, 9), 2 * CHUNK + 10);
    second.set(randomBytes(100, 10), 6 * CHUNK + 10);
    const result = await new BackupRunner(
      request(imageFile(second)),
      () => undefined,
      deps(),
    ).run();

    expect(result.generation).toBe(2);
    expect(result.imageSha256).toBe(await sha256Hex(second));
    expect(site.counters.chunkTransfers - sentBefore).toBe(2);
    expect(sealedCount() - sealedBefore).toBe(2);
    const generations = site.volumes.get(identity().volumeId)!.generations;
    expect(generations[1]!.manifest.index.previousManifestHash).toBe(generations[0]!.hash);
  });

  it('resumes after the tab went away without encrypting or sending finished work again (BK-7)', async () => {
    const bytes = randomBytes(12 * CHUNK + 77, 5);
    const first = new BackupRunner(request(imageFile(bytes)), () => undefined, deps());
    let puts = 0;
    site.onTransfer = () => {
      puts += 1;
      if (puts === 6) first.control.stop(new Error('the tab was closed'));
    };
    await expect(first.run()).rejects.toThrow('the tab was closed');
    site.onTransfer = undefined;
    const local = new LocalCopy(db);
    const interrupted = await local.getGeneration(identity().volumeId, 1);
    expect(interrupted?.state).toBe('in-progress');
    const stored = interrupted!.nextPosition;
    const sealedBefore = await sealedCountAfterStop();
    const applied = [...site.pairs.values()][0]!.seqApplied;
    const putsBefore = site.counters.puts;

    const result = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect(sealedCount() - sealedBefore).toBe(13 - stored);
    // Every transfer the site had applied stays applied; none is sent twice.
    const resent = site.counters.puts - putsBefore;
    expect(resent).toBe(1 + 13 + 1 - applied);
    expect(site.counters.chunkTransfers).toBe(13);
  });

  it('waits while the site is unreachable and finishes when it is back', async () => {
    const bytes = randomBytes(6 * CHUNK, 7);
    const reachable: boolean[] = [];
    const runner = new BackupRunner(
      request(imageFile(bytes)),
      (snapshot) => reachable.push(snapshot.siteReachable),
      deps(),
    );
    site.onTransfer = (seq) => {
      if (seq === 3) {
        site.online = false;
        setTimeout(() => {
          site.online = true;
        }, 1_500);
      }
    };
    const result = await runner.run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect(reachable).toContain(false);
    expect(reachable[reachable.length - 1]).toBe(true);
  }, 20_000);

  it('rebuilds the stream when the site lost chunks before the commit', async () => {
    const bytes = randomBytes(4 * CHUNK, 11);
    let cleared = false;
    site.onTransfer = () => {
      // Once every chunk is there (the commit comes only after), the site loses them.
      const stored = site.volumes.get(identity().volumeId)?.chunks;
      if (stored?.size === 4 && !cleared) {
        cleared = true;
        stored.clear();
      }
    };
    const result = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect(site.counters.chunkTransfers).toBe(8);
  });

  it('sends a new chunk without asking, and asks (HEAD) only for what the site may hold', async () => {
    const bytes = randomBytes(6 * CHUNK, 37);
    await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    expect(site.counters.heads).toBe(0);

    // Cancel a second backup half-way: the site forgets the new volume, the local copy stays.
    const other = randomBytes(6 * CHUNK, 38);
    const otherVolume = identity('ext4:11111111-2222-4333-8444-555555555555');
    const cancelled = new BackupRunner(
      request(imageFile(other), { identity: otherVolume }),
      () => undefined,
      deps(),
    );
    site.onTransfer = (seq) => {
      if (seq === 4) cancelled.cancel();
    };
    await expect(cancelled.run()).rejects.toBeInstanceOf(BackupCancelled);
    site.onTransfer = undefined;
    expect(site.volumes.has(otherVolume.volumeId)).toBe(false);
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
    expect(site.counters.heads).toBe(storedBefore);
    expect(sealedCount() - sealedBefore).toBe(6 - storedBefore);
  });

  it('refuses another operator’s volume and the site raises an alert (BK-3)', async () => {
    site.user = 'operator2';
    await new BackupRunner(
      request(imageFile(randomBytes(2 * CHUNK)), { userId: 'operator2' }),
      () => undefined,
      deps(),
    ).run();
    site.user = 'operator';
    const error = await new BackupRunner(
      request(imageFile(randomBytes(2 * CHUNK, 2))),
      () => undefined,
      deps(),
    )
      .run()
      .catch((e: unknown) => e);
    expect(describeBackupError(error).code).toBe('registered_to_another_operator');
    expect(site.alerts).toEqual([
      { kind: 'overwrite_attempt', userId: 'operator', volumeId: identity().volumeId },
    ]);
  });

  it('stops when the site’s escrow key differs from the one pinned', async () => {
    await new BackupRunner(
      request(imageFile(randomBytes(CHUNK)), { identity: identity('ext4:aaaa') }),
      () => undefined,
      deps(),
    ).run();
    const other = await generateEnvelopeKeyPair();
    const jwk = await crypto.subtle.exportKey('jwk', other.publicKey);
    site.replaceInfo({
      escrowKey: {
        jwk: { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! },
        fingerprint: await publicKeyFingerprint(other.publicKey),
      },
    });
    const claims = site.counters.claims;
    const error = await new BackupRunner(
      request(imageFile(randomBytes(CHUNK, 4))),
      () => undefined,
      deps(),
    )
      .run()
      .catch((e: unknown) => e);
    expect(describeBackupError(error).code).toBe('site_key_changed');
    expect(site.counters.claims).toBe(claims);
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
    expect(site.counters.claims).toBe(0);
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
    const bytes = randomBytes(20 * CHUNK, 13);
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
    const bytes = randomBytes(6 * CHUNK, 17);
    const file = imageFile(bytes);
    const changing: ImageFile = {
      name: file.name,
      size: file.size,
      lastModified: file.lastModified,
      slice: (start, end) =>
        start >= 3 * CHUNK
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
    const bytes = randomBytes(6 * CHUNK, 19);
    const first = new BackupRunner(request(imageFile(bytes)), () => undefined, deps());
    site.onTransfer = (seq) => {
      if (seq === 3) first.control.stop(new Error('reload'));
    };
    await expect(first.run()).rejects.toThrow('reload');
    site.onTransfer = undefined;
    const error = await new BackupRunner(
      request(imageFile(randomBytes(6 * CHUNK, 20))),
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

  it('needs the volume’s chunk-ID key for a new generation', async () => {
    const bytes = randomBytes(2 * CHUNK, 23);
    await new BackupRunner(request(imageFile(bytes)), () => undefined, deps()).run();
    await wipeAllKeys();
    const error = await new BackupRunner(request(imageFile(bytes)), () => undefined, deps())
      .run()
      .catch((e: unknown) => e);
    expect(describeBackupError(error).code).toBe('chunk_id_key_missing');
  });

  it('gives the claim back on Cancel', async () => {
    const runner = new BackupRunner(
      request(imageFile(randomBytes(10 * CHUNK, 29))),
      () => undefined,
      deps(),
    );
    site.onTransfer = (seq) => {
      if (seq === 2) runner.cancel();
    };
    await expect(runner.run()).rejects.toBeInstanceOf(BackupCancelled);
    expect(site.volumes.has(identity().volumeId)).toBe(false);
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
