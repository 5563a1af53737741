/**
 * A backup made the way an operator makes one, through /backup (SPEC §6
 * names), for restore stories that start from the console's own backup and
 * its local copy.
 */
import { expect, type Page } from '@playwright/test';
import { sha256File, type TestImage } from './images';

export const BACKUP_TIMEOUT = 180_000;

/** Backs up `image` naming `restorer`, and waits for "Backup complete" with its SHA-256. */
export async function backUpThroughConsole(
  page: Page,
  image: TestImage,
  restorer = 'restorer',
): Promise<void> {
  await page.goto('/backup');
  await page.getByLabel('Image file').setInputFiles(image.path);
  await expect(page.getByRole('textbox', { name: 'Volume ID' })).toHaveValue(image.volumeId);
  const restorers = page.getByRole('combobox', { name: 'Restorers' });
  await restorers.fill(restorer);
  await restorers.press('Enter');
  await expect(page.getByRole('button', { name: `Remove ${restorer}` })).toBeVisible();
  await page.getByRole('button', { name: 'Back up' }).click();
  const status = page.getByRole('region', { name: 'Backup status' });
  await expect(status).toContainText('Backup complete', { timeout: BACKUP_TIMEOUT });
  await expect(status).toContainText(sha256File(image.path));
}
