/**
 * The restore screen as a person uses it, shared by the restore stories:
 * the list of restorable volumes, opening a volume by ID, the status, and
 * the download that arrives by itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chromium,
  expect,
  type BrowserContext,
  type Download,
  type Locator,
  type Page,
  type TestInfo,
} from '@playwright/test';
import { CHROMIUM_ARGS, E2E_PORT } from '../../playwright.config';
import { sha256File, type TestImage } from './images';
import { E2E_SITE_DATA } from './paths';
import { signIn } from './session';

export const SITE = `http://127.0.0.1:${E2E_PORT}`;
/** The data directory of the site playwright.config.ts starts. */
export const SITE_DATA = E2E_SITE_DATA;
export const RESTORE_TIMEOUT = 180_000;

export function status(page: Page): Locator {
  return page.getByRole('region', { name: 'Restore status' });
}

export function row(page: Page, volumeId: string): Locator {
  return page
    .getByRole('table', { name: 'Restorable volumes' })
    .getByRole('row')
    .filter({ hasText: volumeId });
}

export async function openRestore(page: Page, userId: string): Promise<void> {
  await signIn(page, userId);
  await page.getByRole('link', { name: 'Restore', exact: true }).click();
  await expect(page).toHaveURL(/\/restore$/);
}

/** Types the volume ID as read from the medium and opens it. */
export async function openVolume(page: Page, volumeId: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Volume ID' }).fill(volumeId);
  await page.getByRole('button', { name: 'Open volume' }).click();
}

/** Waits for the download that arrives by itself and returns the SHA-256 of what was saved. */
export async function savedSha256(
  download: Promise<Download>,
  testInfo: TestInfo,
): Promise<string> {
  const file = testInfo.outputPath(`restored-${Date.now()}.img`);
  await (await download).saveAs(file);
  return sha256File(file);
}

export async function expectComplete(page: Page, image: TestImage): Promise<void> {
  await expect(status(page)).toContainText('Restore complete', { timeout: RESTORE_TIMEOUT });
  await expect(status(page)).toContainText(sha256File(image.path));
  await expect(page.getByRole('progressbar', { name: 'Restore progress' })).toHaveAttribute(
    'aria-valuenow',
    '100',
  );
}

/** A browser profile on disk, so IndexedDB and the origin private file system survive a reload. */
export async function persistentContext(baseURL = SITE): Promise<{
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
