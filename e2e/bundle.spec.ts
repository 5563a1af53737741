/**
 * The encrypted image on a medium of the operator’s (RS-11, seed 000, FORMAT.md
 * §16): the owner exports a generation as one bundle file and deletes the
 * browser's copy; a registered restorer restores from the file byte for
 * byte, with the keys the site releases and no chunk fetched from the site;
 * an outsider is refused and the administrators alerted; the independent
 * decoder reads the same file; a flipped byte and a cut-off file are named.
 * Saving to a chosen file writes the same bytes, and continues a file that
 * holds the start of the bundle.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { bundleLayout, parseManifest } from '../src/core/crypto';
import { ImageWorkshop, sha256File, type TestImage } from './support/images';
import { E2E_WORK_DIR } from './support/paths';
import { adminAlerts } from './support/restore-seed';
import { backUpThroughConsole } from './support/restore-ui-backup';
import {
  RESTORE_TIMEOUT,
  SITE,
  SITE_DATA,
  expectComplete,
  openRestore,
  status,
} from './support/restore-page';
import { siteCommand } from './support/site-cli';
import { signIn } from './support/session';

const workshop = new ImageWorkshop();
test.afterAll(() => workshop.remove());

test.describe.configure({ mode: 'serial' });

/** The volume's row of "My volumes" on /backup. */
function myVolume(page: Page, volumeId: string) {
  return page
    .getByRole('table', { name: 'My volumes' })
    .getByRole('row')
    .filter({ hasText: volumeId })
    .first();
}

/** A page whose browser cannot write a chosen file, so that the bundle arrives as a download. */
async function withoutFilePicker(page: Page): Promise<void> {
  await page.addInitScript(() => {
    delete (window as { showSaveFilePicker?: unknown }).showSaveFilePicker;
    delete (Window.prototype as { showSaveFilePicker?: unknown }).showSaveFilePicker;
  });
}

/** Chooses a bundle file on /restore as `userId`, in a browser of its own. */
async function restoreFromBundle(browser: Browser, userId: string, file: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const asked: string[] = [];
  page.on('request', (request) => {
    if (/\/api\/volumes\/[^/]+\/(chunks|key-release)/.test(request.url())) {
      asked.push(request.url());
    }
  });
  await openRestore(page, userId);
  await page.getByLabel('Restore from a bundle file').setInputFiles(file);
  return { context, page, asked };
}

function flipped(from: string, to: string, offset: number): string {
  const bytes = readFileSync(from);
  bytes[offset]! ^= 0x01;
  writeFileSync(to, bytes);
  return to;
}

test.describe('a generation exported as a bundle file', () => {
  let image: TestImage;
  let bundle: string;

  test('the owner exports it and deletes the browser copy; a registered restorer restores from the file alone', async ({
    browser,
  }, testInfo) => {
    test.setTimeout(2 * RESTORE_TIMEOUT);
    image = workshop.ext4('bundle', 16, 8);
    const owner = await browser.newContext();
    try {
      const page = await owner.newPage();
      await withoutFilePicker(page);
      await signIn(page, 'operator');
      await backUpThroughConsole(page, image);
      const volume = myVolume(page, image.volumeId);
      const download = page.waitForEvent('download');
      await volume
        .getByRole('button', { name: `Export generation 1 of ${image.volumeId} as a bundle file` })
        .click();
      bundle = testInfo.outputPath('volume.custodian-bundle');
      await (await download).saveAs(bundle);
      expect((await download).suggestedFilename()).toMatch(/-generation-1\.custodian-bundle$/);
      await expect(page.getByText(/Generation 1 was handed to the browser as/)).toContainText(
        'no key',
      );
      // The bundle carries ciphertext only: no byte run of the image appears in it.
      const plain = readFileSync(image.path);
      const carried = readFileSync(bundle);
      const probe = plain.subarray(plain.length - 4096 * 2, plain.length - 4096);
      expect(carried.indexOf(probe)).toBe(-1);

      // The browser's copy goes (twice confirmed: the site confirmed the backup).
      const remove = volume.getByRole('button', { name: 'Delete the local copy' });
      await remove.click();
      await remove.click();
      await expect(
        page.getByText(`The local copy of ${image.volumeId} was deleted.`),
      ).toBeVisible();
      await page.screenshot({ path: testInfo.outputPath('bundle-exported.png'), fullPage: true });
    } finally {
      await owner.close();
    }

    const { context, page, asked } = await restoreFromBundle(browser, 'restorer', bundle);
    try {
      // Every chunk must come from the file: the site's copy is out of reach.
      await context.route('**/api/volumes/*/chunks/*', (route) => route.abort());
      const download = page.waitForEvent('download', { timeout: RESTORE_TIMEOUT });
      const saved = testInfo.outputPath('restored.img');
      await (await download).saveAs(saved);
      expect(sha256File(saved)).toBe(sha256File(image.path));
      await expectComplete(page, image);
      const chunks = bundleLayout(
        parseManifest(readFileSync(bundle).subarray(9, 9 + readFileSync(bundle).readUInt32BE(5))),
      ).manifest.index.chunks.length;
      await expect(status(page)).toContainText(`Chunks from the bundle file: ${chunks}.`);
      expect(asked.filter((url) => url.includes('/chunks'))).toEqual([]);
      expect(asked.some((url) => url.includes('/key-release'))).toBe(true);
      await page.screenshot({ path: testInfo.outputPath('bundle-restored.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('an outsider choosing the same file is refused as "unauthorized use", and the administrators see it', async ({
    browser,
  }) => {
    const { context, page } = await restoreFromBundle(browser, 'outsider', bundle);
    try {
      await expect(status(page)).toContainText('unauthorized use');
      await expect(status(page)).not.toContainText('Restore complete');
      const alerts = await adminAlerts(SITE);
      expect(
        alerts.some(
          (a) =>
            a.kind === 'unauthorized_restorer' &&
            a.userId === 'outsider' &&
            a.volumeId === image.volumeId,
        ),
      ).toBe(true);
    } finally {
      await context.close();
    }
  });

  test('the independent decoder restores the same bundle with an exported keys file', async () => {
    const testInfo = test.info();
    const keys = testInfo.outputPath('keys.json');
    const [program, args] = siteCommand([
      'export-key',
      '--volume',
      image.volumeId,
      '--out',
      keys,
      '--data-dir',
      SITE_DATA,
    ]);
    execFileSync(program, args, {
      env: {
        ...process.env,
        CUSTODIAN_ADMIN_PASSWORD: 'custodian-admin',
        CUSTODIAN_MASTER_KEY_FILE: join(E2E_WORK_DIR, 'site', 'secrets', 'master.key'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = testInfo.outputPath('decoded.img');
    execFileSync(
      process.execPath,
      ['--import', 'tsx', 'tools/decode/main.ts', '--bundle', bundle, '--keys', keys, '--out', out],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(sha256File(out)).toBe(sha256File(image.path));
  });

  test('a flipped byte in a blob is named with its chunk, and nothing is downloaded', async ({
    browser,
  }, testInfo) => {
    test.setTimeout(RESTORE_TIMEOUT);
    const manifestLength = readFileSync(bundle).readUInt32BE(5);
    const layout = bundleLayout(
      parseManifest(readFileSync(bundle).subarray(9, 9 + manifestLength)),
    );
    const second = layout.blobs[1]!;
    const altered = flipped(
      bundle,
      testInfo.outputPath('altered.custodian-bundle'),
      second.offset + 100,
    );
    const { context, page } = await restoreFromBundle(browser, 'restorer', altered);
    let downloaded = false;
    page.on('download', () => (downloaded = true));
    try {
      await expect(status(page)).toContainText('The bundle file was altered or damaged', {
        timeout: RESTORE_TIMEOUT,
      });
      await expect(status(page)).toContainText(`chunk 1 (${second.chunkId})`);
      await expect(status(page)).not.toContainText('Restore complete');
      expect(downloaded).toBe(false);
    } finally {
      await context.close();
    }
  });

  test('a cut-off bundle is refused before any key is asked for', async ({ browser }, testInfo) => {
    const whole = readFileSync(bundle);
    const cut = testInfo.outputPath('cut.custodian-bundle');
    writeFileSync(cut, whole.subarray(0, whole.length - 5000));
    const { context, page, asked } = await restoreFromBundle(browser, 'restorer', cut);
    try {
      const alert = page.getByRole('alert').filter({ hasText: 'cut off' });
      await expect(alert).toContainText('5000 bytes missing');
      await expect(alert).toContainText('Nothing was asked of the site.');
      expect(asked).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

test.describe('saving a bundle to a chosen file', () => {
  test('writes the same bytes as the download, and continues a file that holds its start', async ({
    page,
  }, testInfo) => {
    test.setTimeout(2 * RESTORE_TIMEOUT);
    const image = workshop.ext4('bundle-file', 16, 6);
    // The picker cannot be answered here: it hands over a file of the origin
    // private file system, through the same File System Access calls.
    await page.addInitScript(() => {
      (
        window as unknown as { showSaveFilePicker: () => Promise<FileSystemFileHandle> }
      ).showSaveFilePicker = async () =>
        (await navigator.storage.getDirectory()).getFileHandle('chosen.custodian-bundle', {
          create: true,
        });
    });
    await signIn(page, 'operator');
    await backUpThroughConsole(page, image);
    const exportButton = myVolume(page, image.volumeId).getByRole('button', {
      name: `Export generation 1 of ${image.volumeId} as a bundle file`,
    });
    const fileDigest = () =>
      page.evaluate(async () => {
        const root = await navigator.storage.getDirectory();
        const file = await (await root.getFileHandle('chosen.custodian-bundle')).getFile();
        const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
        return {
          size: file.size,
          sha256: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''),
        };
      });
    await exportButton.click();
    const saved = page.getByText(/Generation 1 is in chosen\.custodian-bundle/);
    await expect(saved).toBeVisible();
    await expect(saved).not.toContainText('held');
    const whole = await fileDigest();

    // Cut the file in the middle of a blob, as a stopped export leaves it, and export again.
    await page.evaluate(
      async (size) => {
        const root = await navigator.storage.getDirectory();
        const writable = await (
          await root.getFileHandle('chosen.custodian-bundle')
        ).createWritable({ keepExistingData: true });
        await writable.truncate(size);
        await writable.close();
      },
      Math.floor(whole.size / 2),
    );
    await exportButton.click();
    await expect(saved).toContainText('It continued the file, which held');
    expect(await fileDigest()).toEqual(whole);

    // The same bytes as the download this console would otherwise give.
    await page.evaluate(() => {
      delete (window as { showSaveFilePicker?: unknown }).showSaveFilePicker;
    });
    const download = page.waitForEvent('download');
    await exportButton.click();
    const downloaded = testInfo.outputPath('downloaded.custodian-bundle');
    await (await download).saveAs(downloaded);
    expect(sha256File(downloaded)).toBe(whole.sha256);
  });
});
