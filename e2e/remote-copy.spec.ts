/**
 * Remote copy stories (RC-1 … RC-7) in Debian's Chromium against a real
 * site of their own, which they stop and start again on the same port (the
 * browser's local copy and outbox belong to the origin): the operator's
 * console is the primary of each pair, the site the secondary, and an
 * administrator steers the pair from /admin/remote-copy.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { expect, test, type Browser, type Locator, type Page } from '@playwright/test';
import type { GenerationManifest, PairSummary } from '../src/core/contract';
import { E2E_PORT } from '../playwright.config';
import { ImageWorkshop, MiB, sha256File, type TestImage } from './support/images';
import { apiClient } from './support/restore-seed';
import { signIn } from './support/session';
import { SiteProcess } from './support/site-process';

const BACKUP_TIMEOUT = 180_000;
/** The console calls the site unreachable after 15 s and beats every 5 s. */
const PSUE_TIMEOUT = 60_000;

const workshop = new ImageWorkshop();
const site = new SiteProcess(E2E_PORT + 7);

test.describe.configure({ mode: 'serial' });

let image: TestImage;
let operator: Page;
let admin: Page;

/** The same volume (same ext4 UUID) with one region rewritten: its next generation. */
function nextGeneration(from: TestImage, name: string, offsetMiB: number): TestImage {
  const path = from.path.replace(/[^/]+$/, `${name}.img`);
  copyFileSync(from.path, path);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, randomBytes(256 * 1024), 0, 256 * 1024, offsetMiB * MiB);
  } finally {
    closeSync(fd);
  }
  return { ...from, path };
}

async function pageFor(browser: Browser, userId: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: site.url, acceptDownloads: true });
  const page = await context.newPage();
  await signIn(page, userId);
  return page;
}

function backupStatus(page: Page): Locator {
  return page.getByRole('region', { name: 'Backup status' });
}

/** Starts a backup of `generation` on /backup, naming the restorer, once `ready` holds. */
async function startBackup(
  page: Page,
  generation: TestImage,
  ready: () => Promise<void> = async () => undefined,
): Promise<void> {
  await page.goto('/backup');
  await ready();
  await page.getByLabel('Image file').setInputFiles(generation.path);
  await expect(page.getByRole('textbox', { name: 'Volume ID' })).toHaveValue(generation.volumeId);
  const restorers = page.getByRole('combobox', { name: 'Restorers' });
  await restorers.fill('restorer');
  await restorers.press('Enter');
  await expect(page.getByRole('button', { name: 'Remove restorer' })).toBeVisible();
  await page.getByRole('button', { name: 'Back up' }).click();
}

async function expectBackupComplete(page: Page, generation: TestImage): Promise<void> {
  await expect(backupStatus(page)).toContainText('Backup complete', { timeout: BACKUP_TIMEOUT });
  await expect(backupStatus(page)).toContainText(sha256File(generation.path));
}

/** The operator's own view of the pair, on /backup. */
function myPair(page: Page): Locator {
  return page
    .getByRole('table', { name: 'My remote copy pairs' })
    .getByRole('row')
    .filter({ hasText: image.volumeId });
}

async function myPairState(page: Page): Promise<string> {
  const state = myPair(page).locator('.state');
  return (await state.count()) ? ((await state.textContent()) ?? '').trim() : '';
}

function adminRow(page: Page): Locator {
  return page
    .getByRole('table', { name: 'Remote copy pairs' })
    .getByRole('row')
    .filter({ has: page.getByRole('button', { name: `Details of ${image.volumeId}` }) });
}

/** The text in the "State" column of the pair's row on the admin screen. */
async function adminState(page: Page): Promise<string> {
  const table = page.getByRole('table', { name: 'Remote copy pairs' });
  const headers = await table.getByRole('columnheader').allTextContents();
  const column = headers.map((h) => h.trim()).indexOf('State');
  const cell = adminRow(page).getByRole('cell').nth(column);
  return (await cell.locator('.state > *').allTextContents()).map((t) => t.trim()).join(' ');
}

/** The pair as the site's API gives it to administrators. */
async function sitePair(): Promise<PairSummary> {
  const client = await apiClient(site.url, 'admin');
  const { pairs } = (await client.request('GET', '/api/admin/pairs')).json as {
    pairs: PairSummary[];
  };
  const pair = pairs.find((p) => p.volumeId === image.volumeId);
  if (!pair) throw new Error(`the site has no pair for ${image.volumeId}`);
  return pair;
}

async function adminAction(page: Page, action: string, reason: string): Promise<void> {
  await page.goto('/admin/remote-copy');
  // A live reload of the table as the pair beats can close the menu while it opens
  // (seen in CI): it is opened again then, as a person would.
  const item = page.getByRole('menuitem', { name: action });
  await expect(async () => {
    if (!(await item.isVisible())) {
      await adminRow(page)
        .getByRole('button', { name: `Actions for ${image.volumeId}` })
        .click();
    }
    await item.click({ timeout: 5_000 });
  }).toPass({ timeout: 60_000 });
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Reason').fill(reason);
  await dialog.getByRole('button', { name: action, exact: true }).click();
}

test.beforeAll(async ({ browser }) => {
  test.setTimeout(180_000);
  await site.start();
  image = workshop.ext4('remote-copy', 24, 12);
  operator = await pageFor(browser, 'operator');
  admin = await pageFor(browser, 'admin');
});

test.afterAll(async () => {
  await operator?.context().close();
  await admin?.context().close();
  await site.remove();
  workshop.remove();
});

test('a backup’s pair reaches PAIR, on the operator’s side and on the admin screen', async () => {
  test.setTimeout(BACKUP_TIMEOUT);
  await startBackup(operator, image);
  await expectBackupComplete(operator, image);
  await expect.poll(() => myPairState(operator)).toBe('PAIR');
  await expect(myPair(operator)).toContainText('nothing pending');
  await admin.goto('/admin/remote-copy');
  await expect.poll(() => adminState(admin)).toBe('PAIR');
  await operator.screenshot({
    path: test.info().outputPath('my-pairs-pair.png'),
    fullPage: true,
  });
});

test('the site stops: PSUE on the operator’s side; back to PAIR by itself, and the admin screen keeps the episode with its cause', async () => {
  test.setTimeout(240_000);
  await site.stop();
  await expect.poll(() => myPairState(operator), { timeout: PSUE_TIMEOUT }).toBe('PSUE');
  await expect(myPair(operator)).toContainText('the site could not be reached for');
  await site.start();
  await expect.poll(() => myPairState(operator), { timeout: PSUE_TIMEOUT }).toBe('PAIR');

  await admin.goto('/admin/remote-copy');
  await expect.poll(() => adminState(admin)).toBe('PAIR');
  await admin.getByRole('button', { name: `Details of ${image.volumeId}` }).click();
  const history = admin
    .getByRole('dialog', { name: `Pair of ${image.volumeId}` })
    .getByRole('table', { name: 'State history of this pair' });
  await expect(history).toContainText('PAIR → PSUE');
  await expect(history).toContainText('the site could not be reached for');
  await expect(history).toContainText('PSUE → PAIR');
});

test('a new generation written while the site is down resynchronises to PAIR by itself', async () => {
  test.setTimeout(300_000);
  const second = nextGeneration(image, 'remote-copy-2', 20);
  // The site goes away as the new generation's first chunk leaves, after its key announcement.
  let transfers = 0;
  await operator.route('**/api/pairs/*/transfers/*', async (route) => {
    transfers += 1;
    if (transfers === 2) await site.stop();
    await route.continue().catch(() => undefined);
  });
  await startBackup(operator, second);
  await expect(backupStatus(operator)).toContainText('The site cannot be reached', {
    timeout: 60_000,
  });
  await expect.poll(() => myPairState(operator), { timeout: PSUE_TIMEOUT }).toBe('PSUE');
  await operator.screenshot({ path: test.info().outputPath('my-pairs-psue.png'), fullPage: true });
  await operator.unroute('**/api/pairs/*/transfers/*');
  await site.start();
  // Nobody presses anything: the outbox drains and the generation commits.
  await expectBackupComplete(operator, second);
  await expect.poll(() => myPairState(operator), { timeout: PSUE_TIMEOUT }).toBe('PAIR');
  await expect(myPair(operator)).toContainText('nothing pending');
  await admin.goto('/admin/remote-copy');
  await expect.poll(() => adminState(admin)).toBe('PAIR');
  image = second;
});

test('admin suspends: the primary stops sending, PSUS with its cut on both sides; resume sends again and PAIR', async () => {
  test.setTimeout(300_000);
  await operator.goto('/backup');
  await expect.poll(() => myPairState(operator)).toBe('PAIR');
  await adminAction(admin, 'Suspend', 'maintenance window');
  const cut = (await sitePair()).seqApplied;
  await expect.poll(() => myPairState(operator), { timeout: 30_000 }).toBe('PSUS');
  await expect(myPair(operator)).toContainText(`consistent cut at sequence ${cut}`);
  await expect
    .poll(() => adminState(admin), { timeout: 30_000 })
    .toBe(`PSUS cut at sequence ${cut}`);

  // A new generation while suspended is written here and not sent.
  const third = nextGeneration(image, 'remote-copy-3', 8);
  const sent: string[] = [];
  operator.on('request', (request) => {
    if (/\/transfers\//.test(request.url())) sent.push(request.url());
  });
  // Only once this console knows the pair is suspended does the backup start.
  await startBackup(operator, third, () =>
    expect.poll(() => myPairState(operator), { timeout: 30_000 }).toBe('PSUS'),
  );
  await expect(backupStatus(operator)).toContainText('Everything is encrypted and stored here', {
    timeout: BACKUP_TIMEOUT,
  });
  await expect(myPair(operator)).toContainText(/\d+ transfers/, { timeout: 30_000 });
  expect(sent).toEqual([]);
  expect((await sitePair()).seqApplied).toBe(cut);
  await operator.screenshot({ path: test.info().outputPath('my-pairs-psus.png'), fullPage: true });

  await adminAction(admin, 'Resume', 'maintenance over');
  await expectBackupComplete(operator, third);
  expect(sent.length).toBeGreaterThan(0);
  await expect.poll(() => myPairState(operator), { timeout: 30_000 }).toBe('PAIR');
  await admin.goto('/admin/remote-copy');
  await expect.poll(() => adminState(admin), { timeout: 30_000 }).toBe('PAIR');
  image = third;
});

test('rekey now: the epoch increments on both sides, and the restorer restores the next generation byte for byte across epochs', async ({
  browser,
}, testInfo) => {
  test.setTimeout(300_000);
  await operator.goto('/backup');
  await expect.poll(() => myPairState(operator)).toBe('PAIR');
  const before = (await sitePair()).epochSecondary!;
  await adminAction(admin, 'Rekey now', 'rotation drill');
  await expect
    .poll(async () => (await sitePair()).epochSecondary, { timeout: 30_000 })
    .toBe(before + 1);
  await expect
    .poll(async () => (await sitePair()).epochPrimary, { timeout: 30_000 })
    .toBe(before + 1);
  await expect(myPair(operator)).toContainText(`here ${before + 1} · site ${before + 1}`, {
    timeout: 30_000,
  });
  await admin.goto('/admin/remote-copy');
  await expect(adminRow(admin)).toContainText(`primary ${before + 1}`);
  await expect(adminRow(admin)).toContainText(`secondary ${before + 1}`);

  // The next generation changes one region: its new chunk uses the new key, the rest older ones.
  const fourth = nextGeneration(image, 'remote-copy-4', 16);
  await startBackup(operator, fourth);
  await expectBackupComplete(operator, fourth);
  expect((await sitePair()).epochSecondary).toBe(before + 1);
  // Generation 4's index names chunks of the new epoch and of older ones.
  const owner = await apiClient(site.url, 'operator');
  const { manifest } = (
    await owner.request(
      'GET',
      `/api/volumes/${encodeURIComponent(image.volumeId)}/generations/4/manifest`,
    )
  ).json as GenerationManifest;
  const epochs = new Set(manifest.index.chunks.map((chunk) => chunk.epoch));
  expect(epochs.has(before + 1)).toBe(true);
  expect(epochs.size).toBeGreaterThan(1);

  const restorer = await pageFor(browser, 'restorer');
  try {
    await restorer.getByRole('link', { name: 'Restore', exact: true }).click();
    const volume = restorer
      .getByRole('table', { name: 'Restorable volumes' })
      .getByRole('row')
      .filter({ hasText: image.volumeId });
    await expect(volume).toContainText('Can be restored now');
    const download = restorer.waitForEvent('download', { timeout: BACKUP_TIMEOUT });
    await volume.getByRole('button', { name: 'Restore', exact: true }).click();
    const file = testInfo.outputPath('restored.img');
    await (await download).saveAs(file);
    expect(sha256File(file)).toBe(sha256File(fourth.path));
  } finally {
    await restorer.context().close();
  }
});
