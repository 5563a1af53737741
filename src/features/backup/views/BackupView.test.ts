import 'fake-indexeddb/auto';
import { http, HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Pinia } from 'pinia';
import { nextTick } from 'vue';
import { apiRoutes } from '@/core/contract';
import { CHUNK_SIZE, openRegistrationFile, type Receipt, type SignedManifest } from '@/core/crypto';
import { detectVolumeId } from '@/core/volume';
import { en } from '@/app/i18n/en';
import { ja } from '@/app/i18n/ja';
import { server } from '@/testing/msw-server';
import { backupDatabase, closeBackupDatabase } from '@/shared/storage/database';
import { closeKeyStore, wipeAllKeys } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import { useBackupStore } from '@/features/backup/stores/backup';
import { backupErrorCodes } from '@/features/backup/engine/backup-errors';
import { useMyPairsStore } from '@/features/backup/stores/my-pairs';
import { useSiteCopiesStore } from '@/features/backup/stores/site-copies';
import { BackupRunner, defaultRunnerDeps } from '@/features/backup/engine/backup-runner';
import {
  memoryImageFile,
  patternBytes,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';
import type { ImageFile } from '@/features/backup/worker/chunk-reader';
import { InProcessSealPool } from '@/features/backup/worker/seal-pool';
import {
  buttonNamed,
  controlLabelled,
  mountConsole,
  settle,
  unmountAll,
} from '@/testing/mount-console';
import { testSite, type TestSite } from '@/testing/site';
import { createBrowserSite } from '@/app/offline-site/browser-site';
import { siteRepositories } from '@/testing/site-repositories';

useSameRealmTextEncoder();

let site: TestSite;
let pinia: Pinia;

/** What the backup protocol asks of the site (BK-2 … BK-9): an outage there is the site's. */
const protocol = (request: Request): boolean =>
  /^\/api\/(site|devices|volumes\/|pairs\/)/.test(new URL(request.url).pathname);

/** The page's transfers the site answered, by sequence number. */
const transferSeqs = (): number[] =>
  site
    .requests()
    .filter((r) => r.startsWith('PUT /api/pairs/'))
    .map((r) => Number(r.split('/').at(-1)));

/** Mounts the console on /backup and keeps its Pinia for the helpers below. */
async function open(options: Parameters<typeof mountConsole>[1] = { signedInAs: 'operator' }) {
  const mounted = await mountConsole('/backup', options);
  pinia = mounted.pinia;
  return mounted;
}

beforeEach(async () => {
  site = await testSite();
  // The pair engine starts with the screen; these stories leave its pairs to its own tests.
  server.use(http.get(apiRoutes.myPairs.path, () => HttpResponse.json({ pairs: [] })));
  URL.createObjectURL = vi.fn(() => 'blob:receipt');
  URL.revokeObjectURL = vi.fn();
  // jsdom cannot follow a download link; the object URL above is what matters.
  vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);
});

afterEach(async () => {
  // The console first, and what it still had in flight, then its storage.
  unmountAll();
  if (pinia) {
    useMyPairsStore(pinia).stop();
    useSiteCopiesStore(pinia).stop();
  }
  await settle();
  await backupDatabase().delete();
  closeBackupDatabase();
  await wipeAllKeys();
  await closeKeyStore();
  Reflect.deleteProperty(navigator, 'storage');
});

function statusRegion(): HTMLElement {
  const region = document.querySelector<HTMLElement>('[role="region"][aria-label="Backup status"]');
  if (!region) throw new Error('no region "Backup status"');
  return region;
}

function progressBar(): HTMLElement {
  const bar = document.querySelector<HTMLElement>(
    '[role="progressbar"][aria-label="Backup progress"]',
  );
  if (!bar) throw new Error('no progressbar "Backup progress"');
  return bar;
}

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}; status: ${statusRegion().textContent}`);
    await settle();
  }
}

async function choose(file: ImageFile, label = 'Image file'): Promise<void> {
  const input = controlLabelled(label) as HTMLInputElement;
  Object.defineProperty(input, 'files', { value: [file], configurable: true });
  input.dispatchEvent(new Event('change', { bubbles: true }));
  const backup = useBackupStore(pinia);
  await until(
    () =>
      backup.imageProblem !== null ||
      (backup.identity !== null && ['checked', 'failed'].includes(backup.ownerCheck)),
    'detection',
  );
  await settle();
}

async function typeInto(control: HTMLInputElement, text: string): Promise<void> {
  control.value = text;
  control.dispatchEvent(new Event('input', { bubbles: true }));
  await settle();
}

async function press(control: HTMLElement, key: string): Promise<void> {
  control.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true }));
  await settle();
}

/** jsdom's Blob has no arrayBuffer(); its FileReader does the same job. */
function readBlob(blob: Blob): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(new Uint8Array(reader.result as ArrayBuffer));
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(blob);
  });
}

function chips(): string[] {
  return [...document.querySelectorAll('.chip')].map((c) => c.textContent?.trim() ?? '');
}

const image = (chunks: number, seed = 1): ImageFile =>
  memoryImageFile(patternBytes(Math.floor(chunks * CHUNK_SIZE), seed), 'disk.img');

describe('backup screen (SPEC §6 /backup)', () => {
  it('shows the detected volume ID with its kind, backs up and reports "Backup complete"', async () => {
    await open();
    expect(statusRegion().textContent).toContain('Choose an image file');
    const file = image(1.5);
    const expected = await detectVolumeId({
      size: file.size,
      read: async (offset, length) =>
        new Uint8Array(await file.slice(offset, offset + length).arrayBuffer()),
    });
    await choose(file);
    const volumeId = controlLabelled('Volume ID') as HTMLInputElement;
    expect(volumeId.readOnly).toBe(true);
    expect(volumeId.value).toBe(expected.volumeId);
    expect(document.body.textContent).toContain('(content)');
    expect(document.body.textContent).toContain('not registered yet');

    const restorers = controlLabelled('Restorers') as HTMLInputElement;
    await typeInto(restorers, 'restorer');
    await press(restorers, 'Enter');
    expect(chips()).toEqual(['operator (you)', 'restorer']);
    (controlLabelled('Release policy') as HTMLSelectElement).value = 'one-time';
    controlLabelled('Release policy').dispatchEvent(new Event('change'));
    await settle();

    buttonNamed('Back up').click();
    await until(() => statusRegion().textContent!.includes('Backup complete'), 'completion');
    const status = statusRegion().textContent!;
    expect(status).toContain(expected.volumeId);
    expect(status).toContain('SHA-256');
    expect(status).toMatch(/[0-9a-f]{64}/);
    expect(progressBar().getAttribute('aria-valuenow')).toBe('100');
    // Sizes in binary units, and what was sent beside the image's size, with why they differ.
    expect(status).toContain(`Size${(file.size / 1024 / 1024).toFixed(0)} MiB (${file.size} B)`);
    expect(status).toMatch(/Sent to the site[\d.]+ MiB sent in \d+ transfers of [\d.]+ MiB each/);
    expect(status).toContain('hides the exact size of the image from the site');
    const { escrow } = site.site.repositories;
    const record = await escrow.records.find(expected.volumeId);
    expect(record?.restorers).toEqual(['operator', 'restorer']);
    const stored = await escrow.generations.find(expected.volumeId, 1);
    expect((JSON.parse(stored!.receipt) as Receipt).statement.policy.kind).toBe('one-time');

    buttonNamed('Download receipt').click();
    expect(URL.createObjectURL).toHaveBeenCalledOnce();
    await until(
      () => document.body.textContent!.includes('confirmed (generation 1)'),
      'my volumes',
    );
    expect(document.body.textContent).toMatch(
      /No\. 1: [\d.]+ MiB, complete, confirmed by the site/,
    );

    // My volumes: deleting a confirmed local copy takes a second, confirming press.
    buttonNamed('Delete the local copy').click();
    await settle();
    expect(document.body.textContent).toContain('Press again to confirm');
    expect(await backupDatabase().chunks.count()).toBeGreaterThan(0);
    buttonNamed('Delete the local copy').click();
    await until(() => document.body.textContent!.includes('The local copy of'), 'the deletion');
    expect(await backupDatabase().chunks.count()).toBe(0);
  }, 30_000);

  it('adds exactly the typed ID on Enter, even while suggestions are open', async () => {
    await open();
    await settle();
    const restorers = controlLabelled('Restorers') as HTMLInputElement;
    expect(restorers.getAttribute('role')).toBe('combobox');
    restorers.dispatchEvent(new Event('focus'));
    await typeInto(restorers, 'restorer');
    expect(restorers.getAttribute('aria-expanded')).toBe('true');
    const options = [...document.querySelectorAll('[role="option"]')].map((o) => o.textContent);
    expect(options.some((o) => o?.includes('restorer2'))).toBe(true);
    await press(restorers, 'Enter');
    expect(chips()).toEqual(['operator (you)', 'restorer']);

    await typeInto(restorers, 'rest');
    await press(restorers, 'ArrowDown');
    expect(restorers.getAttribute('aria-activedescendant')).toBeTruthy();
    await press(restorers, 'Enter');
    expect(chips()).toEqual(['operator (you)', 'restorer', 'restorer2']);

    buttonNamed('Remove restorer').click();
    await settle();
    expect(chips()).toEqual(['operator (you)', 'restorer2']);
    expect(() => buttonNamed('Remove operator')).toThrow();

    await typeInto(restorers, 'nobody-here');
    await press(restorers, 'Enter');
    expect(document.body.textContent).toContain('no restorer with the user ID "nobody-here"');
    expect(chips()).toEqual(['operator (you)', 'restorer2']);
  });

  it('explains an empty, a too small and an unreadable file', async () => {
    await open();
    await choose(memoryImageFile(new Uint8Array(0)));
    expect(statusRegion().textContent).toContain('The file is empty');
    await choose(memoryImageFile(patternBytes(100)));
    expect(statusRegion().textContent).toContain('only 100 bytes');
    const unreadable: ImageFile = {
      name: 'gone.img',
      size: 10 * 1024 * 1024,
      lastModified: 1,
      slice: () => ({
        arrayBuffer: () => Promise.reject(new DOMException('gone', 'NotReadableError')),
      }),
    };
    await choose(unreadable);
    expect(statusRegion().textContent).toContain('could not be read');
    expect(buttonNamed('Back up').disabled).toBe(true);
  });

  it('says when the file changes while it is being read', async () => {
    await open();
    const file = image(2.5, 4);
    const changing: ImageFile = {
      name: file.name,
      size: file.size,
      lastModified: file.lastModified,
      slice: (start, end) =>
        start >= CHUNK_SIZE && end - start > 2 * 1024 * 1024
          ? { arrayBuffer: () => Promise.reject(new DOMException('changed', 'NotReadableError')) }
          : file.slice(start, end),
    };
    await choose(changing);
    buttonNamed('Back up').click();
    await until(
      () => statusRegion().textContent!.includes('changed while it was being read'),
      'error',
    );
    expect(statusRegion().querySelector('[role="alert"]')).not.toBeNull();
  }, 30_000);

  it('says "registered to another operator" at once and again on Back up, and the site alerts', async () => {
    const bytes = patternBytes(Math.floor(0.5 * CHUNK_SIZE), 7);
    const file = memoryImageFile(bytes, 'disk.img');
    const identity = await detectVolumeId({
      size: file.size,
      read: async (o, l) => new Uint8Array(await file.slice(o, o + l).arrayBuffer()),
    });
    // operator2 backed the same medium up first, from their own browser.
    await site.backUp('operator2', identity.volumeId, { image: bytes });
    const overwrites = async () =>
      (await site.site.alerts.all({}))
        .filter((a) => a.kind === 'overwrite_attempt')
        .map(({ kind, userId, volumeId }) => ({ kind, userId, volumeId }));
    let alerts: Awaited<ReturnType<typeof overwrites>> = [];

    await open();
    await choose(file);
    await until(
      () => statusRegion().textContent!.includes('registered to another operator'),
      'the owner check',
    );
    expect(await overwrites()).toHaveLength(0);
    buttonNamed('Back up').click();
    await until(() => statusRegion().querySelectorAll('[role="alert"]').length > 0, 'refusal');
    await vi.waitFor(async () => {
      alerts = await overwrites();
      expect(alerts).not.toHaveLength(0);
    });
    expect(statusRegion().textContent).toContain('registered to another operator');
    expect(alerts).toEqual([
      { kind: 'overwrite_attempt', userId: 'operator', volumeId: identity.volumeId },
    ]);
  }, 30_000);

  it('says before Back up that another browser made the volume, then continues it here', async () => {
    const bytes = patternBytes(Math.floor(0.5 * CHUNK_SIZE), 17);
    const file = memoryImageFile(bytes, 'disk.img');
    const identity = await detectVolumeId({
      size: file.size,
      read: async (o, l) => new Uint8Array(await file.slice(o, o + l).arrayBuffer()),
    });
    // The operator's first generation, made in another browser.
    await site.backUp('operator', identity.volumeId, { image: bytes });

    await open();
    await choose(file);
    await until(
      () => document.body.textContent!.includes('made in another browser'),
      'the owner check',
    );
    expect(document.body.textContent).not.toContain('this backup adds a new generation');
    buttonNamed('Back up').click();
    await until(
      () => statusRegion().textContent!.includes('Backup complete'),
      'completion',
      30_000,
    );
    const moved = (await site.auditEntries()).filter((e) => e.event === 'volume_moved');
    expect(moved.map((e) => [e.actor, e.volumeId])).toEqual([['operator', identity.volumeId]]);
  }, 40_000);

  it('after keys were released, offers to seal every chunk anew, saying what it costs, and does so (ES-5)', async () => {
    const file = image(2.5);
    const retire = (): HTMLInputElement | null =>
      document.querySelector<HTMLInputElement>('input[type="checkbox"][id$="-retire"]');
    await open();
    await choose(file);
    buttonNamed('Back up').click();
    await until(() => statusRegion().textContent!.includes('Backup complete'), 'generation 1');
    const volumeId = useBackupStore(pinia).identity!.volumeId;
    await choose(file);
    expect(retire()).toBeNull();

    // The owner restores generation 1 elsewhere: its keys have left the site.
    expect((await site.askForKey('operator', volumeId, 1)).status).toBe(200);
    await choose(file);
    const box = controlLabelled('Seal every chunk anew under new keys') as HTMLInputElement;
    expect(box).toBe(retire());
    expect(box.checked).toBe(true);
    const hint = document.getElementById(box.getAttribute('aria-describedby')!)!.textContent!;
    expect(hint).toContain('released 1 time since this browser made its keys');
    expect(hint).toContain('sends the whole image again (10 MiB)');

    const sentBefore = transferSeqs().length;
    buttonNamed('Back up').click();
    await until(() => statusRegion().textContent!.includes('Backup complete'), 'generation 2');
    // The epoch key, all three chunks and the commit: nothing was kept from generation 1.
    expect(transferSeqs().length - sentBefore).toBe(5);
    const { escrow } = site.site.repositories;
    const [first, second] = await Promise.all(
      [1, 2].map(async (g) => {
        const row = await escrow.generations.find(volumeId, g);
        return (JSON.parse(row!.manifest) as SignedManifest).index.chunks.map((c) => c.chunkId);
      }),
    );
    expect(second!.filter((id) => first!.includes(id))).toEqual([]);
    // The new keys were made after that release: nothing to offer until another one.
    await choose(file);
    expect(retire()).toBeNull();
  }, 60_000);

  it('keeps the chunks of earlier generations when the operator unticks sealing anew', async () => {
    const file = image(2.5);
    await open();
    await choose(file);
    buttonNamed('Back up').click();
    await until(() => statusRegion().textContent!.includes('Backup complete'), 'generation 1');
    const volumeId = useBackupStore(pinia).identity!.volumeId;
    expect((await site.askForKey('operator', volumeId, 1)).status).toBe(200);
    await choose(file);
    const box = controlLabelled('Seal every chunk anew under new keys') as HTMLInputElement;
    box.checked = false;
    box.dispatchEvent(new Event('change', { bubbles: true }));
    await settle();
    const sentBefore = transferSeqs().length;
    buttonNamed('Back up').click();
    await until(() => statusRegion().textContent!.includes('Backup complete'), 'generation 2');
    // The epoch key and the commit: every chunk was at the site already.
    expect(transferSeqs().length - sentBefore).toBe(2);
    // Still offered: the released keys still open what this volume keeps.
    await choose(file);
    expect(controlLabelled('Seal every chunk anew under new keys')).toBeTruthy();
  }, 60_000);

  it('stops when the site cannot be reached or its keys changed', async () => {
    await open();
    await choose(image(0.25, 9));
    site.outage(protocol);
    buttonNamed('Back up').click();
    await until(() => statusRegion().textContent!.includes('cannot be reached'), 'unreachable');

    site.outage(undefined);
    buttonNamed('Back up').click();
    await until(() => statusRegion().textContent!.includes('Backup complete'), 'completion');

    // Another site answers at this address: its escrow key is not the one this browser pinned.
    const other = (
      await createBrowserSite({ repositories: await siteRepositories(), demoAccounts: false })
    ).site.info;
    server.use(
      http.get(`*${apiRoutes.site.path}`, () =>
        HttpResponse.json({ ...site.site.info, escrowKey: other.escrowKey }),
      ),
    );
    await choose(image(0.25, 10));
    buttonNamed('Back up').click();
    await until(() => statusRegion().textContent!.includes('keys changed'), 'pin mismatch');
  }, 30_000);

  it('waits while the site is away, offers the registration file, then finishes (BK-9)', async () => {
    await open();
    await choose(image(2.5, 15));
    // The site goes away once it has taken the first transfer.
    let away = false;
    site.outage((request) => {
      if (away) return protocol(request);
      away = request.method === 'PUT' && request.url.endsWith('/transfers/1');
      return false;
    });
    buttonNamed('Back up').click();
    await until(() => statusRegion().textContent!.includes('cannot be reached'), 'the outage');
    await until(
      () => statusRegion().textContent!.includes('Export registration file'),
      'the registration offer',
    );
    await until(
      () => (useBackupStore(pinia).snapshot?.bytesStored ?? 0) === 2.5 * CHUNK_SIZE,
      'the local copy',
    );
    buttonNamed('Export registration file').click();
    await until(() => vi.mocked(URL.createObjectURL).mock.calls.length === 1, 'the download');
    const blob = vi.mocked(URL.createObjectURL).mock.calls[0]![0] as Blob;
    // The site's own escrow key opens it (as an administrator's import would).
    const opened = await openRegistrationFile(
      await readBlob(blob),
      site.site.info.siteId,
      site.site.keys.escrow.privateKey,
    );
    expect(opened.registration.owner).toBe('operator');
    site.outage(undefined);
    await until(
      () => statusRegion().textContent!.includes('Backup complete'),
      'completion',
      40_000,
    );
  }, 60_000);

  it('refuses to start when the browser has too little storage (BK-11)', async () => {
    Object.defineProperty(navigator, 'storage', {
      configurable: true,
      value: {
        estimate: async () => ({ quota: 50_000_000, usage: 49_000_000 }),
        persist: async () => false,
        persisted: async () => false,
      },
    });
    await open();
    await choose(image(2, 12));
    buttonNamed('Back up').click();
    await until(() => statusRegion().textContent!.includes('not have enough storage'), 'quota');
    expect(site.requests().filter((r) => r.endsWith('/claim'))).toEqual([]);
  }, 30_000);

  it('pauses, resumes and cancels, then deletes the partial local copy on request', async () => {
    await open();
    await choose(image(3, 13));
    buttonNamed('Back up').click();
    await nextTick();
    buttonNamed('Pause').click();
    await settle();
    expect(statusRegion().textContent).toContain('Paused');
    expect(buttonNamed('Resume').disabled).toBe(false);
    buttonNamed('Resume').click();
    await settle();
    buttonNamed('Cancel').click();
    await until(() => statusRegion().textContent!.includes('cancelled'), 'cancel');
    buttonNamed('Delete the partial local copy').click();
    await until(() => statusRegion().textContent!.includes('was deleted'), 'deletion');
    expect(await backupDatabase().chunks.count()).toBe(0);
  }, 30_000);

  it('offers to resume an interrupted backup and finishes it with the same file (BK-7)', async () => {
    const bytes = patternBytes(3 * CHUNK_SIZE + 5, 21);
    const file = memoryImageFile(bytes, 'big.img');
    const identity = await detectVolumeId({
      size: file.size,
      read: async (o, l) => new Uint8Array(await file.slice(o, o + l).arrayBuffer()),
    });
    // An earlier page of this browser, signed in as the operator, started it.
    await site.signIn('operator');
    const interrupted = new BackupRunner(
      {
        file,
        identity,
        userId: 'operator',
        restorers: ['restorer'],
        policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
      },
      () => undefined,
      {
        ...defaultRunnerDeps(),
        locks: undefined,
        storage: undefined,
        localCopy: new LocalCopy(backupDatabase()),
        createPool: (n) => new InProcessSealPool(n),
      },
    );
    site.outage((request) => {
      if (request.method === 'PUT' && request.url.endsWith('/transfers/2')) {
        interrupted.control.stop(new Error('the tab was closed'));
      }
      return false;
    });
    await expect(interrupted.run()).rejects.toThrow('the tab was closed');
    site.outage(undefined);
    const before = transferSeqs();

    await open();
    await until(() => statusRegion().textContent!.includes('interrupted backup of'), 'the list');
    expect(statusRegion().textContent).toContain('big.img');
    await choose(file);
    await until(() => statusRegion().textContent!.includes('Press Resume'), 'the offer');
    expect(chips()).toEqual(['operator (you)', 'restorer']);
    buttonNamed('Resume').click();
    await until(() => statusRegion().textContent!.includes('Backup complete'), 'completion');
    // Each transfer went once: the epoch key, four chunks and the commit.
    const seqs = transferSeqs();
    expect(before.length).toBeGreaterThan(0);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toHaveLength(6);
  }, 60_000);

  it('speaks Japanese', async () => {
    await open({ signedInAs: 'operator', locale: 'ja' });
    await settle();
    expect(controlLabelled('イメージファイル')).toBeTruthy();
    expect(controlLabelled('ボリュームID')).toBeTruthy();
    expect(controlLabelled('リストア担当者')).toBeTruthy();
    expect(buttonNamed('バックアップ開始')).toBeTruthy();
    expect(
      document.querySelector('[role="region"][aria-label="バックアップの状況"]'),
    ).not.toBeNull();
  });
});

describe('backup messages', () => {
  it('explain every problem in English and Japanese', () => {
    for (const code of backupErrorCodes) {
      expect(en.backup.errors[code], code).toBeTruthy();
      expect(ja.backup.errors[code], code).toBeTruthy();
      expect(ja.backup.errors[code]).not.toBe(en.backup.errors[code]);
    }
    expect(en.backup.errors.registered_to_another_operator).toContain(
      'registered to another operator',
    );
  });

  it('name no other control with a name the acceptance tests use', () => {
    const fixed = [
      'Image file',
      'Volume ID',
      'Restorers',
      'Release policy',
      'Require approval',
      'Back up',
      'Backup progress',
      'Pause',
      'Resume',
      'Cancel',
      'Backup status',
    ];
    const controls = [
      ...Object.values(en.backup.actions),
      en.backup.volumes.change,
      en.backup.volumes.deleteLocal,
      en.backup.volumes.save,
      en.backup.volumes.close,
      en.backup.volumes.addButton,
      en.backup.volumes.add,
      en.backup.volumes.reason,
      en.backup.volumes.withdraw,
      en.backup.volumes.receiptOf,
      en.backup.terms.remove,
      en.backup.terms.expiry,
      en.backup.terms.suggestions,
      en.backup.volumes.retry,
    ];
    for (const name of controls) {
      for (const reserved of fixed) {
        if (name === reserved) continue;
        expect(name.toLowerCase(), name).not.toContain(reserved.toLowerCase());
      }
    }
  });
});
