import { pbkdf2Sync } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { signIn } from './support/session';

const NAV = ['Backup', 'Restore', 'Admin'] as const;
const expectedNav: Record<string, readonly (typeof NAV)[number][]> = {
  admin: ['Admin'],
  admin2: ['Admin'],
  operator: ['Backup', 'Restore'],
  operator2: ['Backup', 'Restore'],
  restorer: ['Restore'],
  restorer2: ['Restore'],
  outsider: ['Restore'],
};

test.describe('signing in to the console', () => {
  for (const [userId, links] of Object.entries(expectedNav)) {
    test(`${userId} signs in and sees exactly the nav items of their roles`, async ({ page }) => {
      await signIn(page, userId);
      const nav = page.getByRole('navigation', { name: 'Main' });
      for (const name of NAV) {
        await expect(nav.getByRole('link', { name, exact: true })).toHaveCount(
          links.includes(name) ? 1 : 0,
        );
      }
    });
  }

  test('outsider cannot open /admin', async ({ page }) => {
    await signIn(page, 'outsider');
    await page.goto('/admin');
    await expect(page.getByRole('heading', { name: /not allowed/i })).toBeVisible();
    await expect(page.getByText('Escrow records')).toHaveCount(0);
  });

  test('a wrong password shows "unauthorized user" and does not sign in', async ({ page }) => {
    await page.goto('/login');
    await page.getByRole('textbox', { name: 'User ID' }).fill('restorer2');
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toContainText('unauthorized user');
    await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
    await page.goto('/restore');
    await expect(page).toHaveURL(/\/login/);
  });

  test('the password never leaves the browser: the site gets the credential derived for it (MS-2)', async ({
    page,
  }) => {
    const sent: string[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/api/auth/login')) sent.push(request.postData() ?? '');
    });
    await signIn(page, 'operator');
    const { siteId } = (await (await page.request.get('/api/site')).json()) as { siteId: string };
    const expected = pbkdf2Sync(
      'custodian-operator',
      `custodian-site-credential-v1:${siteId}`,
      600_000,
      32,
      'sha256',
    ).toString('base64url');
    expect(sent.map((body) => JSON.parse(body) as unknown)).toEqual([
      { userId: 'operator', credential: expected },
    ]);
    expect(sent.join('')).not.toContain('custodian-operator');
  });

  test('signing out returns to /login and the session is gone', async ({ page }) => {
    await signIn(page, 'operator');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/login/);
    await page.goto('/backup');
    await expect(page).toHaveURL(/\/login/);
  });

  test('switching to Japanese changes the UI text and survives a reload', async ({
    page,
  }, testInfo) => {
    await signIn(page, 'operator');
    await page.getByLabel('Language').selectOption({ label: '日本語' });
    await expect(page.locator('html')).toHaveAttribute('lang', 'ja');
    await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
    await page.reload();
    await expect(page.locator('html')).toHaveAttribute('lang', 'ja');
    await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'サインアウト' })).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath('japanese.png'), fullPage: true });
  });

  test('the console is served with a strict Content Security Policy and runs under it', async ({
    page,
  }) => {
    const violations: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
    });
    const response = await page.goto('/login');
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/style-src-elem 'self' 'nonce-[A-Za-z0-9+/=]+'/);
    await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
    expect(violations).toEqual([]);
  });
});
