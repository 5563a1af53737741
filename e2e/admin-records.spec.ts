import { randomBytes } from 'node:crypto';
import { expect, test, type Browser, type Page } from '@playwright/test';
import type { KeyRelease, PairSummary, SiteInfo } from '../src/core/contract';
import {
  backUp,
  newOperator,
  randomImage,
  requestRelease,
  restore,
} from '../mock-server/test/support/backup-client';
import { Client } from '../mock-server/test/support/test-site';
import { E2E_PORT } from '../playwright.config';
import { chartSettled } from './support/charts';
import { signIn } from './support/session';
import { runSiteCommand } from './support/site-cli';
import { SiteProcess } from './support/site-process';

/**
 * The restorer DB, approvals and remote copy as administrators run them
 * (ES-1..ES-3, BK-5, RC-3..RC-7), in Debian's Chromium against the real site.
 * Volumes are backed up through the site's API by the Node reference client,
 * as the browser's backup does; what restorers get is checked the same way.
 */
const SITE = `http://127.0.0.1:${E2E_PORT}`;
/** Records seeded for the search story: the whole of ES-1's 100 000. */
const SEEDED_RECORDS = 100_000;

async function apiClient(userId: string, site = SITE): Promise<Client> {
  const client = new Client(site);
  const answer = await client.signIn(userId);
  if (answer.status !== 200) throw new Error(`${userId} could not sign in: ${answer.text}`);
  return client;
}

/** `operator` backs up a small random image as `volumeId` (claim, chunks, escrow, commit). */
async function backedUp(
  volumeId: string,
  terms: Parameters<typeof backUp>[4] = {},
): Promise<{ image: Uint8Array; pairId: string; operator: Client }> {
  const client = await apiClient('operator');
  const operator = await newOperator(client, 'operator');
  const site = (await client.request('GET', '/api/site')).json as SiteInfo;
  const image = randomImage(5000, randomBytes(1)[0]! + 1);
  const { claim } = await backUp(operator, site, volumeId, image, terms);
  return { image, pairId: claim.pairId, operator: client };
}

async function adminPage(browser: Browser, userId: string, baseURL = SITE): Promise<Page> {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await signIn(page, userId);
  return page;
}

/** Fills the reason of the open dialog and confirms with its button. */
async function confirmWithReason(page: Page, button: string, reason: string): Promise<void> {
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Reason').fill(reason);
  await dialog.getByRole('button', { name: button, exact: true }).click();
}

function recordRow(page: Page, volumeId: string) {
  return page
    .getByRole('table', { name: 'Restorer DB' })
    .getByRole('row')
    .filter({ has: page.getByRole('button', { name: `Details of ${volumeId}` }) });
}

/** Opens a record's detail from the Restorer DB, found through its searchbox. */
async function openRecord(page: Page, volumeId: string) {
  await page.goto('/admin/restorers');
  // The row to open is the one the search found, once its answer is shown.
  const searched = page.waitForResponse(
    (r) =>
      r.url().includes('/api/admin/records?') &&
      new URL(r.url()).searchParams.get('q') === volumeId,
  );
  await page.getByRole('searchbox', { name: 'Search' }).fill(volumeId);
  await searched;
  await expect(page.getByRole('table', { name: 'Restorer DB' })).toHaveAttribute(
    'aria-busy',
    'false',
  );
  await expect(recordRow(page, volumeId)).toHaveCount(1);
  await page.getByRole('button', { name: `Details of ${volumeId}` }).click();
  const detail = page.getByRole('region', { name: `Escrow record ${volumeId}` });
  await expect(detail.getByRole('table', { name: `Key releases of ${volumeId}` })).toBeVisible();
  return detail;
}

function pairRow(page: Page, volumeId: string) {
  return page
    .getByRole('table', { name: 'Remote copy pairs' })
    .getByRole('row')
    .filter({ has: page.getByRole('button', { name: `Details of ${volumeId}` }) });
}

/** The text in the "State" column of the pair's row. */
async function pairState(page: Page, volumeId: string): Promise<string> {
  const table = page.getByRole('table', { name: 'Remote copy pairs' });
  const headers = await table.getByRole('columnheader').allTextContents();
  const column = headers.map((h) => h.trim()).indexOf('State');
  const cell = pairRow(page, volumeId).getByRole('cell').nth(column);
  return (await cell.locator('.state > *').allTextContents()).map((t) => t.trim()).join(' ');
}

test.describe('administrators run the restorer DB, approvals and remote copy', () => {
  test('admin adds restorer2 to a volume, who can then restore it; after a revoke nobody can', async ({
    browser,
  }, testInfo) => {
    const volumeId = `ext4:e2e-add-${randomBytes(4).toString('hex')}`;
    const { image } = await backedUp(volumeId);
    const restorer2 = await apiClient('restorer2');
    expect((await requestRelease(restorer2, volumeId, 1)).answer.status).toBe(403);

    const admin = await adminPage(browser, 'admin');
    const detail = await openRecord(admin, volumeId);
    await detail.getByRole('button', { name: 'Change who may get the keys' }).click();
    const dialog = admin.getByRole('dialog');
    await dialog.getByLabel('User ID to add').fill('restorer2');
    await dialog.getByRole('button', { name: 'Add', exact: true }).click();
    await confirmWithReason(admin, 'Save', 'ticket 42: second restorer for the audit');
    await expect(dialog).toBeHidden();
    await expect(recordRow(admin, volumeId)).toContainText('operator, restorer2');
    await expect(admin.getByText(`the people who may get the keys of ${volumeId}`)).toBeVisible();
    await admin.screenshot({ path: testInfo.outputPath('restorer-db.png'), fullPage: true });

    const restored = await restore(restorer2, volumeId);
    expect(Buffer.compare(Buffer.from(restored.image), Buffer.from(image))).toBe(0);

    await detail.getByRole('button', { name: 'Revoke', exact: true }).click();
    await confirmWithReason(admin, 'Revoke', 'medium reported stolen');
    await expect(recordRow(admin, volumeId)).toContainText('Revoked');
    const refused = await requestRelease(restorer2, volumeId, 1);
    expect(refused.answer.status).toBe(403);
    expect(refused.answer.json).toMatchObject({ code: 'record_revoked' });
  });

  test('re-arming a burned record by admin waits until admin2 approves it in Approvals', async ({
    browser,
  }, testInfo) => {
    const volumeId = `iso9660:E2E_REARM_${randomBytes(3).toString('hex').toUpperCase()}:2026-11-21-00-00-00-00`;
    await backedUp(volumeId, { restorers: ['restorer'], policy: { kind: 'one-time' } });
    const restorer = await apiClient('restorer');
    await restore(restorer, volumeId);
    const burned = await requestRelease(restorer, volumeId, 1);
    expect(burned.answer.json).toMatchObject({ code: 'key_not_found' });

    const admin = await adminPage(browser, 'admin');
    const detail = await openRecord(admin, volumeId);
    await expect(recordRow(admin, volumeId)).toContainText('Burned');
    await detail.getByRole('button', { name: 'Re-arm', exact: true }).click();
    await confirmWithReason(admin, 'Request re-arm', 'yearly restore test');
    await expect(admin.getByText(`Re-arm of ${volumeId} requested`)).toBeVisible();

    // The one who asked cannot approve: the site refuses and says why.
    await admin.goto('/admin/approvals');
    const nav = admin.getByRole('navigation', { name: 'Administration' });
    await expect(nav.getByRole('link', { name: /^Approvals \d+$/ })).toBeVisible();
    const table = admin.getByRole('table', { name: 'Approvals' });
    const request = table.getByRole('row').filter({ hasText: volumeId });
    await request.getByRole('button', { name: /^Approve:/ }).click();
    await confirmWithReason(admin, 'Approve', 'looks fine to me');
    await expect(admin.getByRole('dialog')).toContainText(
      'Nobody approves their own request: another administrator must decide.',
    );
    await admin.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    expect((await requestRelease(restorer, volumeId, 1)).answer.json).toMatchObject({
      code: 'key_not_found',
    });

    const admin2 = await adminPage(browser, 'admin2');
    await admin2.goto('/admin/approvals');
    const pending = admin2
      .getByRole('table', { name: 'Approvals' })
      .getByRole('row')
      .filter({ hasText: volumeId });
    await expect(pending).toContainText('Re-arm');
    await expect(pending).toContainText('yearly restore test');
    await admin2.screenshot({ path: testInfo.outputPath('approvals.png'), fullPage: true });
    await pending.getByRole('button', { name: /^Approve:/ }).click();
    await confirmWithReason(admin2, 'Approve', 'second pair of eyes: agreed');
    await expect(pending).toHaveCount(0);
    await expect(admin2.getByText(`Approved: the request of admin for ${volumeId}.`)).toBeVisible();

    const again = await restore(restorer, volumeId);
    expect((again.release as KeyRelease).state).toBe('released');
    // The approval left the first administrator's list as well.
    await admin.reload();
    await expect(
      admin
        .getByRole('table', { name: 'Approvals' })
        .getByRole('row')
        .filter({ hasText: volumeId }),
    ).toHaveCount(0);
  });

  test(`searching ${SEEDED_RECORDS.toLocaleString('en')} seeded records returns the right rows`, async ({
    browser,
  }, testInfo) => {
    test.setTimeout(180_000);
    // A site of its own: seeded records name the demo restorers, and would
    // crowd their lists in the other stories that share the e2e site.
    const site = new SiteProcess(E2E_PORT + 13);
    try {
      await site.start();
      await runSiteCommand(
        ['seed', '--records', String(SEEDED_RECORDS), '--data-dir', site.dataDir],
        { timeout: 120_000 },
      );
      const admin = await adminPage(browser, 'admin', site.url);
      await admin.goto('/admin/restorers');
      const table = admin.getByRole('table', { name: 'Restorer DB' });
      await expect(admin.getByText('More than 10,000 records')).toBeVisible();
      await expect(table.getByRole('row')).toHaveCount(26);

      // Seeded IDs are seed:<index in hex, 8 digits>-<kind>: 16 of them start with seed:0000ff1.
      const search = admin.getByRole('searchbox', { name: 'Search' });
      const started = Date.now();
      await search.fill('seed:0000ff1');
      await expect(admin.getByText('16 records', { exact: true })).toBeVisible();
      testInfo.annotations.push({
        type: 'search',
        description: `typed search answered on screen in ${Date.now() - started} ms (300 ms of it the typing pause)`,
      });
      const ids = async () =>
        (await table.locator('tbody code').allTextContents()).map((id) => id.trim());
      const expected = Array.from({ length: 16 }, (_, i) => 0xff10 + i);
      const kind = (i: number) => ['ISO', 'EXT4', 'FAT', 'GPT'][i % 4];
      const idOf = (i: number) => `seed:${i.toString(16).padStart(8, '0')}-${kind(i)}`;
      expect((await ids()).sort()).toEqual(expected.map(idOf).sort());

      // With a state filter: the seed revokes every fifth record.
      await admin.getByLabel('State').selectOption({ label: 'Revoked' });
      const revoked = expected.filter((i) => i % 5 === 4);
      await expect(admin.getByText(`${revoked.length} records`, { exact: true })).toBeVisible();
      expect((await ids()).sort()).toEqual(revoked.map(idOf).sort());
      await admin.screenshot({
        path: testInfo.outputPath('restorer-db-search.png'),
        fullPage: true,
      });

      // A link from the alerts screen opens the record by its volume ID.
      await admin.goto(`/admin/restorers?q=${encodeURIComponent(idOf(99_999))}`);
      await expect(admin.getByRole('searchbox', { name: 'Search' })).toHaveValue(idOf(99_999));
      await expect(admin.getByText('1 record', { exact: true })).toBeVisible();
      expect(await ids()).toEqual([idOf(99_999)]);
    } finally {
      await site.remove();
    }
  });

  test('a backed-up volume’s pair shows PAIR; suspend shows requested until the primary acknowledges with the cut', async ({
    browser,
  }, testInfo) => {
    const volumeId = `vfat:E2E${randomBytes(2).toString('hex').toUpperCase()}:${randomBytes(2).toString('hex').toUpperCase()}-0000`;
    const { pairId, operator } = await backedUp(volumeId);

    const admin = await adminPage(browser, 'admin');
    await admin.goto('/admin/remote-copy');
    await expect(admin.getByText('Live: pairs change here')).toBeVisible();
    const row = pairRow(admin, volumeId);
    await expect(row).toHaveCount(1);
    await expect.poll(() => pairState(admin, volumeId)).toBe('PAIR');

    // The primary reports a backlog (RC-7 figures arrive live with its heartbeat).
    const beat = {
      state: 'PAIR',
      pending: 2,
      pendingBytes: 8 * 1024 * 1024,
      oldestPendingAt: new Date(Date.now() - 20_000).toISOString(),
      epoch: 0,
      nextRotationAt: new Date(Date.now() + 3_600_000).toISOString(),
      bytesPerSecond: 2 * 1024 * 1024,
    };
    const first = await operator.request('POST', `/api/pairs/${pairId}/heartbeat`, {
      json: { ...beat, seqSent: 5 },
    });
    expect(first.status).toBe(200);
    await expect(row).toContainText('2 chunks');
    await expect(row).toContainText('2 MiB/s');

    await row.getByRole('button', { name: `Actions for ${volumeId}` }).click();
    await admin.getByRole('menuitem', { name: 'Suspend' }).click();
    await confirmWithReason(admin, 'Suspend', 'maintenance window');
    await expect.poll(() => pairState(admin, volumeId)).toBe('PAIR Suspend requested');
    await admin.screenshot({
      path: testInfo.outputPath('remote-copy-requested.png'),
      fullPage: true,
    });

    // The primary (the operator's browser, here the reference client) hears the
    // instruction on its next contact and acknowledges it with its cut (RC-5).
    const pairs = (await (await apiClient('admin')).request('GET', '/api/admin/pairs')).json as {
      pairs: PairSummary[];
    };
    const cut = pairs.pairs.find((p) => p.pairId === pairId)!.seqApplied;
    const heard = await operator.request('POST', `/api/pairs/${pairId}/heartbeat`, {
      json: {
        state: 'PAIR',
        seqSent: cut,
        pending: 0,
        pendingBytes: 0,
        oldestPendingAt: null,
        epoch: 0,
        nextRotationAt: null,
      },
    });
    const [instruction] = (heard.json as { instructions: { id: string; action: string }[] })
      .instructions;
    expect(instruction?.action).toBe('suspend');
    await expect.poll(() => pairState(admin, volumeId)).toMatch(/^PAIR Suspend requested/);
    const acked = await operator.request(
      'POST',
      `/api/pairs/${pairId}/instructions/${instruction!.id}/ack`,
      { json: { cutSeq: cut } },
    );
    expect(acked.status).toBe(200);
    await expect.poll(() => pairState(admin, volumeId)).toBe(`PSUS cut at sequence ${cut}`);

    await admin.getByRole('button', { name: `Details of ${volumeId}` }).click();
    const drawer = admin.getByRole('dialog', { name: `Pair of ${volumeId}` });
    await expect(drawer.getByRole('table', { name: 'State history of this pair' })).toContainText(
      'PAIR → PSUS',
    );
    // ECharts draws its lines with a short animation.
    await expect(drawer.locator('canvas')).toBeVisible();
    await chartSettled(drawer.locator('canvas'));
    await admin.screenshot({ path: testInfo.outputPath('remote-copy-detail.png'), fullPage: true });
  });
});
