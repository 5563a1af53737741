import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PairSummary } from '@/core/contract';
import { manifestEpochs, sha256Hex } from '@/core/crypto';
import { paddedTransferSize } from '@/core/crypto/constants';
import { decodeTransfer } from '@/core/transfer/frame';
import { BackupDatabase } from '@/shared/storage/database';
import { closeKeyStore, wipeAllKeys } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import { FakeEscrowSite } from '@/testing/backup-fake-site';
import {
  BackupRunner,
  type BackupRequest,
  type RunnerDeps,
} from '@/features/backup/engine/backup-runner';
import {
  inProcessRunnerDeps,
  memoryBackupRequest,
  patternBytes,
  TEST_VOLUME_ID,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';
import { backlogOf, rekeyIdlePair } from './pair-rekey';

useSameRealmTextEncoder();

const CHUNK = 16 * 1024;
const VOLUME_ID = TEST_VOLUME_ID;

let db: BackupDatabase;
let site: FakeEscrowSite;

function deps(): RunnerDeps {
  return inProcessRunnerDeps(site, db, CHUNK);
}

function request(bytes: Uint8Array<ArrayBuffer>): BackupRequest {
  return memoryBackupRequest(bytes);
}

/** The pair as the site would summarise it, from the fake site's own records. */
function pairSummary(): PairSummary {
  const pair = [...site.pairs.values()][0]!;
  const epochs = [...site.volumes.get(VOLUME_ID)!.envelopes.keys()];
  return {
    pairId: pair.pairId,
    volumeId: VOLUME_ID,
    owner: 'operator',
    siteId: 'fake-site-0001',
    state: 'PAIR',
    group: 'in_step',
    unhealthyReason: null,
    copyPercent: 100,
    seqSent: pair.seqApplied,
    seqAcknowledged: pair.seqApplied,
    seqApplied: pair.seqApplied,
    pendingChunks: 0,
    pendingBytes: 0,
    lagSeconds: 0,
    bytesPerSecond: null,
    timeToSyncSeconds: 0,
    epochPrimary: null,
    epochSecondary: Math.max(...epochs),
    nextRotationAt: null,
    bytes: 0,
    lastTransferAt: null,
    lastError: null,
    lastHeartbeatAt: null,
    cutSeq: null,
    instructions: [],
    rotation: { everyBytes: 64 * 1024 ** 3, everyMs: 30 * 24 * 3600_000, siteDefault: true },
  };
}

beforeEach(async () => {
  db = new BackupDatabase(`rekey-test-${crypto.randomUUID()}`);
  site = await FakeEscrowSite.create({ chunkSize: CHUNK });
});

afterEach(async () => {
  db.close();
  await wipeAllKeys();
  await closeKeyStore();
});

describe('rekey now between two backups (RC-4)', () => {
  it('announces the next epoch with its own sequence number, and the next generation encrypts under it', async () => {
    const first = patternBytes(4 * CHUNK, 2);
    await new BackupRunner(request(first), () => undefined, deps()).run();
    const localDeps = { site, localCopy: new LocalCopy(db), userId: 'operator' };
    const applied = pairSummary().seqApplied;

    const epoch = await rekeyIdlePair(localDeps, pairSummary());
    expect(epoch).toBe(1);
    const pair = [...site.pairs.values()][0]!;
    expect(pair.seqApplied).toBe(applied + 1);
    const announcement = pair.transfers.get(applied + 1)!;
    expect(announcement.body.length).toBe(paddedTransferSize(CHUNK));
    expect(decodeTransfer(announcement.body, CHUNK).header).toEqual({
      kind: 'epoch-key',
      volumeId: VOLUME_ID,
      epoch: 1,
    });
    expect((await backlogOf(localDeps, VOLUME_ID))?.epoch).toBe(1);

    // The next generation changes one chunk: it goes under epoch 1, the rest stays under 0.
    const second = first.slice();
    second.fill(7, CHUNK, 2 * CHUNK);
    const result = await new BackupRunner(request(second), () => undefined, deps()).run();
    expect(result.imageSha256).toBe(await sha256Hex(second));
    const manifest = site.volumes.get(VOLUME_ID)!.generations[1]!.manifest;
    expect(manifestEpochs(manifest)).toEqual([0, 1]);
    // No second announcement of epoch 1, and no epoch 2.
    expect(site.counters.epochKeyTransfers).toBe(2);
    expect([...site.volumes.get(VOLUME_ID)!.envelopes.keys()].sort()).toEqual([0, 1]);
  });

  it('tells a browser without a copy of the volume that it is not the primary', async () => {
    expect(
      await backlogOf({ site, localCopy: new LocalCopy(db), userId: 'operator' }, VOLUME_ID),
    ).toBeNull();
  });
});
