import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getCoverage } from '@/shared/storage/restore-progress';
import { useRestoreStore } from '@/features/restore/stores/restore';
import { setRestoreRuntime } from '@/features/restore/engine/restore-runtime';
import { MemoryRestoreRuntime, testBackup } from '@/testing/restore-test-support';
import { useSameRealmTextEncoder } from '@/testing/backup-test-support';
import { testSite, type TestSite } from '@/testing/site';
import { mountConsole } from '@/testing/mount-console';
import {
  FAST_RETRY,
  buttonIn,
  damageLocalChunk,
  resetBrowserStorage,
  rowOf,
  seedLocalCopy,
} from '@/testing/restore-view-support';

useSameRealmTextEncoder();

const VOLUME = 'fat:1A2B-3C4D:BACKUPS';
const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

const verifyText = (): string =>
  (
    document.querySelector('[role="region"][aria-label="Verify results"]')?.textContent ?? ''
  ).replace(/\s+/g, ' ');
const verifyProgress = (): string | null =>
  document
    .querySelector('[role="progressbar"][aria-label="Verify progress"]')
    ?.getAttribute('aria-valuenow') ?? null;

let site: TestSite;

/** The integrity reports the site received (RS-5), as its audit log keeps them. */
async function integrityReports(): Promise<unknown[]> {
  return (await site.auditEntries())
    .filter((entry) => entry.event === 'integrity_failure_reported')
    .map((entry) => entry.details);
}

async function open(userId: string) {
  const mounted = await mountConsole('/restore', { signedInAs: userId });
  useRestoreStore(mounted.pinia).setRetryPolicy(FAST_RETRY);
  await until(() => expect(rowOf(VOLUME)).not.toBeNull());
  return mounted;
}

beforeEach(async () => {
  setRestoreRuntime(new MemoryRestoreRuntime());
  site = await testSite();
});

afterEach(async () => {
  vi.restoreAllMocks();
  setRestoreRuntime(undefined);
  await resetBrowserStorage();
});

describe('Verify (RS-9)', { timeout: 30_000 }, () => {
  it('checks every chunk of the site copy against the signed index, without a key, to 100 %', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Verify').click();
    await until(() => expect(verifyText()).toContain('Verify finished.'));
    const chunks = backup.manifest.index.chunks.length;
    expect(verifyText()).toContain(`site copy: ${chunks} of ${chunks} chunks checked (100%)`);
    expect(verifyText()).toContain('Every chunk of the site copy matches the signed index.');
    expect(verifyProgress()).toBe('100');
    // No key was asked for.
    expect(site.requests().some((r) => r.includes('key-release'))).toBe(false);
    expect((await site.auditEntries()).filter((e) => e.event.includes('release'))).toEqual([]);
  });

  it('keeps coverage so that runs cut short add up to 100 %', async () => {
    const backup = await testBackup(VOLUME, { length: 10 * 1024 });
    await site.commit('operator', backup, { restorers: ['restorer'] });
    await open('restorer');
    const chunkRequests = (): string[] => site.requests().filter((r) => r.includes('/chunks/'));
    // The first run loses the site after 8 chunks.
    let served = 0;
    site.outage((request) => request.url.includes('/chunks/') && ++served > 8);
    buttonIn(rowOf(VOLUME)!, 'Verify').click();
    await until(() => expect(verifyText()).toContain('could not be reached'));
    expect(verifyText()).toContain('site copy: 8 of 10 chunks checked (80%)');
    const saved = await getCoverage(VOLUME, 1, 'site');
    expect([...saved!.chunks].filter((c) => c !== 0)).toHaveLength(8);

    site.outage(undefined);
    buttonIn(document.body, 'Verify').click();
    await until(() => expect(verifyText()).toContain('Verify finished.'));
    expect(verifyText()).toContain('site copy: 10 of 10 chunks checked (100%)');
    // Each chunk was checked once over both runs.
    const fetched = chunkRequests();
    expect(new Set(fetched).size).toBe(10);
    expect((await getCoverage(VOLUME, 1, 'site'))!.passes).toBe(1);
  });

  it('names a damaged chunk of the site copy and reports it', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    const victim = backup.manifest.index.chunks[1]!.chunkId;
    await site.tamperChunk(VOLUME, victim, 50);
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Verify').click();
    await until(() => expect(verifyText()).toContain('Verify finished.'));
    expect(verifyText()).toContain(
      `Chunk 1 (${victim}) of the site copy was tampered with or damaged: its ciphertext does not match the SHA-256 in the signed index.`,
    );
    expect(await integrityReports()).toEqual([
      {
        volumeId: VOLUME,
        generation: 1,
        source: 'site',
        check: 'index-hash',
        chunkIndex: 1,
        chunkId: victim,
        badChunks: 1,
      },
    ]);
  });

  it('the owner verifies the local copy here and has the site re-hash its own copy', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup);
    await seedLocalCopy('operator', backup);
    const damaged = backup.manifest.index.chunks[4]!.chunkId;
    await damageLocalChunk(VOLUME, damaged);
    await open('operator');
    buttonIn(rowOf(VOLUME)!, 'Verify').click();
    await until(() => expect(verifyText()).toContain('Verify finished.'));
    const chunks = backup.manifest.index.chunks.length;
    expect(verifyText()).toContain(
      `local copy on this device: ${chunks} of ${chunks} chunks checked (100%)`,
    );
    expect(verifyText()).toContain(`Chunk 4 (${damaged}) of the local copy on this device`);
    expect(verifyText()).toContain('Every chunk of the site copy matches the signed index.');
    expect(site.requests().some((r) => r.includes('/chunks/'))).toBe(false);
    expect(site.requests()).toContain(`POST /api/volumes/${VOLUME}/scrub`);
  });
});
