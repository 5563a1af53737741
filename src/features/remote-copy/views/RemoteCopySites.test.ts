import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buttonNamed, mountConsole, settle } from '@/testing/mount-console';
import { otherTestSite, type OtherTestSite } from '@/testing/other-site';
import { testSite, type TestSite } from '@/testing/site';
import { dialog, dialogButton, giveReason } from '@/testing/escrow-records-test-support';

/**
 * /admin/remote-copy across sites (MS-6): one row per (volume, site) for
 * every site the administrator is signed in at, each named, each acted on
 * at its own site; a site whose pairs cannot be listed is named.
 */

/** Where the sites store keeps other sites' bearer tokens for the tab (sign-ins.ts). */
const TOKENS_KEY = 'custodian.other-site-tokens';
const AT_HOME = 'ext4:1111-at-home';
const AT_OSAKA = 'ext4:2222-at-osaka';

let site: TestSite;
let osaka: OtherTestSite;
let sapporo: OtherTestSite;

const text = (): string => (document.body.textContent ?? '').replace(/\s+/g, ' ');
const row = (volumeId: string): string =>
  [...document.querySelectorAll('table[aria-label="Remote copy pairs"] tbody tr')]
    .find((r) => r.querySelector(`button[aria-label="Details of ${volumeId}"]`))
    ?.textContent?.replace(/\s+/g, ' ') ?? '';

beforeEach(async () => {
  site = await testSite();
  osaka = await otherTestSite(site, 'Osaka', 'https://osaka.example');
  sapporo = await otherTestSite(site, 'Sapporo', 'https://sapporo.example');
  await site.backUp('operator', AT_HOME);
  await osaka.backUp('operator', AT_OSAKA);
  sessionStorage.setItem(
    TOKENS_KEY,
    JSON.stringify({
      [osaka.site.info.siteId]: await osaka.token('admin'),
      [sapporo.site.info.siteId]: await sapporo.token('admin'),
    }),
  );
});

afterEach(() => {
  sessionStorage.clear();
});

describe('remote copy of several sites (MS-6)', () => {
  it('lists the pairs of every site the administrator is signed in at, each by its site', async () => {
    sapporo.down(true);
    await mountConsole('/admin/remote-copy', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(row(AT_OSAKA)).toContain('at Osaka'), { timeout: 10_000 });
    expect(row(AT_HOME)).toContain('at Custodian offline demo');
    expect(row(AT_OSAKA)).toContain('PAIR');
    expect(text()).toContain('The pairs at Sapporo are not shown');
  });

  it("acts on another site's pair at that site, audited there", async () => {
    await mountConsole('/admin/remote-copy', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(row(AT_OSAKA)).toContain('at Osaka'), { timeout: 10_000 });
    buttonNamed(`Actions for ${AT_OSAKA}`).click();
    await settle();
    const item = [...document.querySelectorAll('[role="menuitem"]')].find(
      (i) => i.textContent?.trim() === 'Suspend',
    );
    item!.querySelector<HTMLElement>('.p-menu-item-content')!.click();
    await vi.waitFor(() => expect(dialog()).toBeTruthy());
    await giveReason('Osaka moves racks tonight');
    dialogButton('Suspend').click();
    await vi.waitFor(() => expect(text()).toContain('Suspend requested for 1 pair.'));
    const pair = (await osaka.site.pairs.list()).find((p) => p.volumeId === AT_OSAKA);
    expect(pair?.instructions.map((i) => i.action)).toEqual(['suspend']);
    const audit = await osaka.site.audit.all({ event: 'pair_action_requested' });
    expect(audit.at(-1)).toMatchObject({
      actor: 'admin',
      details: { action: 'suspend', reason: 'Osaka moves racks tonight' },
    });
    // Nothing was asked of this console's own site.
    expect(await site.site.audit.all({ event: 'pair_action_requested' })).toEqual([]);
  });

  it("follows another site's pairs live, from that site's own event stream", async () => {
    await mountConsole('/admin/remote-copy', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(row(AT_OSAKA)).toContain('at Osaka'), { timeout: 10_000 });
    const later = 'ext4:5555-later-at-osaka';
    await osaka.backUp('operator', later);
    await vi.waitFor(() => expect(row(later)).toContain('at Osaka'), { timeout: 5_000 });
  });
});
