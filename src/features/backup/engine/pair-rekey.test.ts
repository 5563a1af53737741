import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PairSummary } from '@/core/contract';
import { CHUNK_SIZE, manifestEpochs, sha256Hex } from '@/core/crypto';
import { paddedTransferSize } from '@/core/crypto/constants';
import { BackupDatabase } from '@/shared/storage/database';
import { closeKeyStore, wipeAllKeys } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import type { SiteFaults } from '@/testing/site-faults';
import type { TestSite } from '@/testing/site';
import { liveSite } from '@/features/backup/engine/backup-site';
import {
  BackupRunner,
  type BackupRequest,
  type RunnerDeps,
} from '@/features/backup/engine/backup-runner';
import {
  engineSite,
  inProcessRunnerDeps,
  memoryBackupRequest,
  patternBytes,
  siteVolume,
  TEST_VOLUME_ID,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';
import { backlogOf, rekeyIdlePair } from './pair-rekey';

useSameRealmTextEncoder();

const CHUNK = CHUNK_SIZE;
const VOLUME_ID = TEST_VOLUME_ID;

let db: BackupDatabase;
let site: TestSite;
let faults: SiteFaults;

function deps(): RunnerDeps {
  return inProcessRunnerDeps(db);
}

function request(bytes: Uint8Array<ArrayBuffer>): BackupRequest {
  return memoryBackupRequest(bytes);
}

/** The pair as the site summarises it to its owner (GET /api/pairs/mine). */
async function pairSummary(): Promise<PairSummary> {
  const [pair] = await site.site.pairs.mine(await site.caller('operator'));
  if (!pair) throw new Error('the site has no pair of the operator');
  return pair;
}

/** What the site holds of the test volume. */
async function held() {
  const volume = await siteVolume(site, VOLUME_ID);
  if (!volume) throw new Error(`the site holds no volume ${VOLUME_ID}`);
  return volume;
}

beforeEach(async () => {
  db = new BackupDatabase(`rekey-test-${crypto.randomUUID()}`);
  ({ site, faults } = await engineSite());
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
    const localDeps = { site: liveSite, localCopy: new LocalCopy(db), userId: 'operator' };
    const applied = (await pairSummary()).seqApplied;

    const epoch = await rekeyIdlePair(localDeps, await pairSummary());
    expect(epoch).toBe(1);
    expect((await pairSummary()).seqApplied).toBe(applied + 1);
    const announcement = faults.received().find((t) => t.seq === applied + 1)!;
    expect(announcement.size).toBe(paddedTransferSize(CHUNK));
    expect(announcement).toMatchObject({
      kind: 'epoch-key',
      volumeId: VOLUME_ID,
      epoch: 1,
      answer: 'applied',
    });
    expect((await backlogOf(localDeps, VOLUME_ID))?.epoch).toBe(1);

    // The next generation changes one chunk: it goes under epoch 1, the rest stays under 0.
    const second = first.slice();
    second.fill(7, CHUNK, 2 * CHUNK);
    const result = await new BackupRunner(request(second), () => undefined, deps()).run();
    expect(result.imageSha256).toBe(await sha256Hex(second));
    const { manifest } = (await held()).generations[1]!;
    expect(manifestEpochs(manifest)).toEqual([0, 1]);
    // No second announcement of epoch 1, and no epoch 2.
    expect(faults.sent('epoch-key')).toBe(2);
    expect((await held()).epochs).toEqual([0, 1]);
  });

  it('tells a browser without a copy of the volume that it is not the primary', async () => {
    expect(
      await backlogOf(
        { site: liveSite, localCopy: new LocalCopy(db), userId: 'operator' },
        VOLUME_ID,
      ),
    ).toBeNull();
  });
});
