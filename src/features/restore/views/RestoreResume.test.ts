import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { listRestores } from '@/shared/storage/restore-progress';
import { useRestoreStore } from '@/features/restore/stores/restore';
import { setRestoreRuntime } from '@/features/restore/engine/restore-runtime';
import { MemoryRestoreRuntime, testBackup } from '@/testing/restore-test-support';
import { useSameRealmTextEncoder } from '@/testing/backup-test-support';
import { testSite, type TestSite } from '@/testing/site';
import { mountConsole, unmountAll } from '@/testing/mount-console';
import {
  FAST_RETRY,
  buttonIn,
  clickMenuItem,
  damageLocalChunk,
  dropLocalChunk,
  resetBrowserStorage,
  rowOf,
  seedLocalCopy,
  statusText,
} from '@/testing/restore-view-support';

useSameRealmTextEncoder();

const VOLUME = 'ext4:7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

let runtime: MemoryRestoreRuntime;
let site: TestSite;

async function open(userId: string) {
  const mounted = await mountConsole('/restore', { signedInAs: userId });
  const store = useRestoreStore(mounted.pinia);
  store.setRetryPolicy(FAST_RETRY);
  await until(() => expect(document.querySelector('table')).not.toBeNull());
  // The site's list has arrived (or failed): the rows are the ones a person would see.
  await until(() => expect(['ready', 'failed']).toContain(store.listState));
  return mounted;
}

const chunkFetches = (chunkId: string): number =>
  site.requests().filter((r) => r === `GET /api/volumes/${VOLUME}/chunks/${chunkId}`).length;
const keyRequests = (): string[] => site.requests().filter((r) => r.includes('key-release'));

beforeEach(async () => {
  runtime = new MemoryRestoreRuntime();
  setRestoreRuntime(runtime);
  site = await testSite();
});

afterEach(async () => {
  vi.restoreAllMocks();
  setRestoreRuntime(undefined);
  await resetBrowserStorage();
});

describe('an interrupted restore resumes (RS-6)', { timeout: 30_000 }, () => {
  it('after a crash mid-restore, reopening the screen continues from what was verified', async () => {
    const backup = await testBackup(VOLUME, { length: 8 * 1024 + 10 });
    await site.commit('operator', backup, { restorers: ['restorer'] });
    runtime.writesBeforePowerCut = 3;
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('stopped unexpectedly (power cut)'));
    const [record] = await listRestores('restorer');
    expect(record?.progress?.nextPosition).toBe(3);
    expect(record?.manifest?.index.volumeId).toBe(VOLUME);

    // The page is reloaded: a new console, the same browser storage.
    unmountAll();
    runtime.writesBeforePowerCut = Infinity;
    await open('restorer');
    await until(() => expect(statusText()).toContain('Restore complete'));
    expect(statusText()).toContain(backup.secret.imageSha256);
    expect(await runtime.sha256Of(record!.restoreId)).toBe(backup.secret.imageSha256);
    // Chunks verified before the crash were not fetched again, and no second key release was made.
    for (const entry of backup.manifest.index.chunks.slice(0, 3)) {
      expect(chunkFetches(entry.chunkId)).toBe(1);
    }
    expect(keyRequests()).toHaveLength(1);
  });

  it('a second tab does not write the same image at once', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    const locks = { request: vi.fn(async (_name, _options, work) => work(null)) };
    vi.stubGlobal('navigator', { ...navigator, locks });
    try {
      await open('restorer');
      buttonIn(rowOf(VOLUME)!, 'Restore').click();
      await until(() => expect(statusText()).toContain('running in another tab'));
      expect(locks.request).toHaveBeenCalledWith(
        expect.stringMatching(/^custodian-restore:/),
        { ifAvailable: true },
        expect.any(Function),
      );
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('the local copy first, then the site (RS-4)', { timeout: 30_000 }, () => {
  it('restores from the local copy while the site has lost the chunks', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup);
    await seedLocalCopy('operator', backup);
    for (const entry of backup.manifest.index.chunks) await site.loseChunk(VOLUME, entry.chunkId);
    await open('operator');
    expect(rowOf(VOLUME)!.textContent).toContain('This device');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('Restore complete'));
    const chunks = backup.manifest.index.chunks.length;
    expect(statusText()).toContain(`Chunks from this device: ${chunks}; from the site: 0.`);
    expect(site.requests().some((r) => r.includes('/chunks/'))).toBe(false);
    // The signed index comes from the local copy too: the site is asked for the keys alone.
    expect(site.requests().filter((r) => r.includes('/api/volumes/'))).toEqual([
      `POST /api/volumes/${VOLUME}/key-release`,
    ]);
  });

  it('with the keys released, goes on from the local copy while the site is down', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup);
    await seedLocalCopy('operator', backup);
    await open('operator');
    // The site goes away once it has answered the key request.
    let released = false;
    site.outage((request) => {
      if (released) return true;
      released = request.url.endsWith('/key-release');
      return false;
    });
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('Restore complete'));
    expect(await runtime.sha256Of(runtime.downloads[0]!.restoreId)).toBe(backup.secret.imageSha256);
    expect(site.requests().filter((r) => r.includes('/api/volumes/'))).toEqual([
      `POST /api/volumes/${VOLUME}/key-release`,
    ]);
  });

  it('reads a chunk whose local copy is damaged from the site instead, and says so', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup);
    await seedLocalCopy('operator', backup);
    const damaged = backup.manifest.index.chunks[2]!.chunkId;
    await damageLocalChunk(VOLUME, damaged);
    await open('operator');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('Restore complete'));
    expect(statusText()).toContain('The local copy of 1 chunk did not match the signed index');
    expect(chunkFetches(damaged)).toBe(1);
  });

  it('"from this device only" stops at a chunk the local copy lacks; Continue reads it from the site', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup);
    await seedLocalCopy('operator', backup);
    await dropLocalChunk(VOLUME, backup.manifest.index.chunks[4]!.chunkId);
    await open('operator');
    buttonIn(rowOf(VOLUME)!, 'Options').click();
    await until(() => expect(document.querySelector('[role="menuitem"]')).not.toBeNull());
    clickMenuItem(/local copy only/);
    await until(() =>
      expect(statusText()).toContain('The local copy on this device does not hold chunk 4'),
    );
    expect(
      (await site.auditEntries()).filter((e) => e.event === 'integrity_failure_reported'),
    ).toEqual([]);
    buttonIn(document.body, 'Continue').click();
    await until(() => expect(statusText()).toContain('Restore complete'));
    expect(statusText()).toContain(backup.secret.imageSha256);
  });
});
