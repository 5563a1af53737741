import 'fake-indexeddb/auto';
import { HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { apiRoutes } from '@/core/contract';
import { server } from '@/mocks/node';
import { restoreSite } from '@/mocks/restore-site';
import { on } from '@/mocks/route-handler';
import { useRestoreStore } from '@/stores/restore';
import { setRestoreRuntime } from '@/stores/restore-runtime';
import { MemoryRestoreRuntime, testBackup } from '@/stores/restore-test-support';
import { useSameRealmTextEncoder } from '@/stores/backup-test-support';
import { mountConsole, type } from '@/test/mount-console';
import {
  FAST_RETRY,
  buttonIn,
  resetBrowserStorage,
  rowOf,
  statusText,
  text,
} from './restore-view-support';

useSameRealmTextEncoder();

const VOLUME = 'gpt:5e1f0c2d-9a3b-4c7e-8f60-123456789abc';
const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

let runtime: MemoryRestoreRuntime;
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

/** The site answers with the key that signed its receipts. */
function siteSignsReceipts(): void {
  server.use(on(apiRoutes.site, async () => HttpResponse.json(await restoreSite.siteInfo())));
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

beforeEach(() => {
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
  restoreSite.reset();
  await resetBrowserStorage();
});

describe('recovery kit (RS-10)', { timeout: 30_000 }, () => {
  it('shows the site fingerprints and verified receipts with a QR code, and exports them as JSON', async () => {
    siteSignsReceipts();
    const backup = await testBackup(VOLUME);
    await restoreSite.commit(backup, { owner: 'operator', restorers: ['restorer'] });
    const site = await restoreSite.siteInfo();
    await open('operator');
    buttonIn(rowOf(VOLUME)!, 'Recovery kit').click();
    await until(() => expect(dialogText()).toContain('Receipt signature verified'));
    const receipt = restoreSite.volumes.get(VOLUME)!.generations.get(1)!.receipt;
    expect(dialogText()).toContain(`Recovery kit of ${VOLUME}`);
    expect(dialogText()).toContain(site.escrowKey.fingerprint);
    expect(dialogText()).toContain(site.signingKey.fingerprint);
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
        siteId: site.siteId,
        escrowKeyFingerprint: site.escrowKey.fingerprint,
        signingKeyFingerprint: site.signingKey.fingerprint,
      },
      generations: [{ generation: 1, receiptVerified: true, receipt }],
    });
    expect(JSON.stringify(kit)).not.toMatch(/"(chunkIdKey|dataKeys?|envelope)"/);
  });

  it('says when a receipt does not verify against the site’s signing key', async () => {
    await restoreSite.commit(await testBackup(VOLUME), { owner: 'operator' });
    await open('operator');
    buttonIn(rowOf(VOLUME)!, 'Recovery kit').click();
    await until(() => expect(dialogText()).toContain('Receipt signature could not be verified'));
  });

  it('a kit or receipt file opens its volume and restores that generation', async () => {
    siteSignsReceipts();
    const backup = await testBackup(VOLUME);
    await restoreSite.commit(backup, { owner: 'operator', restorers: ['restorer'] });
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
    await restoreSite.commit(await testBackup(VOLUME), { owner: 'operator' });
    await open('operator');
    await chooseFile('Open receipt file', '{"hello":"world"}');
    await until(() =>
      expect(text()).toContain('This file is not a Custodian receipt or recovery kit.'),
    );
    expect(restoreSite.requests.some((r) => r.includes('key-release'))).toBe(false);
  });
});

describe('in Japanese', { timeout: 30_000 }, () => {
  it('labels the screen and explains a refusal in Japanese', async () => {
    await restoreSite.commit(await testBackup(VOLUME), { owner: 'operator' });
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
