/**
 * Backup stories (BK-1 … BK-11) in Debian's Chromium against the real site:
 * images made with Debian's tools, their volume IDs held to blkid's, the
 * site's files checked for plaintext, a second generation that sends only
 * what changed, and another operator refused. A reload and a site outage in
 * the middle of a backup are in backup-interrupted.spec.ts, which can run
 * beside this file.
 */
import { dirname } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import {
  BACKUP_TIMEOUT,
  SITE_DATA,
  backUp,
  blobsAtSite,
  chooseImage,
  expectComplete,
  status,
} from './support/backup-page';
import {
  ImageWorkshop,
  MiB,
  isoinfoVolumeId,
  plaintextLeaks,
  type TestImage,
} from './support/images';
import { signIn } from './support/session';

const workshop = new ImageWorkshop();
test.afterAll(() => workshop.remove());

test.describe.configure({ mode: 'serial' });

test.describe('an operator backs up media images', () => {
  let iso: TestImage;

  test('backs up an ISO (genisoimage) and the site holds no plaintext of it', async ({ page }) => {
    test.setTimeout(BACKUP_TIMEOUT);
    iso = workshop.iso('CUSTODIAN_ISO');
    expect(isoinfoVolumeId(iso.path)).toBe('CUSTODIAN_ISO');
    await signIn(page, 'operator');
    await backUp(page, iso);
    await expect(page.getByText('Kind: ISO 9660 disc (iso9660)')).toBeVisible();
    await expectComplete(page, iso);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download receipt' }).click();
    expect((await download).suggestedFilename()).toMatch(/receipt\.json$/);
    expect(plaintextLeaks(iso.path, SITE_DATA)).toEqual([]);
    // The check can fail: it finds the image's bytes in the image itself.
    expect(plaintextLeaks(iso.path, dirname(iso.path))).toContainEqual(
      expect.stringContaining(iso.path),
    );
  });

  test('backs up an ext4 image (mkfs.ext4 -d)', async ({ page }) => {
    test.setTimeout(BACKUP_TIMEOUT);
    const ext4 = workshop.ext4('custodian-ext4');
    await signIn(page, 'operator');
    await backUp(page, ext4);
    await expect(page.getByText('Kind: ext4 file system (ext4)')).toBeVisible();
    await expectComplete(page, ext4);
    expect(plaintextLeaks(ext4.path, SITE_DATA)).toEqual([]);
  });

  test('backs up a FAT image (mkfs.fat + mcopy)', async ({ page }) => {
    test.setTimeout(BACKUP_TIMEOUT);
    const fat = workshop.fat('CUSTFAT');
    await signIn(page, 'operator');
    await backUp(page, fat);
    await expect(page.getByText('Kind: FAT file system (vfat)')).toBeVisible();
    await expectComplete(page, fat);
    expect(plaintextLeaks(fat.path, SITE_DATA)).toEqual([]);
  });

  test('operator2 is refused the same ISO: "registered to another operator", and an alert exists', async ({
    page,
    browser,
  }) => {
    await signIn(page, 'operator2');
    await page.goto('/backup');
    await chooseImage(page, iso.path);
    await expect(page.getByRole('textbox', { name: 'Volume ID' })).toHaveValue(iso.volumeId);
    await expect(status(page)).toContainText('registered to another operator');
    await page.getByRole('button', { name: 'Back up' }).click();
    await expect(status(page).getByRole('alert')).toContainText('registered to another operator');

    const admin = await browser.newPage();
    await signIn(admin, 'admin');
    const answer = await admin.request.get('/api/admin/alerts?kind=overwrite_attempt');
    expect(answer.ok()).toBe(true);
    const { alerts } = (await answer.json()) as {
      alerts: { userId: string | null; volumeId: string | null }[];
    };
    expect(alerts).toContainEqual(
      expect.objectContaining({ userId: 'operator2', volumeId: iso.volumeId }),
    );
    await admin.close();
  });

  test('a second generation of a changed image sends only the changed chunks', async ({ page }) => {
    test.setTimeout(2 * BACKUP_TIMEOUT);
    // Three chunks: one changes, the two around it (which hold the content ID) do not.
    const image = workshop.random('changing.img', 12 * MiB);
    await signIn(page, 'operator');
    await backUp(page, image);
    await expectComplete(page, image);
    const volumeId = await page.getByRole('textbox', { name: 'Volume ID' }).inputValue();
    const before = blobsAtSite(SITE_DATA, volumeId);
    expect(before).toHaveLength(3);

    // One byte range in chunk 1; the first and last MiB (the content ID) stay as they were.
    workshop.change(image.path, 1 * 4 * MiB + 1000, 4096);
    await backUp(page, { ...image, volumeId });
    await expectComplete(page, image);
    await expect(status(page)).toContainText('Generation2');
    const after = blobsAtSite(SITE_DATA, volumeId);
    expect(after).toHaveLength(4);
    expect(after.filter((name) => !before.includes(name))).toHaveLength(1);
  });

  test("the operator's other browser continues the volume: only the changed chunk is sent, and the audit log shows the move", async ({
    page,
    browser,
  }) => {
    test.setTimeout(2 * BACKUP_TIMEOUT);
    const image = workshop.random('moving.img', 12 * MiB);
    await signIn(page, 'operator');
    await backUp(page, image);
    await expectComplete(page, image);
    const volumeId = await page.getByRole('textbox', { name: 'Volume ID' }).inputValue();
    const before = blobsAtSite(SITE_DATA, volumeId);
    expect(before).toHaveLength(3);

    // Another computer of the same operator: nothing of the volume in its storage.
    workshop.change(image.path, 2 * 4 * MiB + 5000, 4096);
    const elsewhere = await browser.newContext();
    const other: Page = await elsewhere.newPage();
    await signIn(other, 'operator');
    await other.goto('/backup');
    await chooseImage(other, image.path);
    await expect(other.getByRole('textbox', { name: 'Volume ID' })).toHaveValue(volumeId);
    // Said before "Back up", not refused after it.
    await expect(other.getByText(/earlier generations were made in another browser/)).toBeVisible();
    await other.getByRole('button', { name: 'Back up' }).click();
    await expectComplete(other, image);
    await expect(status(other)).toContainText('Generation2');
    const after = blobsAtSite(SITE_DATA, volumeId);
    expect(after.filter((name) => !before.includes(name))).toHaveLength(1);
    await elsewhere.close();

    const admin = await (await browser.newContext()).newPage();
    await signIn(admin, 'admin');
    await admin.goto('/admin/audit?event=volume_moved');
    const audit = admin.getByRole('table', { name: 'Audit log' });
    await expect(audit.getByRole('row').filter({ hasText: volumeId })).toContainText(
      'Backups moved to another browser',
    );
  });
});
