import 'fake-indexeddb/auto';
import { http, HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Pinia } from 'pinia';
import { apiRoutes } from '@/core/contract';
import { exportRawKey, generateChunkIdKey, toHex, toNonExtractable } from '@/core/crypto';
import { server } from '@/testing/msw-server';
import { backupDatabase, closeBackupDatabase } from '@/shared/storage/database';
import {
  closeKeyStore,
  getChunkIdKeyForEscrow,
  putChunkIdKey,
  putChunkIdKeyEscrowCopy,
  wipeAllKeys,
} from '@/shared/storage/key-store';
import { useMyPairsStore } from '@/features/backup/stores/my-pairs';
import { useSiteCopiesStore } from '@/features/backup/stores/site-copies';
import { useSameRealmTextEncoder } from '@/testing/backup-test-support';
import { readText } from '@/shared/ui/read-text';
import {
  buttonNamed,
  controlLabelled,
  mountConsole,
  settle,
  unmountAll,
} from '@/testing/mount-console';
import { testSite, type TestSite } from '@/testing/site';

useSameRealmTextEncoder();

const VOLUME = 'ext4:0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9';
const PASSPHRASE = 'a long passphrase of mine';

let site: TestSite;
let pinia: Pinia | undefined;
let saved: Blob | undefined;

beforeEach(async () => {
  site = await testSite();
  server.use(http.get(apiRoutes.myPairs.path, () => HttpResponse.json({ pairs: [] })));
  saved = undefined;
  URL.createObjectURL = vi.fn((blob: Blob) => {
    saved = blob;
    return 'blob:key-file';
  });
  URL.revokeObjectURL = vi.fn();
  vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);
});

afterEach(async () => {
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
});

async function open(): Promise<void> {
  ({ pinia } = await mountConsole('/backup', { signedInAs: 'operator' }));
}

function type(label: string, text: string): void {
  const input = controlLabelled(label) as HTMLInputElement;
  input.value = text;
  input.dispatchEvent(new Event('input'));
}

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await settle();
  }
}

const text = (): string => document.body.textContent ?? '';

describe('key files on /backup', () => {
  it('exports a volume’s key under a passphrase, and a cleared browser imports it back; a wrong passphrase and a short one are told apart', async () => {
    await site.backUp('operator', VOLUME);
    const key = await generateChunkIdKey({ extractable: true });
    const raw = toHex(await exportRawKey(key));
    await putChunkIdKeyEscrowCopy(VOLUME, key);
    await putChunkIdKey(VOLUME, await toNonExtractable(key));

    await open();
    await until(() => !!document.querySelector('option'), 'the volumes whose key is here');
    expect((controlLabelled('Volume to export') as HTMLSelectElement).value).toBe(VOLUME);
    type('Passphrase', 'too short');
    type('Repeat the passphrase', 'too short');
    buttonNamed('Export key file').click();
    await until(() => text().includes('at least 12 characters'), 'the short passphrase');
    type('Passphrase', PASSPHRASE);
    type('Repeat the passphrase', `${PASSPHRASE}!`);
    buttonNamed('Export key file').click();
    await until(() => text().includes('The two passphrases differ'), 'the mismatch');
    type('Repeat the passphrase', PASSPHRASE);
    buttonNamed('Export key file').click();
    await until(() => text().includes('The key file of'), 'the export');
    const fileText = await readText(saved!);
    expect(fileText).toContain('"custodian-volume-key-file"');
    expect(fileText).not.toContain(raw);

    // Another browser: nothing of the volume's keys.
    await wipeAllKeys();
    const input = controlLabelled('Key file') as HTMLInputElement;
    const file = new File([fileText], 'key-file.json', { type: 'application/json' });
    Object.defineProperty(input, 'files', { value: [file], configurable: true });
    input.dispatchEvent(new Event('change'));
    type('Passphrase of the key file', 'not the passphrase');
    buttonNamed('Import key file').click();
    await until(() => text().includes('The passphrase does not open this key file'), 'refusal');
    expect(await getChunkIdKeyForEscrow(VOLUME)).toBeUndefined();

    type('Passphrase of the key file', PASSPHRASE);
    buttonNamed('Import key file').click();
    await until(() => text().includes('is in this browser now'), 'the import');
    expect(toHex(await exportRawKey((await getChunkIdKeyForEscrow(VOLUME))!))).toBe(raw);
  }, 60_000);

  it('refuses a cut-off file and a file for a key other than the one this browser holds', async () => {
    await site.backUp('operator', VOLUME);
    const key = await generateChunkIdKey({ extractable: true });
    await putChunkIdKeyEscrowCopy(VOLUME, key);
    await putChunkIdKey(VOLUME, await toNonExtractable(key));
    await open();
    await until(() => !!document.querySelector('option'), 'the volumes whose key is here');
    type('Passphrase', PASSPHRASE);
    type('Repeat the passphrase', PASSPHRASE);
    buttonNamed('Export key file').click();
    await until(() => text().includes('The key file of'), 'the export');
    const fileText = await readText(saved!);

    const choose = (content: string) => {
      const input = controlLabelled('Key file') as HTMLInputElement;
      Object.defineProperty(input, 'files', {
        value: [new File([content], 'key-file.json')],
        configurable: true,
      });
      input.dispatchEvent(new Event('change'));
    };
    choose(fileText.slice(0, 100));
    type('Passphrase of the key file', PASSPHRASE);
    buttonNamed('Import key file').click();
    await until(() => text().includes('not a Custodian key file'), 'the cut-off file');

    // The browser now holds another key for the same volume.
    await wipeAllKeys();
    const other = await generateChunkIdKey({ extractable: true });
    await putChunkIdKeyEscrowCopy(VOLUME, other);
    choose(fileText);
    buttonNamed('Import key file').click();
    await until(() => text().includes('already holds another key'), 'the conflict');
    expect(toHex(await exportRawKey((await getChunkIdKeyForEscrow(VOLUME))!))).toBe(
      toHex(await exportRawKey(other)),
    );
  }, 60_000);
});
