/**
 * The tour: every screen of every role (and the sign-in screen of someone
 * not signed in), at a laptop's width (1280 px) and a phone's (390 px), in
 * English and Japanese. On each one axe-core checks WCAG 2.1 A and AA and
 * the tour fails on any serious or critical finding; at 390 px the page
 * itself never scrolls sideways (wide tables scroll inside their own boxes);
 * and a Japanese screen shows no English words except names and IDs. Each
 * screen is kept as a screenshot of the run.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { signIn } from './support/session';

const SCREENS: Record<string, readonly string[]> = {
  anonymous: ['/login'],
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

const WIDTHS = [1280, 390] as const;
const WORDS = {
  en: { menu: 'Menu', signOut: 'Sign out' },
  ja: { menu: 'メニュー', signOut: 'サインアウト' },
} as const;

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

/**
 * English words left on a Japanese screen: visible text outside code, IDs
 * and the data people typed, once names, IDs, units and the product's own
 * name are taken out.
 */
function englishLeft(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const skip = 'code, kbd, samp, pre, script, style, [translate="no"], .p-hidden-accessible';
    // The pair states (COPY, PAIR, PSUS, PSUE, SSWS) are the product's names in every language.
    const keep =
      /^(Custodian|ID|IDs|KiB|MiB|GiB|TiB|B|CSV|JSON|SMTP|URL|ISO|GPT|MBR|FAT|ext4|PAIR|PSUS|PSUE|SSWS|SUSPEND|COPY|SPLIT|LOCAL|Argon2id|English|OK|SHA|UTC|STARTTLS|DB|Enter|API)$/;
    // People and sites of the test world, and an API call an alert quotes, are data, not text.
    const names =
      /\b(operator2?|restorer2?|admin2?|outsider|auditor|nobody|Osaka|Sapporo|Tokyo)\b/g;
    const noise = [
      /[\w:./-]*\d[\w:./-]*/g, // anything with a digit: IDs, numbers, times, addresses
      /\b[a-z0-9]+:[^\s、。]+/gi, // volume IDs, URLs
      /\b[0-9a-f]{8,}\b/gi, // fingerprints, hashes
      /\S+@\S+/g, // mail addresses
      /\b(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) \/\S*/g, // an API call an alert quotes
      /[\w-]*\.(iso|img|json|csv|raw|vhd)\b/gi, // file names and their endings
      /\b[a-z]+(_[a-z]+)+\b/g, // event and alert codes shown beside their names
    ];
    const words = new Set<string>();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || parent.closest(skip)) continue;
      if (!parent.checkVisibility?.()) continue;
      let text = node.textContent ?? '';
      for (const pattern of noise) text = text.replace(pattern, ' ');
      text = text.replace(names, ' ');
      for (const match of text.match(/[A-Za-z][A-Za-z'’-]+/g) ?? []) {
        const word = match.replace(/[-'’]+$/, '');
        if (!keep.test(word)) words.add(word);
      }
    }
    return [...words].slice(0, 20);
  });
}

async function axeFindings(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    // axe.run in the page itself, rather than partial runs finished in a
    // new blank page for every screen: the console has no frames to cross.
    .setLegacyMode()
    .analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.length} × ${v.nodes[0]?.target.join(' ') ?? ''}`);
}

/**
 * Opens a screen as the console's own links do, without loading the page
 * again (the first screen of a test is loaded in full): the address
 * changes and the router follows it.
 */
async function visit(page: Page, path: string, first: boolean): Promise<void> {
  if (first) await page.goto(path);
  else {
    const before = await page.locator('main h1').textContent();
    await page.evaluate((to) => {
      history.pushState(null, '', to);
      dispatchEvent(new PopStateEvent('popstate', { state: null }));
    }, path);
    await expect(page).toHaveURL((url) => url.pathname === path);
    // Each screen has a heading of its own: the one before has gone.
    await expect(page.locator('main h1')).not.toHaveText(before ?? '');
  }
  await expect(page.locator('main h1')).toBeVisible();
  // Lists arrive after the heading: check once nothing says it is still loading.
  await expect(page.locator('[aria-busy="true"]')).toHaveCount(0);
  await expect(page.locator('.p-datatable-mask')).toHaveCount(0);
}

async function checkScreen(
  page: Page,
  testInfo: TestInfo,
  where: { path: string; locale: 'en' | 'ja'; width: number; userId: string },
): Promise<void> {
  const { path, locale, width, userId } = where;
  const label = `${path} (${userId}, ${locale}, ${width} px)`;
  const name = `${locale}-${width}-${userId}${path.replace(/\//g, '-')}.png`;
  await page.screenshot({ path: testInfo.outputPath(name), fullPage: width < 500 });
  expect.soft(await axeFindings(page), `axe on ${label}`).toEqual([]);
  if (width < 500) {
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    expect
      .soft(
        { scrollWidth, overflowing: scrollWidth > width ? await overflowing(page) : [] },
        `${label} scrolls sideways`,
      )
      .toEqual({ scrollWidth: width, overflowing: [] });
  }
  if (width > 500) {
    const english = await englishLeft(page);
    if (locale === 'ja') expect.soft(english, `English on ${label}`).toEqual([]);
    // The same check finds the English of an English screen: it can fail.
    else expect.soft(english.length, `the English check on ${label}`).toBeGreaterThan(0);
  }
}

// The screens of one role, language and width are one test, and the tests
// share no state: they spread over the workers as they come free.
test.describe.configure({ mode: 'parallel' });

for (const locale of ['en', 'ja'] as const) {
  for (const [userId, paths] of Object.entries(SCREENS)) {
    for (const width of WIDTHS) {
      test(`${userId}'s screens at ${width} px in ${locale === 'en' ? 'English' : 'Japanese'}: accessible${width < 500 ? ', no sideways scrolling' : ', translated'}`, async ({
        page,
      }, testInfo) => {
        if (userId === 'anonymous') {
          await page.goto('/login');
        } else {
          await signIn(page, userId);
        }
        if (locale === 'ja') {
          await page.getByLabel('Language').selectOption({ label: '日本語' });
          await expect(page.locator('html')).toHaveAttribute('lang', 'ja');
        }
        // The language is chosen at a laptop's width, where the top bar shows it.
        await page.setViewportSize({ width, height: 844 });
        for (const [index, path] of paths.entries()) {
          await visit(page, path, index === 0);
          await checkScreen(page, testInfo, { path, locale, width, userId });
        }
        if (width < 500 && userId !== 'anonymous') {
          // On a phone the account part of the top bar folds behind "Menu".
          const signOut = page.getByRole('button', { name: WORDS[locale].signOut });
          await expect(signOut).toBeHidden();
          await page.getByRole('button', { name: WORDS[locale].menu }).click();
          await expect(signOut).toBeVisible();
          await page.screenshot({ path: testInfo.outputPath(`${locale}-390-${userId}-menu.png`) });
        }
      });
    }
  }
}
