/**
 * Restores that are interrupted or start from the console's own backup
 * (RS-4, RS-6) in Debian's Chromium against the real site: a reload in the
 * middle of a 96 MiB restore resumes from what was verified, a restorer
 * restores what an operator backed up through /backup, and the owner
 * restores from the local copy while the site is down.
 */
import { expect, test } from '@playwright/test';
import { E2E_PORT } from '../playwright.config';
import { ImageWorkshop, MiB, sha256File } from './support/images';
import { seedVolume } from './support/restore-seed';
import { backUpThroughConsole } from './support/restore-ui-backup';
import {
  RESTORE_TIMEOUT,
  SITE,
  expectComplete,
  openRestore,
  persistentContext,
  row,
  savedSha256,
  status,
} from './support/restore-page';
import { signIn } from './support/session';
import { SiteProcess } from './support/site-process';

const workshop = new ImageWorkshop();
test.afterAll(() => workshop.remove());

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
      await context.route('**/api/volumes/*/key-release', async (route) => {
        const released = await route.fetch();
        await site.stop();
        await route.fulfill({ response: released });
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
