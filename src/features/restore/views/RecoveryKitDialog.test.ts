import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Receipt } from '@/core/crypto';
import { useRestoreStore } from '@/features/restore/stores/restore';
import { setRestoreRuntime } from '@/features/restore/engine/restore-runtime';
import { MemoryRestoreRuntime, testBackup } from '@/testing/restore-test-support';
import { useSameRealmTextEncoder } from '@/testing/backup-test-support';
import { testSite, type TestSite } from '@/testing/site';
import { mountConsole, type } from '@/testing/mount-console';
import {
  FAST_RETRY,
  buttonIn,
  resetBrowserStorage,
  rowOf,
  statusText,
  text,
} from '@/testing/restore-view-support';

useSameRealmTextEncoder();

const VOLUME = 'gpt:5e1f0c2d-9a3b-4c7e-8f60-123456789abc';
const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

let runtime: MemoryRestoreRuntime;
let site: TestSite;
let downloads: Blob[];

const dialogText = (): string =>
  (document.querySelector('[role="dialog"]')?.textContent ?? '').replace(/\s+/g, ' ');

function readBlob(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsText(blob);
  });
}

async function open(userId: string, locale: 'en' | 'ja' = 'en') {
  const mounted = await mountConsole('/restore', { signedInAs: userId, locale });
  useRestoreStore(mounted.pinia).setRetryPolicy(FAST_RETRY);
  await until(() => expect(rowOf(VOLUME)).not.toBeNull());
  return mounted;
}

async function chooseFile(label: string, content: string): Promise<void> {
  const labelElement = [...document.querySelectorAll('label')].find(
    (l) => l.textContent?.trim() === label,
  )!;
  const input = document.getElementById(labelElement.htmlFor) as HTMLInputElement;
  const file = new File([content], 'kit.json', { type: 'application/json' });
  file.text ??= () => readBlob(file);
  Object.defineProperty(input, 'files', { value: [file], configurable: true });
  input.dispatchEvent(new Event('change', { bubbles: true }));
}

beforeEach(async () => {
  site = await testSite();
  runtime = new MemoryRestoreRuntime();
  setRestoreRuntime(runtime);
  downloads = [];
  vi.spyOn(URL, 'createObjectURL').mockImplementation((blob) => {
    downloads.push(blob as Blob);
    return 'blob:kit';
  });
  vi.spyOn(URL, 'revokeObjectURL').mockImplementation(() => undefined);
  vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);
});

afterEach(async () => {
  vi.restoreAllMocks();
  setRestoreRuntime(undefined);
  await resetBrowserStorage();
});

describe('recovery kit (RS-10)', { timeout: 30_000 }, () => {
  it('shows the site fingerprints and verified receipts with a QR code, and exports them as JSON', async () => {
    const backup = await testBackup(VOLUME);
    const receipt = await site.commit('operator', backup, { restorers: ['restorer'] });
    const info = site.site.info;
    await open('operator');
    buttonIn(rowOf(VOLUME)!, 'Recovery kit').click();
    await until(() => expect(dialogText()).toContain('Receipt signature verified'));
    expect(dialogText()).toContain(`Recovery kit of ${VOLUME}`);
    expect(dialogText()).toContain(info.escrowKey.fingerprint);
    expect(dialogText()).toContain(info.signingKey.fingerprint);
    expect(dialogText()).toContain(receipt.statement.manifestHash);
    expect(dialogText()).toContain(receipt.statement.auditChainHead);
    const qr = document.querySelector('[role="dialog"] svg[role="img"]')!;
    expect(qr.getAttribute('aria-label')).toContain('QR code');
    expect(qr.querySelector('path')!.getAttribute('d')!.length).toBeGreaterThan(1000);

    buttonIn(document.body, 'Download JSON').click();
    expect(downloads).toHaveLength(1);
    const kit = JSON.parse(await readBlob(downloads[0]!));
    expect(kit).toMatchObject({
      type: 'custodian-recovery-kit',
      volumeId: VOLUME,
      owner: 'operator',
      site: {
        siteId: info.siteId,
        escrowKeyFingerprint: info.escrowKey.fingerprint,
        signingKeyFingerprint: info.signingKey.fingerprint,
      },
      generations: [{ generation: 1, receiptVerified: true, receipt }],
    });
    expect(JSON.stringify(kit)).not.toMatch(/"(chunkIdKey|dataKeys?|envelope)"/);
  });

  it('says when a receipt does not verify against the site’s signing key', async () => {
    await site.commit('operator', await testBackup(VOLUME));
    // The stored receipt was altered behind the site's back: its signature no longer matches.
    site.editGeneration(VOLUME, 1, (row) => {
      const receipt = JSON.parse(row.receipt) as Receipt;
      return {
        ...row,
        receipt: JSON.stringify({
          ...receipt,
          statement: { ...receipt.statement, counter: '999' },
        }),
      };
    });
    await open('operator');
    buttonIn(rowOf(VOLUME)!, 'Recovery kit').click();
    await until(() => expect(dialogText()).toContain('Receipt signature could not be verified'));
  });

  it('a kit or receipt file opens its volume and restores that generation', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Recovery kit').click();
    await until(() => expect(dialogText()).toContain('Receipt signature verified'));
    buttonIn(document.body, 'Download JSON').click();
    const kitJson = await readBlob(downloads[0]!);
    buttonIn(document.querySelector('[role="dialog"]')!, 'Close').click();

    await chooseFile('Open receipt file', kitJson);
    await until(() => expect(statusText()).toContain('Restore complete'));
    expect(statusText()).toContain(backup.secret.imageSha256);
  });

  it('explains a file that is not a receipt', async () => {
    await site.commit('operator', await testBackup(VOLUME));
    await open('operator');
    await chooseFile('Open receipt file', '{"hello":"world"}');
    await until(() =>
      expect(text()).toContain('This file is not a Custodian receipt or recovery kit.'),
    );
    expect(site.requests().some((r) => r.includes('key-release'))).toBe(false);
  });
});

describe('in Japanese', { timeout: 30_000 }, () => {
  it('labels the screen and explains a refusal in Japanese', async () => {
    await site.commit('operator', await testBackup(VOLUME));
    await mountConsole('/restore', { signedInAs: 'outsider', locale: 'ja' });
    await until(() =>
      expect(document.querySelector('table[aria-label="リストアできるボリューム"]')).not.toBeNull(),
    );
    expect(document.querySelector('[role="region"][aria-label="リストアの状況"]')).not.toBeNull();
    const label = [...document.querySelectorAll('label')].find(
      (l) => l.textContent?.trim() === 'ボリュームID',
    )!;
    await type(document.getElementById(label.htmlFor) as HTMLInputElement, VOLUME);
    buttonIn(document.body, 'ボリュームを開く').click();
    await until(() =>
      expect(
        document.querySelector('[role="region"][aria-label="リストアの状況"]')!.textContent,
      ).toContain('不正な使用'),
    );
  });
});
