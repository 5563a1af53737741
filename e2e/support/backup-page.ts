/**
 * The backup screen as a person uses it (by the accessible names the console guarantees), shared by the backup
 * stories: choosing an image, naming a restorer, "Back up", the status and
 * progress the screen shows, and what the site then holds.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, expect, type BrowserContext, type Locator, type Page } from '@playwright/test';
import { CHROMIUM_ARGS } from '../../playwright.config';
import { sha256File } from './images';
import { E2E_SITE_DATA } from './paths';

/** The data directory of the site playwright.config.ts starts. */
export const SITE_DATA = E2E_SITE_DATA;
export const BACKUP_TIMEOUT = 180_000;

export function status(page: Page): Locator {
  return page.getByRole('region', { name: 'Backup status' });
}

export async function chooseImage(page: Page, path: string): Promise<void> {
  await page.getByLabel('Image file').setInputFiles(path);
}

/** Names a restorer the way a person does: type the ID, press Enter. */
export async function addRestorer(page: Page, userId: string): Promise<void> {
  const combobox = page.getByRole('combobox', { name: 'Restorers' });
  await combobox.fill(userId);
  await combobox.press('Enter');
  await expect(page.getByRole('button', { name: `Remove ${userId}` })).toBeVisible();
}

export async function backUp(
  page: Page,
  image: { path: string; volumeId?: string },
): Promise<void> {
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

export async function expectComplete(page: Page, image: { path: string }): Promise<void> {
  await expect(status(page)).toContainText('Backup complete', { timeout: BACKUP_TIMEOUT });
  await expect(status(page)).toContainText(sha256File(image.path));
  await expect(page.getByRole('progressbar', { name: 'Backup progress' })).toHaveAttribute(
    'aria-valuenow',
    '100',
  );
}

/** Chunk blobs the site stores for a volume (FsBlobStore layout: blobs/xx/sha256(volumeId)/chunkId). */
export function blobsAtSite(dataDir: string, volumeId: string): string[] {
  const key = createHash('sha256').update(volumeId, 'utf8').digest('hex');
  const folder = join(dataDir, 'blobs', key.slice(0, 2), key);
  return existsSync(folder)
    ? readdirSync(folder).filter((name) => /^[0-9a-f]{64}$/.test(name))
    : [];
}

/** A browser profile on disk: IndexedDB of a real profile holds images over 100 MiB. */
export async function persistentContext(baseURL: string): Promise<{
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

export async function progressOf(page: Page): Promise<number> {
  const value = await page
    .getByRole('progressbar', { name: 'Backup progress' })
    .getAttribute('aria-valuenow');
  return Number(value ?? 0);
}
