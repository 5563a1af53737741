/**
 * Restore stories (RS-1 … RS-9) in Debian's Chromium against the real site:
 * ext4 images made with mkfs.ext4 -d and backed up through the site's API,
 * restored byte for byte by a registered restorer in a fresh browser,
 * refused to an outsider with an alert for the administrators, one-time keys,
 * a blob damaged on the site's disk, a reload in the middle of a large
 * restore, and Verify.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chromium,
  expect,
  test,
  type BrowserContext,
  type Download,
  type Locator,
  type Page,
  type TestInfo,
} from '@playwright/test';
import { CHROMIUM_ARGS, E2E_PORT } from '../playwright.config';
import { ImageWorkshop, MiB, sha256File, type TestImage } from './support/images';
import { adminAlerts, corruptBlob, decideRelease, seedVolume } from './support/restore-seed';
import { backUpThroughConsole } from './support/restore-ui-backup';
import { E2E_SITE_DATA } from './support/paths';
import { signIn } from './support/session';
import { SiteProcess } from './support/site-process';

const SITE = `http://127.0.0.1:${E2E_PORT}`;
/** The data directory of the site playwright.config.ts starts. */
const SITE_DATA = E2E_SITE_DATA;
const RESTORE_TIMEOUT = 180_000;

const workshop = new ImageWorkshop();
test.afterAll(() => workshop.remove());

function status(page: Page): Locator {
  return page.getByRole('region', { name: 'Restore status' });
}

function row(page: Page, volumeId: string): Locator {
  return page
    .getByRole('table', { name: 'Restorable volumes' })
    .getByRole('row')
    .filter({ hasText: volumeId });
}

async function openRestore(page: Page, userId: string): Promise<void> {
  await signIn(page, userId);
  await page.getByRole('link', { name: 'Restore', exact: true }).click();
  await expect(page).toHaveURL(/\/restore$/);
}

/** Types the volume ID as read from the medium and opens it. */
async function openVolume(page: Page, volumeId: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Volume ID' }).fill(volumeId);
  await page.getByRole('button', { name: 'Open volume' }).click();
}

/** Waits for the download that arrives by itself and returns the SHA-256 of what was saved. */
async function savedSha256(download: Promise<Download>, testInfo: TestInfo): Promise<string> {
  const file = testInfo.outputPath(`restored-${Date.now()}.img`);
  await (await download).saveAs(file);
  return sha256File(file);
}

async function expectComplete(page: Page, image: TestImage): Promise<void> {
  await expect(status(page)).toContainText('Restore complete', { timeout: RESTORE_TIMEOUT });
  await expect(status(page)).toContainText(sha256File(image.path));
  await expect(page.getByRole('progressbar', { name: 'Restore progress' })).toHaveAttribute(
    'aria-valuenow',
    '100',
  );
}

/** A browser profile on disk, so IndexedDB and the origin private file system survive a reload. */
async function persistentContext(baseURL = SITE): Promise<{
  context: BrowserContext;
  page: Page;
  close: () => Promise<void>;
}> {
  const profile = mkdtempSync(join(tmpdir(), 'custodian-e2e-restore-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CUSTODIAN_CHROMIUM ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    baseURL,
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      try {
        await context.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}

test.describe.configure({ mode: 'serial' });

test.describe('a registered restorer restores; others are refused', () => {
  let image: TestImage;

  test.beforeAll(async () => {
    image = workshop.ext4('restore-main', 24, 12);
    await seedVolume(SITE, image.path, image.volumeId, { restorers: ['restorer'] });
  });

  test('restorer, in a fresh browser without a local copy, restores the image byte for byte', async ({
    page,
  }, testInfo) => {
    test.setTimeout(RESTORE_TIMEOUT);
    await openRestore(page, 'restorer');
    const volume = row(page, image.volumeId);
    await expect(volume).toContainText('Can be restored now');
    await expect(volume).toContainText('Reusable');
    await page.screenshot({ path: testInfo.outputPath('restore-list.png'), fullPage: true });
    const download = page.waitForEvent('download', { timeout: RESTORE_TIMEOUT });
    await volume.getByRole('button', { name: 'Restore', exact: true }).click();
    // No dialog: it starts at once.
    await expect(page.getByRole('dialog')).toHaveCount(0);
    expect(await savedSha256(download, testInfo)).toBe(sha256File(image.path));
    await expectComplete(page, image);
    await page.screenshot({ path: testInfo.outputPath('restore-complete.png'), fullPage: true });
  });

  test('outsider opens the same volume by ID: "unauthorized use", nothing fetched, and the administrators see it', async ({
    page,
  }) => {
    await openRestore(page, 'outsider');
    const fetched: string[] = [];
    page.on('request', (request) => {
      if (/\/(chunks|generations)\//.test(request.url())) fetched.push(request.url());
    });
    await openVolume(page, image.volumeId);
    await expect(status(page)).toContainText('unauthorized use');
    await expect(status(page)).not.toContainText('Restore complete');
    expect(fetched).toEqual([]);
    const alerts = await adminAlerts(SITE);
    expect(
      alerts.some(
        (a) =>
          a.kind === 'unauthorized_restorer' &&
          a.userId === 'outsider' &&
          a.volumeId === image.volumeId,
      ),
    ).toBe(true);
  });

  test('Verify checks every chunk of the site copy against the signed index, to 100 %', async ({
    page,
  }) => {
    test.setTimeout(RESTORE_TIMEOUT);
    await openRestore(page, 'restorer');
    await row(page, image.volumeId).getByRole('button', { name: 'Verify' }).click();
    const results = page.getByRole('region', { name: 'Verify results' });
    await expect(results).toContainText('Verify finished.', { timeout: RESTORE_TIMEOUT });
    await expect(page.getByRole('progressbar', { name: 'Verify progress' })).toHaveAttribute(
      'aria-valuenow',
      '100',
    );
    await expect(results).toContainText('Every chunk of the site copy matches the signed index.');
    await expect(results).toContainText('(100%)');
  });
  test('the recovery kit shows the site’s fingerprints, receipts verified against the site, and a QR code', async ({
    page,
  }, testInfo) => {
    await openRestore(page, 'restorer');
    await row(page, image.volumeId).getByRole('button', { name: 'Recovery kit' }).click();
    const kit = page.getByRole('dialog');
    await expect(kit).toContainText(`Recovery kit of ${image.volumeId}`);
    await expect(kit).toContainText('Receipt signature verified');
    const site = (await (await fetch(`${SITE}/api/site`)).json()) as {
      escrowKey: { fingerprint: string };
      signingKey: { fingerprint: string };
    };
    await expect(kit).toContainText(site.escrowKey.fingerprint);
    await expect(kit).toContainText(site.signingKey.fingerprint);
    await expect(kit.getByRole('img', { name: /QR code/ })).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath('recovery-kit.png') });
    const download = page.waitForEvent('download');
    await kit.getByRole('button', { name: 'Download JSON' }).click();
    expect((await download).suggestedFilename()).toMatch(/^recovery-kit-ext4_.*\.json$/);
  });
});

test.describe('a one-time key', () => {
  test('the first restore works, the second gets "may already have been decrypted", and outsider still "unauthorized use"', async ({
    browser,
  }, testInfo) => {
    test.setTimeout(RESTORE_TIMEOUT);
    const image = workshop.ext4('restore-once', 16, 4);
    await seedVolume(SITE, image.path, image.volumeId, {
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });

    const first = await browser.newContext();
    const page = await first.newPage();
    await openRestore(page, 'restorer');
    const download = page.waitForEvent('download', { timeout: RESTORE_TIMEOUT });
    await row(page, image.volumeId).getByRole('button', { name: 'Restore', exact: true }).click();
    expect(await savedSha256(download, testInfo)).toBe(sha256File(image.path));
    await expectComplete(page, image);
    await expect(row(page, image.volumeId)).toContainText('Used');
    await first.close();

    const second = await browser.newContext();
    const again = await second.newPage();
    await openRestore(again, 'restorer');
    await openVolume(again, image.volumeId);
    await expect(status(again)).toContainText('may already have been decrypted');
    await second.close();

    const third = await browser.newContext();
    const outsider = await third.newPage();
    await openRestore(outsider, 'outsider');
    await openVolume(outsider, image.volumeId);
    await expect(status(outsider)).toContainText('unauthorized use');
    await third.close();
  });
});

test.describe('approval required', () => {
  test('the restore waits for approval and continues by itself when an administrator approves', async ({
    page,
  }, testInfo) => {
    test.setTimeout(RESTORE_TIMEOUT);
    const image = workshop.ext4('restore-approval', 16, 4);
    await seedVolume(SITE, image.path, image.volumeId, { policy: { approvalRequired: true } });
    await openRestore(page, 'restorer');
    const download = page.waitForEvent('download', { timeout: RESTORE_TIMEOUT });
    await row(page, image.volumeId).getByRole('button', { name: 'Restore', exact: true }).click();
    await expect(status(page)).toContainText('waiting for approval');
    await decideRelease(SITE, image.volumeId, true, 'restore test of the quarterly audit');
    // The live `release` event carries it on, well before the slow poll would.
    await expect(status(page)).toContainText('Restore complete', { timeout: 10_000 });
    expect(await savedSha256(download, testInfo)).toBe(sha256File(image.path));
    await expectComplete(page, image);
  });

  test('a denial is shown with its reason', async ({ page }) => {
    const image = workshop.ext4('restore-denied', 16, 2);
    await seedVolume(SITE, image.path, image.volumeId, { policy: { approvalRequired: true } });
    await openRestore(page, 'restorer');
    await row(page, image.volumeId).getByRole('button', { name: 'Restore', exact: true }).click();
    await expect(status(page)).toContainText('waiting for approval');
    await decideRelease(SITE, image.volumeId, false, 'not during the freeze');
    await expect(status(page)).toContainText(
      'An administrator denied the key request: not during the freeze',
    );
  });
});

test.describe('a damaged blob at the site', () => {
  test('the restore stops with "tampered" naming the chunk, and nothing is downloaded', async ({
    page,
  }) => {
    test.setTimeout(RESTORE_TIMEOUT);
    const image = workshop.ext4('restore-tamper', 16, 8);
    const seeded = await seedVolume(SITE, image.path, image.volumeId);
    const victim = seeded.chunkIds[1]!;
    corruptBlob(SITE_DATA, image.volumeId, victim);
    let downloaded = false;
    page.on('download', () => (downloaded = true));
    await openRestore(page, 'restorer');
    await row(page, image.volumeId).getByRole('button', { name: 'Restore', exact: true }).click();
    await expect(status(page)).toContainText('tampered', { timeout: RESTORE_TIMEOUT });
    await expect(status(page)).toContainText(`Chunk 1 (${victim})`);
    await expect(status(page)).toContainText('the partial image was deleted');
    await expect(status(page)).toContainText('The site’s administrators were alerted.');
    await expect(status(page)).not.toContainText('Restore complete');
    expect(downloaded).toBe(false);
    const alerts = await adminAlerts(SITE);
    expect(
      alerts.some((a) => a.kind === 'integrity_failure' && a.volumeId === image.volumeId),
    ).toBe(true);
  });
});

test.describe('a large restore interrupted by a reload', () => {
  test('resumes from what was verified and gives the same SHA-256', async () => {
    const testInfo = test.info();
    test.setTimeout(2 * RESTORE_TIMEOUT);
    const image = workshop.ext4('restore-large', 96, 72);
    expect(image.size).toBe(96 * MiB);
    const seeded = await seedVolume(SITE, image.path, image.volumeId);
    const { context, page, close } = await persistentContext();
    try {
      // Slow the site's chunks down, so the reload lands in the middle.
      const chunkRequests: string[] = [];
      await context.route('**/api/volumes/*/chunks/*', async (route) => {
        chunkRequests.push(route.request().url());
        await new Promise((done) => setTimeout(done, 150));
        await route.continue();
      });
      await openRestore(page, 'restorer');
      await row(page, image.volumeId).getByRole('button', { name: 'Restore', exact: true }).click();
      const bar = page.getByRole('progressbar', { name: 'Restore progress' });
      await expect
        .poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 60_000 })
        .toBeGreaterThanOrEqual(25);
      const before = Number(await bar.getAttribute('aria-valuenow'));
      expect(before).toBeLessThan(100);

      const download = page.waitForEvent('download', { timeout: RESTORE_TIMEOUT });
      await page.reload();
      // It continues by itself, from where it was, not from the start.
      await expect
        .poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 30_000 })
        .toBeGreaterThanOrEqual(before - 5);
      expect(await savedSha256(download, testInfo)).toBe(sha256File(image.path));
      await expectComplete(page, image);
      // Every chunk came from the site, about once each: the resume did not start over.
      expect(new Set(chunkRequests).size).toBe(new Set(seeded.chunkIds).size);
      expect(chunkRequests.length).toBeLessThan(seeded.chunkIds.length + 8);
    } finally {
      await close();
    }
  });
});

test.describe('backed up through the console', () => {
  test('operator backs up an ext4 image naming restorer; restorer restores it in another browser', async ({
    page,
    browser,
  }, testInfo) => {
    test.setTimeout(2 * RESTORE_TIMEOUT);
    const image = workshop.ext4('restore-console', 16, 6);
    await signIn(page, 'operator');
    await backUpThroughConsole(page, image);

    const other = await browser.newContext();
    try {
      const restorer = await other.newPage();
      await openRestore(restorer, 'restorer');
      const download = restorer.waitForEvent('download', { timeout: RESTORE_TIMEOUT });
      await row(restorer, image.volumeId)
        .getByRole('button', { name: 'Restore', exact: true })
        .click();
      expect(await savedSha256(download, testInfo)).toBe(sha256File(image.path));
      await expectComplete(restorer, image);
    } finally {
      await other.close();
    }
  });

  test('with the keys released, the owner restores from the local copy while the site is down', async () => {
    test.setTimeout(3 * RESTORE_TIMEOUT);
    const testInfo = test.info();
    const site = new SiteProcess(E2E_PORT + 11);
    await site.start();
    const { context, page, close } = await persistentContext(site.url);
    try {
      const image = workshop.ext4('restore-offline', 16, 6);
      await signIn(page, 'operator');
      await backUpThroughConsole(page, image);
      await page.getByRole('link', { name: 'Restore', exact: true }).click();
      const volume = row(page, image.volumeId);
      await expect(volume).toContainText('This device');

      // The site goes down right after it released the keys, before anything else is fetched.
      await context.route('**/api/volumes/*/generations/*/manifest', async (route) => {
        await site.stop();
        await route.abort('connectionrefused');
      });
      const download = page.waitForEvent('download', { timeout: 2 * RESTORE_TIMEOUT });
      await volume.getByRole('button', { name: 'Restore', exact: true }).click();
      expect(await savedSha256(download, testInfo)).toBe(sha256File(image.path));
      await expectComplete(page, image);
      await expect(status(page)).toContainText('from the site: 0.');
      const health = await fetch(`${site.url}/api/health`).then(
        () => 'up',
        () => 'down',
      );
      expect(health).toBe('down');
    } finally {
      await close();
      await site.remove();
    }
  });
});
