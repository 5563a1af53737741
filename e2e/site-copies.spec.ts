import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { addRestorer, blobsAtSite, chooseImage, status } from './support/backup-page';
import { ImageWorkshop, sha256File } from './support/images';
import { E2E_PORT } from './support/paths';
import { adminAlerts, corruptBlob } from './support/restore-seed';
import { RESTORE_TIMEOUT, row, savedSha256, status as restoreStatus } from './support/restore-page';
import { signIn } from './support/session';
import { SiteProcess } from './support/site-process';
import { trustEachOther } from './support/sites';

/**
 * Copies on several sites (MS-3, MS-4, MS-5) with three real site
 * processes: a backup whose keys are split 2 of 3 goes to Tokyo, Osaka and
 * Sapporo, each keeping one share; Sapporo, killed during the backup,
 * catches up by itself once it is back; a restorer then restores with Osaka
 * killed (two shares are enough) and a chunk damaged at Tokyo, which is
 * taken from Sapporo, and Tokyo's administrators are alerted.
 */

const workshop = new ImageWorkshop();
const contexts: BrowserContext[] = [];
const started: SiteProcess[] = [];

test.afterAll(() => workshop.remove());
test.afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
  for (const site of started.splice(0)) await site.remove();
});

async function startSite(name: string, port: number): Promise<SiteProcess> {
  const site = new SiteProcess(port, { CUSTODIAN_SITE_NAME: name });
  started.push(site);
  await site.start();
  return site;
}

/** A browser of its own (IndexedDB in memory: the image is small), signed in at `site`. */
async function signedInAt(
  browser: import('@playwright/test').Browser,
  site: SiteProcess,
  userId: string,
): Promise<Page> {
  const context = await browser.newContext({ baseURL: site.url, acceptDownloads: true });
  contexts.push(context);
  const page = await context.newPage();
  await signIn(page, userId);
  return page;
}

function siteItem(page: Page, name: string) {
  return page
    .getByRole('region', { name: 'Sites' })
    .getByRole('listitem')
    .filter({ hasText: name });
}

test('a backup to three sites; a killed site catches up; a restore heals a damaged chunk from another site', async ({
  browser,
}, testInfo) => {
  test.setTimeout(RESTORE_TIMEOUT + 120_000);
  const [tokyo, osaka, sapporo] = await Promise.all([
    startSite('Tokyo', E2E_PORT + 6),
    startSite('Osaka', E2E_PORT + 8),
    startSite('Sapporo', E2E_PORT + 10),
  ]);
  await trustEachOther([tokyo, osaka, sapporo]);
  const image = workshop.iso('SITECOPIES', 6);

  // The operator signs in once, at Tokyo, and is signed in at all three.
  const operator = await signedInAt(browser, tokyo, 'operator');
  for (const name of ['Tokyo', 'Osaka', 'Sapporo']) {
    await expect(siteItem(operator, name)).toContainText('signed in');
  }
  await operator.getByRole('link', { name: 'Backup', exact: true }).click();
  const sites = operator.getByRole('group', { name: 'Sites' });
  await expect(sites.getByRole('checkbox', { name: 'Tokyo' })).toBeChecked();
  await expect(sites.getByRole('checkbox', { name: 'Tokyo' })).toBeDisabled();
  await chooseImage(operator, image.path);
  await expect(operator.getByRole('textbox', { name: 'Volume ID' })).toHaveValue(image.volumeId);
  await addRestorer(operator, 'restorer');
  await sites.getByRole('checkbox', { name: 'Osaka' }).check();
  await sites.getByRole('checkbox', { name: 'Sapporo' }).check();
  await sites.getByRole('spinbutton', { name: 'Sites needed to restore' }).fill('2');
  await operator.getByRole('button', { name: 'Back up' }).click();
  // Killed once its share is sealed to it (the run has claimed the volume), while Tokyo stores the generation.
  await expect(status(operator)).toContainText(
    /Claiming|Encrypting|Everything is encrypted|Registering/,
  );
  await sapporo.stop();

  // Complete once every site that answers holds it; Sapporo waits.
  await expect(status(operator)).toContainText('Backup complete', { timeout: 120_000 });
  await expect(status(operator)).toContainText(sha256File(image.path));
  await expect(status(operator)).toContainText('Osaka generation 1 stored, keeps a share');
  await expect(status(operator)).toContainText('Sapporo holds no generation yet; waiting');
  await expect(status(operator)).toContainText('2 of 3 sites confirmed');
  expect(blobsAtSite(osaka.dataDir, image.volumeId).length).toBe(
    blobsAtSite(tokyo.dataDir, image.volumeId).length,
  );

  // Sapporo comes back and catches up by itself, with nothing pressed.
  await sapporo.start();
  await expect(status(operator)).toContainText('Sapporo generation 1 stored, keeps a share', {
    timeout: 90_000,
  });
  await expect(status(operator)).toContainText('3 of 3 sites confirmed');
  const chunks = blobsAtSite(tokyo.dataDir, image.volumeId);
  expect(blobsAtSite(sapporo.dataDir, image.volumeId).sort()).toEqual([...chunks].sort());

  // A restorer elsewhere: Osaka is down and a chunk at Tokyo is damaged.
  const restorer = await signedInAt(browser, tokyo, 'restorer');
  await expect(siteItem(restorer, 'Sapporo')).toContainText('signed in');
  await osaka.stop();
  corruptBlob(tokyo.dataDir, image.volumeId, chunks[0]!);
  await restorer.getByRole('link', { name: 'Restore', exact: true }).click();
  const download = restorer.waitForEvent('download', { timeout: RESTORE_TIMEOUT });
  await row(restorer, image.volumeId).getByRole('button', { name: 'Restore', exact: true }).click();
  await expect(restoreStatus(restorer)).toContainText('Restore complete', {
    timeout: RESTORE_TIMEOUT,
  });
  expect(await savedSha256(download, testInfo)).toBe(sha256File(image.path));
  await expect(restoreStatus(restorer)).toContainText('1 chunk from Sapporo.');
  await expect(restoreStatus(restorer)).toContainText(
    /A damaged copy of chunk \d+ from this console’s site was passed over; that site’s administrators were alerted\./,
  );

  // Tokyo served the bad chunk: its administrators hear of it, naming the volume.
  const alerts = await adminAlerts(tokyo.url);
  expect(alerts.some((a) => a.kind === 'integrity_failure' && a.volumeId === image.volumeId)).toBe(
    true,
  );
});
