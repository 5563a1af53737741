import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { addRestorer, chooseImage, status } from './support/backup-page';
import { ImageWorkshop, sha256File } from './support/images';
import { E2E_PORT } from './support/paths';
import { adminAlerts } from './support/restore-seed';
import {
  openVolume,
  RESTORE_TIMEOUT,
  row,
  savedSha256,
  status as restoreStatus,
} from './support/restore-page';
import { signIn } from './support/session';
import { SiteProcess } from './support/site-process';
import { trustEachOther } from './support/sites';

/**
 * Split keys (MS-4, MS-5, seed 004) with three real site processes: the
 * operator chooses 2 of 3 for a one-time volume (after seeing what 1 would
 * mean); a restorer restores byte for byte with one site down; a second
 * restore finds the record burned at the sites that released; an outsider is
 * refused at every site, and each site's administrators see the alert.
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

async function signedInAt(
  browser: import('@playwright/test').Browser,
  site: SiteProcess,
  userId: string,
): Promise<Page> {
  const context = await browser.newContext({ baseURL: site.url, acceptDownloads: true });
  contexts.push(context);
  const page = await context.newPage();
  await signIn(page, userId);
  // Signed in at the other sites too (MS-2) before anything is asked of them.
  for (const name of ['Tokyo', 'Osaka', 'Sapporo']) {
    await expect(
      page.getByRole('region', { name: 'Sites' }).getByRole('listitem').filter({ hasText: name }),
    ).toContainText('signed in');
  }
  return page;
}

test('keys split 2 of 3: chosen, restored with a site down, burned once, refused to an outsider everywhere', async ({
  browser,
}, testInfo) => {
  test.setTimeout(RESTORE_TIMEOUT + 180_000);
  const [tokyo, osaka, sapporo] = await Promise.all([
    startSite('Tokyo', E2E_PORT + 12),
    startSite('Osaka', E2E_PORT + 14),
    startSite('Sapporo', E2E_PORT + 16),
  ]);
  await trustEachOther([tokyo, osaka, sapporo]);
  const image = workshop.iso('SPLITKEYS', 5);

  const operator = await signedInAt(browser, tokyo, 'operator');
  await operator.getByRole('link', { name: 'Backup', exact: true }).click();
  await chooseImage(operator, image.path);
  await expect(operator.getByRole('textbox', { name: 'Volume ID' })).toHaveValue(image.volumeId);
  await addRestorer(operator, 'restorer');
  await addRestorer(operator, 'restorer2');
  const sites = operator.getByRole('group', { name: 'Sites' });
  await sites.getByRole('checkbox', { name: 'Osaka' }).check();
  await sites.getByRole('checkbox', { name: 'Sapporo' }).check();
  const needed = sites.getByRole('spinbutton', { name: 'Sites needed to restore' });
  await expect(needed).toHaveValue('');
  const backUp = operator.getByRole('button', { name: 'Back up' });
  await expect(backUp).toBeDisabled();

  // k = 1 (reusable): any one site could decrypt, and only a confirmation lets it go on.
  await needed.fill('1');
  await expect(sites).toContainText('any one site could decrypt');
  await expect(backUp).toBeDisabled();
  const confirm = sites.getByRole('checkbox', {
    name: 'I understand that any one site could decrypt this volume',
  });
  await confirm.check();
  await expect(backUp).toBeEnabled();

  // One-time: 1 of 3 is refused with the reason; 2 of 3 is taken.
  await operator.getByLabel('Release policy').selectOption('one-time');
  await expect(sites).toContainText('needs more than half of the sites');
  await expect(backUp).toBeDisabled();
  await needed.fill('2');
  await expect(sites).toContainText('any 2 of them together can restore');
  await backUp.click();
  await expect(status(operator)).toContainText('Backup complete', { timeout: 120_000 });
  await expect(status(operator)).toContainText('3 of 3 sites confirmed', { timeout: 60_000 });

  // A restorer restores byte for byte with Sapporo down: Tokyo's and Osaka's shares suffice.
  await sapporo.stop();
  const restorer = await signedInAtTwo(browser, tokyo, 'restorer');
  await restorer.getByRole('link', { name: 'Restore', exact: true }).click();
  const download = restorer.waitForEvent('download', { timeout: RESTORE_TIMEOUT });
  await row(restorer, image.volumeId).getByRole('button', { name: 'Restore', exact: true }).click();
  await expect(restoreStatus(restorer)).toContainText('Restore complete', {
    timeout: RESTORE_TIMEOUT,
  });
  expect(await savedSha256(download, testInfo)).toBe(sha256File(image.path));
  await sapporo.start();

  // A second restore: Tokyo and Osaka burned the one-time record; Sapporo's share alone is not enough.
  const second = await signedInAt(browser, tokyo, 'restorer2');
  await second.getByRole('link', { name: 'Restore', exact: true }).click();
  await openVolume(second, image.volumeId);
  await expect(restoreStatus(second)).toContainText('1 of the 2 sites needed', {
    timeout: RESTORE_TIMEOUT,
  });
  await expect(restoreStatus(second)).toContainText('may already have been decrypted');
  await expect(restoreStatus(second)).toContainText('Sapporo: gave its share');

  // An outsider is refused at every site, and each site's administrators see it.
  const outsider = await signedInAt(browser, tokyo, 'outsider');
  await outsider.getByRole('link', { name: 'Restore', exact: true }).click();
  await openVolume(outsider, image.volumeId);
  await expect(restoreStatus(outsider)).toContainText('unauthorized use');
  for (const site of [tokyo, osaka, sapporo]) {
    await expect
      .poll(async () =>
        (await adminAlerts(site.url)).some(
          (a) => a.kind === 'unauthorized_restorer' && a.userId === 'outsider',
        ),
      )
      .toBe(true);
  }
});

/** A restorer's browser at `site` while one of the other sites is down (not all can say "signed in"). */
async function signedInAtTwo(
  browser: import('@playwright/test').Browser,
  site: SiteProcess,
  userId: string,
): Promise<Page> {
  const context = await browser.newContext({ baseURL: site.url, acceptDownloads: true });
  contexts.push(context);
  const page = await context.newPage();
  await signIn(page, userId);
  for (const name of ['Tokyo', 'Osaka']) {
    await expect(
      page.getByRole('region', { name: 'Sites' }).getByRole('listitem').filter({ hasText: name }),
    ).toContainText('signed in');
  }
  return page;
}
