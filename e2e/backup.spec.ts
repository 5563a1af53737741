/**
 * Backup stories (BK-1 … BK-11) in Debian's Chromium against the real site:
 * images made with Debian's tools, their volume IDs held to blkid's, the
 * site's files checked for plaintext, a reload and a site outage in the
 * middle of a backup, a second generation that sends only what changed, and
 * another operator refused.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chromium,
  expect,
  test,
  type BrowserContext,
  type Locator,
  type Page,
} from '@playwright/test';
import { CHROMIUM_ARGS, E2E_PORT } from '../playwright.config';
import {
  ImageWorkshop,
  MiB,
  isoinfoVolumeId,
  plaintextLeaks,
  sha256File,
  type TestImage,
} from './support/images';
import { E2E_SITE_DATA } from './support/paths';
import { signIn } from './support/session';
import { SiteProcess } from './support/site-process';

/** The data directory of the site playwright.config.ts starts. */
const SITE_DATA = E2E_SITE_DATA;
const BACKUP_TIMEOUT = 180_000;

const workshop = new ImageWorkshop();
test.afterAll(() => workshop.remove());

function status(page: Page): Locator {
  return page.getByRole('region', { name: 'Backup status' });
}

async function chooseImage(page: Page, path: string): Promise<void> {
  await page.getByLabel('Image file').setInputFiles(path);
}

/** Names a restorer the way a person does: type the ID, press Enter. */
async function addRestorer(page: Page, userId: string): Promise<void> {
  const combobox = page.getByRole('combobox', { name: 'Restorers' });
  await combobox.fill(userId);
  await combobox.press('Enter');
  await expect(page.getByRole('button', { name: `Remove ${userId}` })).toBeVisible();
}

async function backUp(page: Page, image: { path: string; volumeId?: string }): Promise<void> {
  await page.goto('/backup');
  await chooseImage(page, image.path);
  if (image.volumeId) {
    await expect(page.getByRole('textbox', { name: 'Volume ID' })).toHaveValue(image.volumeId);
  } else {
    await expect(page.getByRole('textbox', { name: 'Volume ID' })).toHaveValue(/^content:/);
  }
  await addRestorer(page, 'restorer');
  await page.getByRole('button', { name: 'Back up' }).click();
}

async function expectComplete(page: Page, image: { path: string }): Promise<void> {
  await expect(status(page)).toContainText('Backup complete', { timeout: BACKUP_TIMEOUT });
  await expect(status(page)).toContainText(sha256File(image.path));
  await expect(page.getByRole('progressbar', { name: 'Backup progress' })).toHaveAttribute(
    'aria-valuenow',
    '100',
  );
}

/** Chunk blobs the site stores for a volume (FsBlobStore layout: blobs/xx/sha256(volumeId)/chunkId). */
function blobsAtSite(dataDir: string, volumeId: string): string[] {
  const key = createHash('sha256').update(volumeId, 'utf8').digest('hex');
  const folder = join(dataDir, 'blobs', key.slice(0, 2), key);
  return existsSync(folder)
    ? readdirSync(folder).filter((name) => /^[0-9a-f]{64}$/.test(name))
    : [];
}

/** A browser profile on disk: IndexedDB of a real profile holds images over 100 MiB. */
async function persistentContext(baseURL: string): Promise<{
  context: BrowserContext;
  page: Page;
  close: () => Promise<void>;
}> {
  const profile = mkdtempSync(join(tmpdir(), 'custodian-e2e-profile-'));
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

async function progressOf(page: Page): Promise<number> {
  const value = await page
    .getByRole('progressbar', { name: 'Backup progress' })
    .getAttribute('aria-valuenow');
  return Number(value ?? 0);
}

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
    const image = workshop.random('changing.img', 24 * MiB);
    await signIn(page, 'operator');
    await backUp(page, image);
    await expectComplete(page, image);
    const volumeId = await page.getByRole('textbox', { name: 'Volume ID' }).inputValue();
    const before = blobsAtSite(SITE_DATA, volumeId);
    expect(before).toHaveLength(6);

    // One byte range in chunk 2; the first and last MiB (the content ID) stay as they were.
    workshop.change(image.path, 2 * 4 * MiB + 1000, 4096);
    await backUp(page, { ...image, volumeId });
    await expectComplete(page, image);
    await expect(status(page)).toContainText('Generation2');
    const after = blobsAtSite(SITE_DATA, volumeId);
    expect(after).toHaveLength(7);
    expect(after.filter((name) => !before.includes(name))).toHaveLength(1);
  });
});

test.describe('a long backup survives a reload and an outage', () => {
  test('a 256 MiB image: a reload mid-backup resumes to completion with the same SHA-256', async () => {
    test.setTimeout(600_000);
    const image = workshop.random('big.img', 256 * MiB);
    const expected = sha256File(image.path);
    const { page, close } = await persistentContext(`http://127.0.0.1:${E2E_PORT}`);
    try {
      await signIn(page, 'operator');
      await backUp(page, image);
      await expect.poll(() => progressOf(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(20);
      const volumeId = await page.getByRole('textbox', { name: 'Volume ID' }).inputValue();

      await page.reload();
      await expect(status(page)).toContainText('interrupted backup of', { timeout: 30_000 });
      await chooseImage(page, image.path);
      await expect(status(page)).toContainText('Press Resume');
      await page.getByRole('button', { name: 'Resume' }).click();
      await expect(status(page)).toContainText('Backup complete', { timeout: 480_000 });
      await expect(status(page)).toContainText(expected);
      expect(blobsAtSite(SITE_DATA, volumeId)).toHaveLength(64);
    } finally {
      await close();
    }
  });

  test('the site stops mid-backup: a clear message, then completion once it is back', async () => {
    test.setTimeout(600_000);
    const site = new SiteProcess(E2E_PORT + 7);
    await site.start();
    const image = workshop.random('outage.img', 160 * MiB);
    const { page, close } = await persistentContext(site.url);
    try {
      await signIn(page, 'operator');
      await backUp(page, image);
      await expect.poll(() => progressOf(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(10);
      await site.stop();
      await expect(status(page)).toContainText('The site cannot be reached', { timeout: 60_000 });
      await expect(status(page)).toContainText('sending resumes by itself');
      await site.start();
      await expect(status(page)).toContainText('Backup complete', { timeout: 480_000 });
      await expect(status(page)).toContainText(sha256File(image.path));
    } finally {
      await close();
      await site.remove();
    }
  });
});
