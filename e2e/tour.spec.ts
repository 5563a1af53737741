/**
 * Every screen of every role fits a phone's width (390 px) in English and
 * Japanese: the page itself never scrolls sideways; wide tables scroll
 * inside their own boxes. Each screen is kept as a screenshot of the run.
 */
import { expect, test, type Page } from '@playwright/test';
import { signIn } from './support/session';

const SCREENS: Record<string, readonly string[]> = {
  operator: ['/backup', '/restore', '/account/password'],
  restorer: ['/restore'],
  admin: [
    '/admin',
    '/admin/restorers',
    '/admin/alerts',
    '/admin/approvals',
    '/admin/users',
    '/admin/audit',
    '/admin/remote-copy',
    '/admin/site',
    '/admin/sites',
  ],
};

/** What sticks out past the right edge, outside the boxes that scroll on purpose. */
function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const edge = document.documentElement.clientWidth + 1;
    return [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > edge)
      .filter((e) => !e.parentElement?.closest('.scroll, .p-datatable-table-container'))
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()} "${(e.textContent ?? '').trim().slice(0, 40)}"`);
  });
}

test.use({ viewport: { width: 390, height: 844 } });

for (const locale of ['en', 'ja'] as const) {
  for (const [userId, paths] of Object.entries(SCREENS)) {
    test(`${userId}'s screens fit 390 px in ${locale === 'en' ? 'English' : 'Japanese'}`, async ({
      page,
    }, testInfo) => {
      await signIn(page, userId);
      if (locale === 'ja') {
        await page.getByLabel('Language').selectOption({ label: '日本語' });
        await expect(page.locator('html')).toHaveAttribute('lang', 'ja');
      }
      for (const path of paths) {
        await page.goto(path);
        await expect(page.locator('main h1')).toBeVisible();
        // Lists arrive after the heading: measure once nothing says it is still loading.
        await expect(page.locator('[aria-busy="true"]')).toHaveCount(0);
        const name = `${locale}-${userId}${path.replace(/\//g, '-')}.png`;
        await page.screenshot({ path: testInfo.outputPath(name), fullPage: true });
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(
          { path, width, overflowing: width > 390 ? await overflowing(page) : [] },
          `${path} in ${locale} scrolls sideways`,
        ).toEqual({ path, width: 390, overflowing: [] });
      }
    });
  }
}
