/**
 * Backup and restore with the keyboard alone: every control is reached with
 * Tab and used with the keys a person would press (typing, Enter). Only the
 * browser's own file picker is answered by the test, as it cannot be driven.
 */
import { expect, test, type Locator, type Page } from '@playwright/test';
import { BACKUP_TIMEOUT, expectComplete } from './support/backup-page';
import { ImageWorkshop, MiB, sha256File } from './support/images';
import { demoPassword } from './support/session';

const workshop = new ImageWorkshop();
test.afterAll(() => workshop.remove());

/** Presses Tab until `target` has the focus; fails if Tab never gets there. */
async function tabTo(page: Page, target: Locator, limit = 120): Promise<void> {
  for (let presses = 0; presses < limit; presses++) {
    if (await target.evaluate((element) => element === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${target.toString()}`);
}

async function signInWithKeyboard(page: Page, userId: string): Promise<void> {
  await page.goto('/login');
  await tabTo(page, page.getByRole('textbox', { name: 'User ID' }));
  await page.keyboard.type(userId);
  await tabTo(page, page.getByLabel('Password', { exact: true }));
  await page.keyboard.type(demoPassword(userId));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

test('an operator backs up and a restorer restores with the keyboard alone', async ({
  browser,
}, testInfo) => {
  test.setTimeout(2 * BACKUP_TIMEOUT);
  const image = workshop.random('keyboard.img', 6 * MiB);

  const operator = await (await browser.newContext()).newPage();
  await signInWithKeyboard(operator, 'operator');
  await tabTo(operator, operator.getByRole('link', { name: 'Backup', exact: true }));
  await operator.keyboard.press('Enter');
  await expect(operator.locator('main h1')).toBeVisible();
  const picker = operator.getByLabel('Image file');
  await tabTo(operator, picker);
  await picker.setInputFiles(image.path);
  await expect(operator.getByRole('textbox', { name: 'Volume ID' })).toHaveValue(/^content:/);
  const volumeId = await operator.getByRole('textbox', { name: 'Volume ID' }).inputValue();
  await tabTo(operator, operator.getByRole('combobox', { name: 'Restorers' }));
  await operator.keyboard.type('restorer');
  await operator.keyboard.press('Enter');
  await expect(operator.getByRole('button', { name: 'Remove restorer' })).toBeVisible();
  await tabTo(operator, operator.getByRole('button', { name: 'Back up' }));
  await operator.keyboard.press('Enter');
  await expectComplete(operator, image);

  const restorer = await (await browser.newContext({ acceptDownloads: true })).newPage();
  await signInWithKeyboard(restorer, 'restorer');
  await tabTo(restorer, restorer.getByRole('link', { name: 'Restore', exact: true }));
  await restorer.keyboard.press('Enter');
  const row = restorer
    .getByRole('table', { name: 'Restorable volumes' })
    .getByRole('row')
    .filter({ hasText: volumeId });
  const restore = row.getByRole('button', { name: 'Restore', exact: true });
  await expect(restore).toBeVisible();
  await tabTo(restorer, restore);
  const download = restorer.waitForEvent('download', { timeout: BACKUP_TIMEOUT });
  await restorer.keyboard.press('Enter');
  const saved = testInfo.outputPath('restored.img');
  await (await download).saveAs(saved);
  expect(sha256File(saved)).toBe(sha256File(image.path));
  await expect(restorer.getByRole('region', { name: 'Restore status' })).toContainText(
    'Restore complete',
  );
});
