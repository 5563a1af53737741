/**
 * "Restore from a bundle file" (FORMAT.md §16) on the restore screen: the
 * chunks come from the file and the keys from the site; a bundle whose
 * signed index is not the one the site holds is refused; a restore a reload
 * interrupted asks for its file again, refuses another generation's bundle,
 * and continues from what was verified with the right one.
 */

import 'fake-indexeddb/auto';
import { File as NodeFile } from 'node:buffer';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bundleBytes } from '@/core/crypto';
import { makeBackup, type BackupFixture } from '@/core/crypto/test-support/backup-fixture';
import { listRestores } from '@/shared/storage/restore-progress';
import { useRestoreStore } from '@/features/restore/stores/restore';
import { setRestoreRuntime } from '@/features/restore/engine/restore-runtime';
import {
  MemoryRestoreRuntime,
  patternImage,
  TEST_CHUNK_SIZE,
  testBackup,
} from '@/testing/restore-test-support';
import { useSameRealmTextEncoder } from '@/testing/backup-test-support';
import { testSite, type TestSite } from '@/testing/site';
import { mountConsole, unmountAll } from '@/testing/mount-console';
import {
  FAST_RETRY,
  buttonIn,
  clickMenuItem,
  resetBrowserStorage,
  rowOf,
  statusText,
  text,
} from '@/testing/restore-view-support';

useSameRealmTextEncoder();

const VOLUME = 'ext4:5b2f0c1d-3a4e-4f5a-8b6c-7d8e9f0a1b2c';
const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

let runtime: MemoryRestoreRuntime;
let site: TestSite;

async function open(userId: string, locale: 'en' | 'ja' = 'en') {
  const mounted = await mountConsole('/restore', { signedInAs: userId, locale });
  const store = useRestoreStore(mounted.pinia);
  store.setRetryPolicy(FAST_RETRY);
  await until(() => expect(['ready', 'failed']).toContain(store.listState));
  return { ...mounted, store };
}

/** Node's File: jsdom's Blob cannot slice to an ArrayBuffer, which the console reads with. */
function nodeFile(bytes: Uint8Array, name: string): Blob {
  return new NodeFile([bytes], name) as unknown as Blob;
}

function bundleFile(backup: BackupFixture): Blob {
  return nodeFile(bundleBytes(backup.manifest, backup.blobs), 'disk.custodian-bundle');
}

/** Chooses `file` with the screen's "Restore from a bundle file" input. */
function chooseBundle(file: Blob): void {
  const label = [...document.querySelectorAll('label')].find((l) =>
    ['Restore from a bundle file', 'バンドルファイルから復元'].includes(
      l.textContent?.trim() ?? '',
    ),
  )!;
  const input = document.getElementById(label.htmlFor) as HTMLInputElement;
  Object.defineProperty(input, 'files', { value: [file], configurable: true });
  input.dispatchEvent(new Event('change', { bubbles: true }));
}

/** jsdom's Blob has no arrayBuffer(); FileReader reads it. */
function readBlob(blob: Blob): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as ArrayBuffer);
    reader.onerror = () => reject(reader.error ?? new Error('unreadable'));
    reader.readAsArrayBuffer(blob);
  });
}

const siteChunkFetches = () => site.requests().filter((r) => r.includes('/chunks/'));
const keyRequests = () => site.requests().filter((r) => r.includes('key-release'));

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

describe('restoring from a bundle file', { timeout: 30_000 }, () => {
  it('reads every chunk from the file, with the keys the site releases', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    await open('restorer');
    chooseBundle(bundleFile(backup));
    await until(() => expect(statusText()).toContain('Restore complete'));
    const [record] = await listRestores('restorer');
    expect(await runtime.sha256Of(record!.restoreId)).toBe(backup.secret.imageSha256);
    expect(statusText()).toContain(
      `Chunks from the bundle file: ${backup.manifest.index.chunks.length}.`,
    );
    expect(siteChunkFetches()).toEqual([]);
    expect(keyRequests()).toHaveLength(1);
  });

  it('refuses a bundle whose signed index is not the one the site holds for the generation', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    // Signed by the same device, for the same generation, but never committed.
    const other = await makeBackup(patternImage(3 * TEST_CHUNK_SIZE, 99), {
      volumeId: VOLUME,
      chunkSize: TEST_CHUNK_SIZE,
      reuse: backup,
      firstEpoch: 1,
    });
    await open('restorer');
    chooseBundle(bundleFile(other));
    await until(() =>
      expect(statusText()).toContain('its signed index is not the one the site holds'),
    );
    expect(statusText()).not.toContain('Restore complete');
    expect(runtime.downloads).toEqual([]);
  });

  it('after a reload asks for the file again, refuses another generation’s, and continues with the right one', async () => {
    const first = await testBackup(VOLUME, { length: 8 * TEST_CHUNK_SIZE + 10 });
    await site.commit('operator', first, { restorers: ['restorer'] });
    const second = await testBackup(VOLUME, { previous: first, seed: 3 });
    await site.commit('operator', second, { restorers: ['restorer'] });

    runtime.writesBeforePowerCut = 3;
    await open('restorer');
    chooseBundle(bundleFile(first));
    await until(() => expect(statusText()).toContain('stopped unexpectedly (power cut)'));

    // The page is reloaded: the same browser storage, but the file is gone.
    unmountAll();
    runtime.writesBeforePowerCut = Infinity;
    await open('restorer');
    await until(() => expect(statusText()).toContain('Choose the same bundle file again'));

    chooseBundle(bundleFile(second));
    await until(() =>
      expect(text()).toContain(
        `This bundle holds generation 2 of ${VOLUME}; the interrupted restore reads generation 1`,
      ),
    );
    chooseBundle(bundleFile(first));
    await until(() => expect(statusText()).toContain('Restore complete'));
    const [record] = await listRestores('restorer');
    expect(await runtime.sha256Of(record!.restoreId)).toBe(first.secret.imageSha256);
    expect(keyRequests()).toHaveLength(1);
    expect(siteChunkFetches()).toEqual([]);
  });

  it('exports a generation the site holds from the Options menu, as a download of the bundle', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    const downloads: Blob[] = [];
    vi.spyOn(URL, 'createObjectURL').mockImplementation((blob) => {
      downloads.push(blob as Blob);
      return 'blob:bundle';
    });
    vi.spyOn(URL, 'revokeObjectURL').mockImplementation(() => undefined);
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);
    await open('operator');
    await until(() => expect(rowOf(VOLUME)).not.toBeNull());
    buttonIn(rowOf(VOLUME)!, 'Options').click();
    await until(() => clickMenuItem(/^Generation 1 as a bundle file$/));
    await until(() => expect(text()).toContain('Generation 1 was handed to the browser as'));
    expect(downloads).toHaveLength(1);
    const bytes = new Uint8Array(await readBlob(downloads[0]!));
    expect(bytes).toEqual(bundleBytes(backup.manifest, backup.blobs));
    // No key was asked for: a bundle carries ciphertext only.
    expect(keyRequests()).toEqual([]);
    expect(siteChunkFetches()).toHaveLength(backup.blobs.size);
  });

  it('says in Japanese that a bundle was cut off, with the chunk that is not whole', async () => {
    const backup = await testBackup(VOLUME);
    const whole = bundleBytes(backup.manifest, backup.blobs);
    await open('restorer', 'ja');
    chooseBundle(nodeFile(whole.subarray(0, whole.length - 100), 'cut.custodian-bundle'));
    await until(() => expect(text()).toContain('バンドルは途中で切れています'));
    const last = backup.manifest.index.chunks.length - 1;
    expect(text()).toContain('（100 バイト不足）');
    expect(text()).toContain(
      `チャンク ${last}（${backup.manifest.index.chunks[last]!.chunkId}）が欠けています`,
    );
    expect(text()).toContain('サイトには何も求めていません。');
    expect(text()).not.toContain('cut off');
    expect(keyRequests()).toEqual([]);
  });

  it('names a file that is not a bundle, and asks the site nothing', async () => {
    await open('restorer');
    chooseBundle(nodeFile(patternImage(4096), 'disk.img'));
    await until(() => expect(text()).toContain('it does not start with "CSTB"'));
    expect(text()).toContain('Nothing was asked of the site.');
    expect(keyRequests()).toEqual([]);
  });
});
