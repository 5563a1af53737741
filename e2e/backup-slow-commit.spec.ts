/**
 * A slow commit (SPEC §4 crash safety, BK-8, BK-10) in Debian's Chromium
 * against the real site: the site stores the commit of a backup and then
 * holds it (CUSTODIAN_HOLD_AT=commit-stored) without answering, a gateway in
 * front of it gives up as a proxy's read timeout does, and the console sends
 * the commit again. The site answers the retry with the receipt of the one
 * generation it stored: the volume has generation 1 and no other, the
 * console's receipt is the site's, and a restorer gets the image back byte
 * for byte.
 */
import { readFileSync } from 'node:fs';
import { expect, test, type Page, type Route } from '@playwright/test';
import { E2E_PORT } from '../playwright.config';
import { BACKUP_TIMEOUT, backUp, expectComplete } from './support/backup-page';
import { ImageWorkshop, MiB, sha256File } from './support/images';
import { signIn } from './support/session';
import { SiteProcess } from './support/site-process';

const RESTORE_TIMEOUT = 180_000;
/** How long the gateway waits for the site's answer before it answers 504 itself. */
const GATEWAY_TIMEOUT_MS = 10_000;
const HOLDING = 'holding at commit-stored';

const workshop = new ImageWorkshop();
test.afterAll(() => workshop.remove());

/** The kind in a transfer's header (u32 length ‖ u16 header length ‖ header JSON ‖ …). */
function transferKind(body: Buffer | null): string | undefined {
  if (!body || body.length < 6) return undefined;
  const header = body.subarray(6, 6 + body.readUInt16BE(4)).toString('utf8');
  return (JSON.parse(header) as { kind?: string }).kind;
}

interface CommitAttempt {
  readonly seq: string;
  /** What the browser got: the site's status, or 504 from the gateway. */
  status?: number;
  /** Whether the site had said it was holding the commit when the gateway gave up. */
  siteHolding?: boolean;
  generation?: number;
}

/**
 * A gateway in front of the site for the page's transfers: chunks pass
 * untouched; a commit the site has not answered within GATEWAY_TIMEOUT_MS
 * gets 504 Gateway Timeout, as a reverse proxy's read timeout gives.
 */
async function gatewayInFront(page: Page, site: SiteProcess): Promise<CommitAttempt[]> {
  const attempts: CommitAttempt[] = [];
  await page.route(/\/api\/pairs\/[^/]+\/transfers\/\d+$/, async (route: Route) => {
    const request = route.request();
    if (request.method() !== 'PUT' || transferKind(request.postDataBuffer()) !== 'commit') {
      await route.continue();
      return;
    }
    const attempt: CommitAttempt = { seq: request.url().split('/').pop()! };
    attempts.push(attempt);
    const answer = route.fetch({ timeout: 0 });
    // The held request is never answered; it ends when the site stops.
    answer.catch(() => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), GATEWAY_TIMEOUT_MS);
    });
    const first = await Promise.race([answer, gaveUp]);
    clearTimeout(timer);
    if (first === 'timeout') {
      attempt.status = 504;
      attempt.siteHolding = site.output.includes(HOLDING);
      await route.fulfill({
        status: 504,
        contentType: 'text/html',
        body: '<html><body><h1>504 Gateway Time-out</h1></body></html>',
      });
      return;
    }
    attempt.status = first.status();
    const json = (await first.json().catch(() => undefined)) as
      { receipt?: { statement?: { generation?: number } } } | undefined;
    attempt.generation = json?.receipt?.statement?.generation;
    await route.fulfill({ response: first });
  });
  return attempts;
}

test('a commit the site holds past the gateway’s timeout is sent again and makes one generation, not two', async ({
  browser,
}, testInfo) => {
  test.setTimeout(BACKUP_TIMEOUT + RESTORE_TIMEOUT);
  // A site of its own, held after storing a commit and before answering it.
  const site = new SiteProcess(E2E_PORT + 5, { CUSTODIAN_HOLD_AT: 'commit-stored' });
  await site.start();
  const image = workshop.random('slow-commit.img', 9 * MiB);
  const operatorContext = await browser.newContext({ baseURL: site.url, acceptDownloads: true });
  const restorerContext = await browser.newContext({ baseURL: site.url, acceptDownloads: true });
  try {
    const operator = await operatorContext.newPage();
    const commits = await gatewayInFront(operator, site);
    await signIn(operator, 'operator');
    await backUp(operator, image);
    const volumeId = await operator.getByRole('textbox', { name: 'Volume ID' }).inputValue();
    await expectComplete(operator, image);

    // The first commit was stored and held; the gateway gave up on it; the
    // console sent the same transfer again and the site answered it.
    expect(site.output.split(HOLDING)).toHaveLength(2);
    expect(commits.length).toBeGreaterThanOrEqual(2);
    expect(commits[0]).toMatchObject({ status: 504, siteHolding: true });
    expect(new Set(commits.map((c) => c.seq)).size).toBe(1);
    expect(commits.at(-1)).toMatchObject({ status: 200, generation: 1 });

    // The site holds exactly one generation of the volume: generation 1.
    const mine = (await (await operator.request.get('/api/volumes/mine')).json()) as {
      records: { volumeId: string; generations: number; latestGeneration: number }[];
    };
    expect(mine.records.filter((r) => r.volumeId === volumeId)).toEqual([
      expect.objectContaining({ generations: 1, latestGeneration: 1 }),
    ]);
    expect(
      (
        await operator.request.get(
          `/api/volumes/${encodeURIComponent(volumeId)}/generations/2/manifest`,
        )
      ).status(),
    ).toBe(404);

    // The receipt the console hands out is the one the site signed for generation 1.
    const landed = (await (
      await operator.request.get(
        `/api/volumes/${encodeURIComponent(volumeId)}/generations/1/manifest`,
      )
    ).json()) as { receipt: unknown };
    const download = operator.waitForEvent('download');
    await operator.getByRole('button', { name: 'Download receipt' }).click();
    const receiptFile = testInfo.outputPath('receipt.json');
    await (await download).saveAs(receiptFile);
    expect(JSON.parse(readFileSync(receiptFile, 'utf8'))).toEqual(landed.receipt);

    // The restorer sees one generation and restores it byte for byte.
    const restorer = await restorerContext.newPage();
    await signIn(restorer, 'restorer');
    const restorable = (await (await restorer.request.get('/api/restorable')).json()) as {
      volumes: { volumeId: string; generations: { generation: number }[] }[];
    };
    expect(
      restorable.volumes.find((v) => v.volumeId === volumeId)?.generations.map((g) => g.generation),
    ).toEqual([1]);
    await restorer.getByRole('link', { name: 'Restore', exact: true }).click();
    const volumeRow = restorer
      .getByRole('table', { name: 'Restorable volumes' })
      .getByRole('row')
      .filter({ hasText: volumeId });
    const restored = restorer.waitForEvent('download', { timeout: RESTORE_TIMEOUT });
    await volumeRow.getByRole('button', { name: 'Restore', exact: true }).click();
    const saved = testInfo.outputPath('restored.img');
    await (await restored).saveAs(saved);
    expect(sha256File(saved)).toBe(sha256File(image.path));
    await expect(restorer.getByRole('region', { name: 'Restore status' })).toContainText(
      'Restore complete',
      { timeout: RESTORE_TIMEOUT },
    );
  } finally {
    await operatorContext.close();
    await restorerContext.close();
    await site.remove();
  }
});
