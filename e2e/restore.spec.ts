/**
 * Restore stories (RS-1 … RS-9) in Debian's Chromium against the real site:
 * ext4 images made with mkfs.ext4 -d and backed up through the site's API,
 * restored byte for byte by a registered restorer in a fresh browser,
 * refused to an outsider with an alert for the administrators, one-time keys,
 * approvals, a blob damaged on the site's disk, and Verify. A reload in the
 * middle of a large restore and restores of the console's own backups are in
 * restore-interrupted.spec.ts, which can run beside this file.
 */
import { expect, test } from '@playwright/test';
import { ImageWorkshop, sha256File, type TestImage } from './support/images';
import { adminAlerts, corruptBlob, decideRelease, seedVolume } from './support/restore-seed';
import {
  RESTORE_TIMEOUT,
  SITE,
  SITE_DATA,
  expectComplete,
  openRestore,
  openVolume,
  row,
  savedSha256,
  status,
} from './support/restore-page';

const workshop = new ImageWorkshop();
test.afterAll(() => workshop.remove());

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
    await expect(row(page, image.volumeId)).toContainText('Already restored');
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
    // The live `release` event carries it on, well before the slow poll would
    // (15 s); decrypting the image afterwards takes what the machine gives it.
    await expect(status(page)).not.toContainText('waiting for approval', { timeout: 10_000 });
    await expect(status(page)).toContainText('Restore complete', { timeout: RESTORE_TIMEOUT });
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
