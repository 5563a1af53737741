import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHUNK_SIZE, sha256Hex } from '@/core/crypto';
import { BackupDatabase } from '@/shared/storage/database';
import { closeKeyStore, getPendingDataKey, wipeAllKeys } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import type { SiteFaults } from '@/testing/site-faults';
import type { TestSite } from '@/testing/site';
import { BackupRunner, type BackupRequest, type RunnerDeps } from './backup-runner';
import {
  engineSite,
  inProcessRunnerDeps,
  memoryBackupRequest,
  patternBytes,
  siteVolume,
  TEST_VOLUME_ID,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';

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
  return memoryBackupRequest(bytes, ['restorer']);
}

beforeEach(async () => {
  db = new BackupDatabase(`drain-test-${crypto.randomUUID()}`);
  ({ site, faults } = await engineSite());
});

afterEach(async () => {
  db.close();
  await wipeAllKeys();
  await closeKeyStore();
});

describe('draining a stored backup without its image (RC-2)', () => {
  it('sends what the outbox kept once the site is back, and completes with a verified receipt', async () => {
    const bytes = patternBytes(3 * CHUNK + 99, 4);
    const local = new LocalCopy(db);
    const first = new BackupRunner(request(bytes), () => undefined, deps());
    // The site goes away after the last chunk; the tab closes while the commit waits.
    let away = false;
    faults.afterTransfer((seq) => {
      if (seq === 5) {
        away = true;
        site.outage(() => true);
      }
    });
    const interrupted = first.run();
    // Until the last chunk's acknowledgement has reached the browser too: the site may go
    // away before the browser has taken that chunk out of its outbox.
    for (;;) {
      const waiting = await local.outbox(VOLUME_ID, 1);
      if (away && waiting.length === 1 && waiting[0]!.kind === 'commit') break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    first.control.stop(new Error('the tab was closed'));
    await expect(interrupted).rejects.toThrow('the tab was closed');
    const record = (await local.getGeneration(VOLUME_ID, 1))!;
    expect(record.state).toBe('in-progress');
    expect((await local.outbox(VOLUME_ID, 1)).map((e) => e.kind)).toEqual(['commit']);
    expect((await siteVolume(site, VOLUME_ID))!.generations).toHaveLength(0);

    site.outage(undefined);
    faults.afterTransfer(undefined);
    const result = await BackupRunner.drain(record, () => undefined, deps()).run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));
    expect((await local.getGeneration(VOLUME_ID, 1))?.state).toBe('complete');
    expect(await local.outbox(VOLUME_ID, 1)).toEqual([]);
    expect(await getPendingDataKey(VOLUME_ID, 1)).toBeUndefined();
    expect((await siteVolume(site, VOLUME_ID))!.generations).toHaveLength(1);
  });

  it('refuses a backup whose image is not fully stored, or one already complete', async () => {
    await new BackupRunner(request(patternBytes(2 * CHUNK, 6)), () => undefined, deps()).run();
    const complete = (await new LocalCopy(db).getGeneration(VOLUME_ID, 1))!;
    const message = 'Only a fully stored backup can be sent without its image.';
    expect(() => BackupRunner.drain(complete, () => undefined, deps())).toThrow(message);
    const { manifest: _manifest, ...unsigned } = complete;
    expect(() =>
      BackupRunner.drain({ ...unsigned, state: 'in-progress' }, () => undefined, deps()),
    ).toThrow(message);
  });
});
