import { afterEach, describe, expect, it, vi } from 'vitest';
import { mountConsole } from '@/testing/mount-console';
import { otherTestSite } from '@/testing/other-site';
import { testSite } from '@/testing/site';

/**
 * /admin/sites counts the pairs of each site (MS-6): at this console's own
 * site and at every other site the administrator is signed in at; a site
 * where that is not so says how to see them.
 */

/** Where the sites store keeps other sites' bearer tokens for the tab (sign-ins.ts). */
const TOKENS_KEY = 'custodian.other-site-tokens';

const cells = (name: string): string[] => {
  const table = document.querySelector('table[aria-label="Sites"]');
  const headers = [...(table?.querySelectorAll('thead th') ?? [])].map((th) =>
    th.textContent?.trim(),
  );
  const row = [...(table?.querySelectorAll('tbody tr') ?? [])].find(
    (r) => r.querySelector('strong')?.textContent === name,
  ) as HTMLTableRowElement | undefined;
  const pairs = headers.indexOf('Pairs');
  return pairs < 0 || !row ? [] : [row.cells[pairs]?.textContent?.trim() ?? ''];
};

afterEach(() => sessionStorage.clear());

describe('pairs per site (MS-6)', () => {
  it('shows how many pairs each site holds where the administrator is signed in', async () => {
    const site = await testSite();
    const osaka = await otherTestSite(site, 'Osaka', 'https://osaka.example');
    await otherTestSite(site, 'Sapporo', 'https://sapporo.example');
    await site.backUp('operator', 'ext4:1111-home');
    await osaka.backUp('operator', 'ext4:2222-osaka-a');
    await osaka.backUp('operator', 'ext4:3333-osaka-b');
    // Signed in at Osaka only.
    sessionStorage.setItem(
      TOKENS_KEY,
      JSON.stringify({ [osaka.site.info.siteId]: await osaka.token('admin') }),
    );
    await mountConsole('/admin/sites', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(cells('Osaka')).toEqual(['2 pairs']), { timeout: 10_000 });
    expect(cells('Custodian offline demo')).toEqual(['1 pair']);
    expect(cells('Sapporo')).toEqual(['sign in there as an administrator to count']);
  });
});
