import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { E2E_PORT } from './support/paths';
import { demoPassword, signIn } from './support/session';
import { SiteProcess } from './support/site-process';
import { fingerprintOf, trustEachOther, trustFromShell } from './support/sites';

/**
 * Trusting another site by its fingerprint (MS-1), with real site
 * processes: the administrator compares the fingerprint, the site then
 * answers that site's console across origins and no other, and a site that
 * comes back with other keys is refused and alerted.
 */

const contexts: BrowserContext[] = [];
const started: SiteProcess[] = [];

async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  return context.newPage();
}

async function startSite(name: string, port: number): Promise<SiteProcess> {
  const site = new SiteProcess(port, { CUSTODIAN_SITE_NAME: name });
  started.push(site);
  await site.start();
  return site;
}

test.afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
  for (const site of started.splice(0)) await site.remove();
});

/**
 * Whether a page of `from` may read this site's /api/site across origins. */
async function answersPageOf(browser: Browser, from: SiteProcess, siteUrl: string) {
  const page = await newPage(browser);
  await page.goto(`${from.url}/login`);
  return page.evaluate(async (url) => {
    try {
      const answer = await fetch(`${url}/api/site`);
      return answer.ok;
    } catch {
      return false;
    }
  }, siteUrl);
}

test('an administrator trusts Osaka by its fingerprint; only trusted consoles are answered; changed keys are refused and alerted', async ({
  browser,
  baseURL,
}) => {
  const home = baseURL!;
  const osaka = await startSite('Osaka', E2E_PORT + 2);
  const sapporo = await startSite('Sapporo', E2E_PORT + 3);
  const expected = await fingerprintOf(osaka.url);
  // Osaka's and Sapporo's consoles would call this site: their own sites trust it.
  const homeFingerprint = (await fingerprintOf(home)).fingerprint;
  await Promise.all([
    trustFromShell(osaka, home, homeFingerprint),
    trustFromShell(sapporo, home, homeFingerprint),
  ]);

  // Until this site trusts them, it answers neither console.
  expect(await answersPageOf(browser, osaka, home)).toBe(false);

  const admin = await newPage(browser);
  await signIn(admin, 'admin');
  await admin.goto('/admin/sites');
  const table = admin.getByRole('table', { name: 'Sites' });
  await expect(table).toContainText('This site');
  await admin.getByRole('button', { name: 'Add site' }).click();
  const address = admin.getByRole('textbox', { name: 'Site address' });
  const fetchButton = admin.getByRole('button', { name: 'Fetch fingerprints' });
  const trust = admin.getByRole('button', { name: 'Trust site' });

  // Bad addresses: a clear sentence each, nothing to trust.
  await address.fill(`http://127.0.0.1:${E2E_PORT + 4}`);
  await fetchButton.click();
  await expect(admin.getByText('No site answered at this address.')).toBeVisible();
  await expect(trust).toBeDisabled();
  await address.fill(home);
  await fetchButton.click();
  await expect(admin.getByText('This address is this site itself.')).toBeVisible();
  await expect(trust).toBeDisabled();

  await address.fill(osaka.url);
  await fetchButton.click();
  await expect(admin.getByText(expected.fingerprint)).toBeVisible();
  await expect(admin.getByText(expected.name, { exact: true })).toBeVisible();
  await trust.click();
  await expect(admin.getByText('Site “Osaka” is now trusted.')).toBeVisible();
  const osakaRow = table.getByRole('row').filter({ hasText: 'Osaka' });
  await expect(osakaRow).toContainText(expected.fingerprint);

  // Osaka's console is answered now; Sapporo's, not trusted, still is not.
  expect(await answersPageOf(browser, osaka, home)).toBe(true);
  expect(await answersPageOf(browser, sapporo, home)).toBe(false);

  // Osaka comes back with other keys at the same address: refused, alerted.
  await osaka.stop();
  const impostor = await startSite('Osaka', E2E_PORT + 2);
  await trustFromShell(impostor, home, homeFingerprint);
  await osakaRow.getByRole('button', { name: 'Check Osaka now' }).click();
  await expect(osakaRow).toContainText('Refused: keys changed');
  expect(await answersPageOf(browser, impostor, home)).toBe(false);
  await expect(osakaRow).toContainText(expected.fingerprint);
  await admin.goto('/admin/alerts');
  await expect(admin.getByRole('table', { name: 'Alerts' })).toContainText(
    'Pinned site key changed',
  );

  // Withdrawing trust is audited, with the reason.
  await admin.goto('/admin/sites');
  await osakaRow.getByRole('button', { name: 'Withdraw trust' }).click();
  const dialog = admin.getByRole('dialog');
  await dialog.getByLabel('Reason').fill('Osaka was rebuilt with new keys');
  await dialog.getByRole('button', { name: 'Withdraw', exact: true }).click();
  await expect(admin.getByText('Site “Osaka” is no longer trusted.')).toBeVisible();
  await expect(table.getByRole('row').filter({ hasText: 'Osaka' })).toHaveCount(0);
  await admin.goto('/admin/audit');
  const audit = admin.getByRole('table', { name: 'Audit log' });
  await expect(audit).toContainText('site_trust_withdrawn');
  await expect(audit).toContainText('site_trusted');
});

test('one sign-in signs in at every trusted site, each with its own credential, and a site that was away is signed in to again', async ({
  browser,
}) => {
  const [tokyo, osaka, sapporo] = await Promise.all([
    startSite('Tokyo', E2E_PORT + 4),
    startSite('Osaka', E2E_PORT + 2),
    startSite('Sapporo', E2E_PORT + 3),
  ]);
  const all = [tokyo, osaka, sapporo];
  await trustEachOther(all);

  const page = await newPage(browser);
  const logins: { origin: string; body: string }[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().endsWith('/api/auth/login')) {
      logins.push({ origin: new URL(request.url()).origin, body: request.postData() ?? '' });
    }
  });
  await page.goto(`${tokyo.url}/login`);
  await page.getByRole('textbox', { name: 'User ID' }).fill('operator');
  await page.getByLabel('Password', { exact: true }).fill(demoPassword('operator'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  const region = page.getByRole('region', { name: 'Sites' });
  await expect(region.getByRole('listitem').filter({ hasText: 'Tokyo' })).toContainText(
    'signed in',
  );
  await expect(region.getByRole('listitem').filter({ hasText: 'Osaka' })).toContainText(
    'signed in',
  );
  await expect(region.getByRole('listitem').filter({ hasText: 'Sapporo' })).toContainText(
    'signed in',
  );

  // Three sign-ins, one per site, each with a different credential and none with the password.
  expect(new Set(logins.map((l) => l.origin))).toEqual(new Set(all.map((s) => s.url)));
  const credentials = logins.map((l) => (JSON.parse(l.body) as { credential: string }).credential);
  expect(new Set(credentials).size).toBe(3);
  for (const login of logins) expect(login.body).not.toContain(demoPassword('operator'));

  // Sapporo is away at the next sign-in: the others carry on; once back, it is signed in to again.
  await sapporo.stop();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('textbox', { name: 'User ID' }).fill('operator');
  await page.getByLabel('Password', { exact: true }).fill(demoPassword('operator'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  const sapporoItem = region.getByRole('listitem').filter({ hasText: 'Sapporo' });
  await expect(sapporoItem).toContainText('unreachable', { timeout: 30_000 });
  await expect(region.getByRole('listitem').filter({ hasText: 'Osaka' })).toContainText(
    'signed in',
  );
  await sapporo.start();
  await sapporoItem.getByRole('button', { name: 'Sign in again to Sapporo' }).click();
  await page.getByLabel('Your password, for Sapporo').fill(demoPassword('operator'));
  await page.getByRole('dialog').getByRole('button', { name: 'Sign in' }).click();
  await expect(sapporoItem).toContainText('signed in');

  // A reload asks each site what its kept token is worth; a site away says so.
  await osaka.stop();
  await page.reload();
  const osakaItem = region.getByRole('listitem').filter({ hasText: 'Osaka' });
  await expect(osakaItem).toContainText('unreachable');
  await expect(sapporoItem).toHaveText(/^\s*Sapporo\s*signed in\s*$/);
  await osaka.start();
  await page.reload();
  await expect(osakaItem).toHaveText(/^\s*Osaka\s*signed in\s*$/);
});
