import 'fake-indexeddb/auto';
import { http, HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Pinia } from 'pinia';
import { apiRoutes } from '@/core/contract';
import { CHUNK_SIZE } from '@/core/crypto';
import { server } from '@/testing/msw-server';
import { backupDatabase, closeBackupDatabase } from '@/shared/storage/database';
import { closeKeyStore, wipeAllKeys } from '@/shared/storage/key-store';
import { useBackupStore } from '@/features/backup/stores/backup';
import { useMyPairsStore } from '@/features/backup/stores/my-pairs';
import { useSiteCopiesStore } from '@/features/backup/stores/site-copies';
import { useBackupVolumesStore } from '@/features/backup/stores/backup-volumes';
import {
  memoryImageFile,
  patternBytes,
  siteVolume,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';
import type { ImageFile } from '@/features/backup/worker/chunk-reader';
import {
  buttonNamed,
  controlLabelled,
  mountConsole,
  settle,
  type,
  unmountAll,
} from '@/testing/mount-console';
import { otherTestSite, type OtherTestSite } from '@/testing/other-site';
import { testSite, type TestSite } from '@/testing/site';

/**
 * /backup with several sites (MS-3): the group "Sites" with the home site
 * ticked; each other site ticked gets a copy of the ciphertext once the home
 * site committed, "Backup complete" once every site that answers has it, and
 * a site that was away catches up by itself when it is back.
 */

useSameRealmTextEncoder();
vi.setConfig({ testTimeout: 60_000 });

/** Where the sites store keeps other sites' bearer tokens for the tab (sign-ins.ts). */
const TOKENS_KEY = 'custodian.other-site-tokens';

let site: TestSite;
let osaka: OtherTestSite;
let sapporo: OtherTestSite;
let pinia: Pinia;

beforeEach(async () => {
  site = await testSite();
  server.use(http.get(apiRoutes.myPairs.path, () => HttpResponse.json({ pairs: [] })));
  osaka = await otherTestSite(site, 'Osaka', 'https://osaka.example');
  sapporo = await otherTestSite(site, 'Sapporo', 'https://sapporo.example');
  // The sites that keep shares trust one another, as their administrators set them up (MS-1).
  const admin = { userId: 'admin', roles: ['admin' as const], clientAddress: '127.0.0.1' };
  await osaka.site.sites.trust(admin, sapporo.url, sapporo.fingerprint, 'shares are kept there');
  await sapporo.site.sites.trust(admin, osaka.url, osaka.fingerprint, 'shares are kept there');
  // The operator signed in everywhere before (MS-2): the tab kept each site's token.
  sessionStorage.setItem(
    TOKENS_KEY,
    JSON.stringify({
      [osaka.site.info.siteId]: await osaka.token('operator'),
      [sapporo.site.info.siteId]: await sapporo.token('operator'),
    }),
  );
});

afterEach(async () => {
  unmountAll();
  if (pinia) {
    useMyPairsStore(pinia).stop();
    useSiteCopiesStore(pinia).stop();
  }
  await settle();
  sessionStorage.clear();
  await backupDatabase().delete();
  closeBackupDatabase();
  await wipeAllKeys();
  await closeKeyStore();
});

function statusText(): string {
  return (
    document.querySelector('[role="region"][aria-label="Backup status"]')?.textContent ?? ''
  ).replace(/\s+/g, ' ');
}

async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; status: ${statusText()}`);
    await settle();
  }
}

function sitesGroup(): HTMLFieldSetElement {
  const group = [...document.querySelectorAll('fieldset')].find(
    (f) => f.querySelector('legend')?.textContent?.trim() === 'Sites',
  );
  if (!group) throw new Error('no group "Sites"');
  return group;
}

async function open(): Promise<void> {
  ({ pinia } = await mountConsole('/backup', { signedInAs: 'operator' }));
  await until(() => document.querySelector('fieldset legend') !== null, 'the group "Sites"');
}

async function choose(file: ImageFile): Promise<void> {
  const input = controlLabelled('Image file') as HTMLInputElement;
  Object.defineProperty(input, 'files', { value: [file], configurable: true });
  input.dispatchEvent(new Event('change', { bubbles: true }));
  const backup = useBackupStore(pinia);
  await until(() => backup.identity !== null && !backup.settling, 'detection');
  await settle();
}

async function tick(name: string): Promise<void> {
  const box = controlLabelled(name) as HTMLInputElement;
  box.checked = true;
  box.dispatchEvent(new Event('change', { bubbles: true }));
  await settle();
}

/** Types how many of the ticked sites are needed to restore (MS-4). */
async function need(k: number): Promise<void> {
  await type(controlLabelled('Sites needed to restore') as HTMLInputElement, String(k));
  await settle();
}

const image = (seed = 1): ImageFile =>
  memoryImageFile(patternBytes(Math.floor(1.5 * CHUNK_SIZE), seed), 'disk.img');

describe('backup to several sites (MS-3)', () => {
  it('offers every site by name with the home site ticked, and copies to the sites ticked', async () => {
    await open();
    const group = sitesGroup();
    const boxes = [...group.querySelectorAll<HTMLInputElement>('input[type="checkbox"]')];
    expect(boxes.map((b) => group.querySelector(`label[for="${b.id}"]`)?.textContent)).toEqual([
      'Custodian offline demo',
      'Osaka',
      'Sapporo',
    ]);
    expect(boxes.map((b) => [b.checked, b.disabled])).toEqual([
      [true, true],
      [false, false],
      [false, false],
    ]);

    await choose(image());
    await tick('Osaka');
    await need(2);
    buttonNamed('Back up').click();
    await until(() => statusText().includes('Backup complete'), 'completion');
    expect(statusText()).toContain('Osaka generation 1 stored, keeps a share');
    const volumeId = useBackupStore(pinia).identity!.volumeId;
    const atOsaka = await siteVolume(osaka, volumeId);
    expect(atOsaka?.generations).toHaveLength(1);
    // Osaka holds its share of the epoch's key, never the key (MS-4).
    expect(atOsaka?.epochs).toEqual([0]);
    // Sapporo was not ticked: it was sent nothing.
    expect(await siteVolume(sapporo, volumeId)).toBeUndefined();
  });

  it('offers the sites and "Back up" only once the chosen image\'s volume has been looked up', async () => {
    await open();
    // The site is slow to say who owns the volume: the sites chosen for it may still change.
    let answer = (): void => undefined;
    const held = new Promise<void>((resolve) => (answer = resolve));
    server.use(
      http.get(apiRoutes.volumeOwner.path, async () => {
        await held;
        return undefined;
      }),
    );
    const input = controlLabelled('Image file') as HTMLInputElement;
    Object.defineProperty(input, 'files', { value: [image()], configurable: true });
    input.dispatchEvent(new Event('change', { bubbles: true }));
    const backup = useBackupStore(pinia);
    await until(() => backup.ownerCheck === 'checking', 'the owner lookup');
    expect((controlLabelled('Osaka') as HTMLInputElement).disabled).toBe(true);
    expect(buttonNamed('Back up').disabled).toBe(true);

    answer();
    await until(() => !backup.settling, 'the lookup');
    expect((controlLabelled('Osaka') as HTMLInputElement).disabled).toBe(false);
    await tick('Osaka');
    await need(2);
    expect(buttonNamed('Back up').disabled).toBe(false);
  });

  it('completes while a ticked site is down, says it waits, and catches it up once it is back', async () => {
    await open();
    await choose(image(2));
    await tick('Osaka');
    await tick('Sapporo');
    await need(2);
    // Sapporo still tells its keys (its share is sealed to it), then goes away for the copy.
    let away = true;
    server.use(
      http.all(`${sapporo.url}/*`, ({ request }) =>
        away && new URL(request.url).pathname !== apiRoutes.site.path
          ? HttpResponse.error()
          : undefined,
      ),
    );
    buttonNamed('Back up').click();
    await until(() => statusText().includes('Backup complete'), 'completion', 60_000);
    expect(statusText()).toContain('Osaka generation 1 stored');
    expect(statusText()).toContain(
      'Sapporo holds no generation yet; waiting, catches up by itself: Sapporo cannot be reached',
    );
    const volumeId = useBackupStore(pinia).identity!.volumeId;
    expect(await siteVolume(sapporo, volumeId)).toBeUndefined();
    // The count follows the generation's record in this browser, read after the status.
    await until(() => statusText().includes('2 of 3 sites confirmed'), 'two confirmations');

    away = false;
    await useSiteCopiesStore(pinia).catchUp();
    await until(() => statusText().includes('3 of 3 sites confirmed'), 'three confirmations');
    expect(statusText()).toContain('Sapporo generation 1 stored, keeps a share');
    expect((await siteVolume(sapporo, volumeId))?.generations).toHaveLength(1);
    expect((await siteVolume(sapporo, volumeId))?.epochs).toEqual([0]);
  });

  it('stops before sending anything when a ticked site cannot be reached to seal its share to', async () => {
    await open();
    await choose(image(8));
    await tick('Sapporo');
    await need(2);
    sapporo.down(true);
    buttonNamed('Back up').click();
    await until(() => statusText().includes('cannot be reached'), 'the refusal');
    expect(statusText()).toContain(
      'Sapporo cannot be reached, so its share of the keys cannot be sealed to its escrow key. Nothing was sent',
    );
    const backup = useBackupStore(pinia);
    expect(await siteVolume(site, backup.identity!.volumeId)).toBeUndefined();
    // The failed run has finished its own bookkeeping before the database goes.
    await until(() => backup.phase === 'failed', 'the run to end');
    // My volumes reloads after the failure, asking every site: let it finish before the database goes.
    await until(() => !useBackupVolumesStore(pinia).loading, 'My volumes');
  });

  it('completes with a ticked site where the console is not signed in, and says to sign in there', async () => {
    // The tab keeps no token for Sapporo: the console is signed in at Osaka only.
    sessionStorage.setItem(
      TOKENS_KEY,
      JSON.stringify({ [osaka.site.info.siteId]: await osaka.token('operator') }),
    );
    await open();
    expect(sitesGroup().textContent).toContain('(not signed in: the copy waits until you are)');
    await choose(image(7));
    await tick('Sapporo');
    await need(2);
    buttonNamed('Back up').click();
    await until(() => statusText().includes('Backup complete'), 'completion');
    expect(statusText()).toContain(
      'Sapporo holds no generation yet; waiting, catches up by itself: This console is not signed in at Sapporo.',
    );
  });

  it('keeps the sites chosen for a volume for its next backup', async () => {
    await open();
    await choose(image(3));
    await tick('Sapporo');
    await need(2);
    buttonNamed('Back up').click();
    await until(() => statusText().includes('Backup complete'), 'completion');
    // The same volume again, for its next generation: its sites and k stay (shares must fit).
    await choose(image(3));
    expect((controlLabelled('Sapporo') as HTMLInputElement).checked).toBe(true);
    expect((controlLabelled('Osaka') as HTMLInputElement).checked).toBe(false);
    expect((controlLabelled('Sites needed to restore') as HTMLInputElement).value).toBe('2');
    buttonNamed('Back up').click();
    await until(() => statusText().includes('Sapporo generation 2 stored'), 'generation 2');
    const volumeId = useBackupStore(pinia).identity!.volumeId;
    expect((await siteVolume(sapporo, volumeId))?.epochs).toEqual([0, 1]);
  });

  it('continues a split volume from another browser: the sites and k come from the site, and two sites hand over their shares', async () => {
    await open();
    await choose(image(4));
    await tick('Sapporo');
    await need(2);
    buttonNamed('Back up').click();
    await until(() => statusText().includes('Sapporo generation 1 stored'), 'generation 1');

    // Another browser of the operator: nothing of the volume in its storage.
    unmountAll();
    useMyPairsStore(pinia).stop();
    useSiteCopiesStore(pinia).stop();
    await settle();
    await backupDatabase().delete();
    closeBackupDatabase();
    await wipeAllKeys();
    await open();
    await choose(image(4));
    expect(document.body.textContent).toContain('Its key is split across sites');
    expect((controlLabelled('Sapporo') as HTMLInputElement).checked).toBe(true);
    expect((controlLabelled('Sites needed to restore') as HTMLInputElement).value).toBe('2');
    buttonNamed('Back up').click();
    await until(() => statusText().includes('Sapporo generation 2 stored'), 'generation 2');
    const volumeId = useBackupStore(pinia).identity!.volumeId;
    for (const held of [site.site, sapporo.site]) {
      const moves = await held.audit.all({ event: 'volume_moved' });
      expect(moves.map((e) => [e.actor, e.volumeId])).toEqual([['operator', volumeId]]);
    }
  });

  it("sends an owner's change of restorers to every site holding the volume, and to one that was away once it is back (MS-6)", async () => {
    await open();
    await choose(image(5));
    await tick('Osaka');
    await tick('Sapporo');
    await need(2);
    buttonNamed('Back up').click();
    await until(() => statusText().includes('Sapporo generation 1 stored'), 'both copies');
    const volumeId = useBackupStore(pinia).identity!.volumeId;
    const table = (): string =>
      (document.querySelector('table')?.textContent ?? '').replace(/\s+/g, ' ');
    await until(() => table().includes('Osaka: generation 1'), 'the copies in My volumes');
    expect(table()).toContain('Sapporo: generation 1');

    sapporo.down(true);
    buttonNamed('Change who may restore').click();
    await settle();
    const add = controlLabelled('User to add') as HTMLInputElement;
    add.value = 'restorer2';
    add.dispatchEvent(new Event('input', { bubbles: true }));
    buttonNamed('Add').click();
    await settle();
    const reason = controlLabelled('Reason for the change') as HTMLInputElement;
    reason.value = 'restorer2 takes over the archive';
    reason.dispatchEvent(new Event('input', { bubbles: true }));
    buttonNamed('Save').click();
    const saved = (): string =>
      [...document.querySelectorAll('[role="status"]')].map((e) => e.textContent).join(' ');
    await until(() => saved().includes('Osaka: applied'), 'the change at each site');
    expect(saved()).toContain('Sapporo: not applied yet. Sapporo cannot be reached.');
    const restorersAt = async (other: OtherTestSite) =>
      [...((await siteVolume(other, volumeId))?.restorers ?? [])].sort();
    expect(await restorersAt(osaka)).toEqual(['operator', 'restorer2']);
    expect(await restorersAt(sapporo)).toEqual(['operator']);
    // Osaka audited the owner's change with the reason given.
    const audit = await osaka.site.audit.all({ event: 'restorers_changed' });
    expect(JSON.stringify(audit)).toContain('restorer2 takes over the archive');

    sapporo.down(false);
    await useSiteCopiesStore(pinia).catchUp();
    expect(await restorersAt(sapporo)).toEqual(['operator', 'restorer2']);
  });

  it("beats for each copy's pair at its site, and obeys a suspension by that site's administrators (RC-5)", async () => {
    await open();
    const file = image(6);
    await choose(file);
    await tick('Osaka');
    await need(2);
    buttonNamed('Back up').click();
    await until(() => statusText().includes('Osaka generation 1 stored'), 'the copy');
    const copies = useSiteCopiesStore(pinia);
    const volumeId = useBackupStore(pinia).identity!.volumeId;
    const pairAtOsaka = async () =>
      (await osaka.site.pairs.list()).find((p) => p.volumeId === volumeId)!;
    await copies.beat();
    expect((await pairAtOsaka()).lastHeartbeatAt).not.toBeNull();

    const admin = { userId: 'admin', roles: ['admin'] as const, clientAddress: '127.0.0.1' };
    await osaka.site.pairs.act(
      { ...admin, roles: [...admin.roles] },
      [(await pairAtOsaka()).pairId],
      'suspend',
      'Osaka moves racks tonight',
    );
    await copies.beat();
    await vi.waitFor(async () => expect((await pairAtOsaka()).state).toBe('PSUS'));

    // The next generation is stored at home; Osaka, suspended, gets nothing and says why.
    await choose(file);
    buttonNamed('Back up').click();
    await until(() => statusText().includes('Backup complete'), 'the second backup');
    expect(statusText()).toContain(
      'Osaka holds generation 1; waiting, catches up by itself: The administrators of Osaka suspended the copy there.',
    );
    expect((await siteVolume(osaka, volumeId))?.generations).toHaveLength(1);

    await osaka.site.pairs.act(
      { ...admin, roles: [...admin.roles] },
      [(await pairAtOsaka()).pairId],
      'resume',
      'racks moved',
    );
    await copies.beat();
    await vi.waitFor(
      async () => expect((await siteVolume(osaka, volumeId))?.generations).toHaveLength(2),
      { timeout: 20_000 },
    );
  });

  it("sends an owner's change to a site holding a copy made from another browser, and to no site without one (MS-6)", async () => {
    const volumeId = 'ext4:4444-copied-elsewhere';
    await site.backUp('operator', volumeId);
    await osaka.backUp('operator', volumeId);
    await open();
    const volumes = useBackupVolumesStore(pinia);
    await until(() => volumes.volumes.some((v) => v.volumeId === volumeId), 'My volumes');
    // Osaka says it holds the volume, though this browser never copied it there.
    const rowText = (): string =>
      [...document.querySelectorAll('table tbody tr')]
        .find((r) => r.textContent?.includes(volumeId))
        ?.textContent?.replace(/\s+/g, ' ') ?? '';
    await until(() => rowText().includes('Osaka: generation 1'), 'the copy at Osaka listed');
    expect(rowText()).not.toContain('Sapporo');
    const outcomes = await volumes.updateRestorers(volumeId, {
      add: ['restorer2'],
      remove: [],
      reason: 'restorer2 joins the archive team',
    });
    expect(outcomes.map((o) => [o.siteName, o.applied])).toEqual([['Osaka', true]]);
    expect([...((await siteVolume(osaka, volumeId))?.restorers ?? [])].sort()).toEqual([
      'operator',
      'restorer2',
    ]);
    expect(await siteVolume(sapporo, volumeId)).toBeUndefined();
  });
});
