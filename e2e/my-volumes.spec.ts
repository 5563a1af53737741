/**
 * My volumes story (SPEC §1, AL-3) in Debian's Chromium against the real
 * site: an operator backs up an ext4 image through /backup, the registered
 * restorer restores it, an outsider who types its volume ID is refused, and
 * the operator then sees both, by name and with the reason, in My volumes.
 */
import { expect, test, type Browser, type Locator, type Page } from '@playwright/test';
import { ImageWorkshop, sha256File, type TestImage } from './support/images';
import { BACKUP_TIMEOUT, backUpThroughConsole } from './support/restore-ui-backup';
import { signIn } from './support/session';

const RESTORE_TIMEOUT = 180_000;

const workshop = new ImageWorkshop();
test.afterAll(() => workshop.remove());

/** A browser of its own for each person, as on their own computers. */
async function browserOf(browser: Browser, userId: string): Promise<Page> {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await signIn(page, userId);
  return page;
}

function restoreStatus(page: Page): Locator {
  return page.getByRole('region', { name: 'Restore status' });
}

test('the operator sees a restorer’s restore and an outsider’s refusal of their volume in My volumes', async ({
  browser,
}, testInfo) => {
  test.setTimeout(BACKUP_TIMEOUT + 2 * RESTORE_TIMEOUT);
  const image: TestImage = workshop.ext4('my-volumes', 12, 3);

  const operator = await browserOf(browser, 'operator');
  await backUpThroughConsole(operator, image, 'restorer');

  const restorer = await browserOf(browser, 'restorer');
  await restorer.getByRole('link', { name: 'Restore', exact: true }).click();
  const volumeRow = restorer
    .getByRole('table', { name: 'Restorable volumes' })
    .getByRole('row')
    .filter({ hasText: image.volumeId });
  const download = restorer.waitForEvent('download', { timeout: RESTORE_TIMEOUT });
  await volumeRow.getByRole('button', { name: 'Restore', exact: true }).click();
  const saved = testInfo.outputPath('restored.img');
  await (await download).saveAs(saved);
  expect(sha256File(saved)).toBe(sha256File(image.path));
  await expect(restoreStatus(restorer)).toContainText('Restore complete', {
    timeout: RESTORE_TIMEOUT,
  });

  const outsider = await browserOf(browser, 'outsider');
  await outsider.getByRole('link', { name: 'Restore', exact: true }).click();
  await outsider.getByRole('textbox', { name: 'Volume ID' }).fill(image.volumeId);
  await outsider.getByRole('button', { name: 'Open volume' }).click();
  await expect(restoreStatus(outsider)).toContainText('unauthorized use');

  // Back in the operator's browser: My volumes, below the backup form.
  await operator.goto('/backup');
  const mine = operator
    .getByRole('table', { name: 'My volumes' })
    .getByRole('row')
    .filter({ hasText: image.volumeId })
    .first();
  const toggle = mine.getByRole('button', { name: 'Restores and refusals' });
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  const activity = operator.getByRole('table', {
    name: `Restores and refusals of ${image.volumeId}`,
  });
  const rows = activity.getByRole('row');
  // The header, then newest first: the refusal, then the restore.
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(1)).toContainText('Oscar Outsider (outsider)');
  await expect(rows.nth(1)).toContainText('Refused');
  await expect(rows.nth(1)).toContainText(
    'unauthorized use: not registered as a restorer of this volume',
  );
  await expect(rows.nth(2)).toContainText('Rita Restorer (restorer)');
  await expect(rows.nth(2)).toContainText('Restore: keys of generation 1 released');
  await operator.screenshot({
    path: testInfo.outputPath('my-volumes-activity.png'),
    fullPage: true,
  });

  for (const page of [operator, restorer, outsider]) await page.context().close();
});
