/**
 * Long backups interrupted (BK-7) in Debian's Chromium against the real
 * site: a reload in the middle of a 128 MiB image resumes without starting
 * over, and a site that stops mid-backup is waited for. Both use a browser
 * profile on disk and images large enough to be stopped half-way, so they
 * live apart from the other backup stories and can run beside them.
 */
import { expect, test, type BrowserContext } from '@playwright/test';
import { E2E_PORT } from '../playwright.config';
import {
  backUp,
  blobsAtSite,
  chooseImage,
  persistentContext,
  progressOf,
  status,
} from './support/backup-page';
import { ImageWorkshop, MiB, sha256File } from './support/images';
import { signIn } from './support/session';
import { SiteProcess } from './support/site-process';

const workshop = new ImageWorkshop();

/**
 * Lets the first `count` transfers of the page through; the others wait
 * until `release()`, so a story can act mid-backup however fast the machine.
 */
async function holdTransfersAfter(
  context: BrowserContext,
  count: number,
): Promise<{ asked: () => number; release: () => void }> {
  let asked = 0;
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  await context.route('**/api/pairs/*/transfers/*', async (route) => {
    if (++asked > count) await held;
    await route.continue().catch(() => undefined);
  });
  return { asked: () => asked, release };
}
test.afterAll(() => workshop.remove());

test.describe('a long backup survives a reload and an outage', () => {
  test('a 128 MiB image: a reload mid-backup resumes to completion with the same SHA-256', async () => {
    test.setTimeout(600_000);
    // A site of its own: an eighth of a GiB of blobs would make every later
    // search of the shared site's files for plaintext scan it too. Over
    // 100 MiB, so the local copy needs a real profile's IndexedDB.
    const site = new SiteProcess(E2E_PORT + 9);
    await site.start();
    const image = workshop.random('big.img', 128 * MiB);
    const expected = sha256File(image.path);
    const { context, page, close } = await persistentContext(site.url);
    try {
      await signIn(page, 'operator');
      // After ten of its 32 transfers the site answers no more until the reload: on a busy
      // machine the whole backup could otherwise be done before the page reloads.
      const transfers = await holdTransfersAfter(context, 10);
      await backUp(page, image);
      await expect.poll(() => progressOf(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(20);
      const volumeId = await page.getByRole('textbox', { name: 'Volume ID' }).inputValue();

      await page.reload();
      await context.unrouteAll({ behavior: 'ignoreErrors' });
      transfers.release();
      await expect(status(page)).toContainText('interrupted backup of', { timeout: 30_000 });
      await chooseImage(page, image.path);
      await expect(status(page)).toContainText('Press Resume');
      await page.getByRole('button', { name: 'Resume' }).click();
      await expect(status(page)).toContainText('Backup complete', { timeout: 480_000 });
      await expect(status(page)).toContainText(expected);
      expect(blobsAtSite(site.dataDir, volumeId)).toHaveLength(32);
    } finally {
      await close();
      await site.remove();
    }
  });

  test('the site stops mid-backup: a clear message, then completion once it is back', async () => {
    test.setTimeout(600_000);
    const site = new SiteProcess(E2E_PORT + 7);
    await site.start();
    const image = workshop.random('outage.img', 48 * MiB);
    const { context, page, close } = await persistentContext(site.url);
    try {
      await signIn(page, 'operator');
      // After four of its twelve transfers the site answers no more until it has stopped:
      // the outage then comes mid-backup however fast or slow the machine is.
      const transfers = await holdTransfersAfter(context, 4);
      await backUp(page, image);
      await expect.poll(() => transfers.asked(), { timeout: 120_000 }).toBeGreaterThan(4);
      await site.stop();
      transfers.release();
      await expect(status(page)).toContainText('The site cannot be reached', { timeout: 60_000 });
      await expect(status(page)).toContainText('sending resumes by itself');
      await context.unrouteAll({ behavior: 'ignoreErrors' });
      await site.start();
      await expect(status(page)).toContainText('Backup complete', { timeout: 480_000 });
      await expect(status(page)).toContainText(sha256File(image.path));
    } finally {
      await close();
      await site.remove();
    }
  });
});
