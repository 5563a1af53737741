import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { SiteInfo } from '@/core/contract';
import { siteFingerprints } from '@/core/crypto/site-fingerprint';
import { createBrowserSite } from '@/app/offline-site/browser-site';
import { server } from '@/testing/msw-server';
import {
  buttonNamed,
  controlLabelled,
  linksIn,
  mountConsole,
  settle,
  type,
} from '@/testing/mount-console';
import { testSite, type TestSite } from '@/testing/site';
import { siteRepositories } from '@/testing/site-repositories';

const OSAKA = 'http://osaka.test:8788';

const text = (): string => document.body.textContent ?? '';
const table = (): HTMLTableElement => {
  const found = document.querySelector<HTMLTableElement>('table[aria-label="Sites"]');
  if (!found) throw new Error('no table "Sites"');
  return found;
};
const row = (name: string): HTMLTableRowElement | undefined =>
  [...table().querySelectorAll<HTMLTableRowElement>('tbody tr')].find(
    (r) => r.querySelector('strong')?.textContent === name,
  );
const dialog = (): HTMLElement => {
  const found = document.querySelector<HTMLElement>('[role="dialog"]');
  if (!found) throw new Error('no dialog open');
  return found;
};
const dialogButton = (name: string): HTMLButtonElement => {
  const button = [...dialog().querySelectorAll('button')].find(
    (b) => b.textContent?.trim() === name,
  );
  if (!button) throw new Error(`no button "${name}" in the dialog`);
  return button;
};

/** Another escrow site of its own (own keys and ID), as Osaka would say about itself. */
async function anotherSite(name: string): Promise<SiteInfo> {
  const other = await createBrowserSite({
    repositories: await siteRepositories(),
    demoAccounts: false,
  });
  return { ...other.site.info, name };
}

/** The site at `origin` answers `/api/site` with `answer` (MSW stands for the network). */
function answerAt(origin: string, answer: () => Response): void {
  server.use(http.get(`${origin}/api/site`, answer));
}

let site: TestSite;
let osaka: SiteInfo;

async function openSites(): Promise<void> {
  await mountConsole('/admin/sites', { signedInAs: 'admin' });
  await vi.waitFor(() => expect(row(site.site.info.name)).toBeDefined());
}

async function fetchAddress(address: string): Promise<void> {
  await type(controlLabelled('Site address') as HTMLInputElement, address);
  buttonNamed('Fetch fingerprints').click();
  await settle();
}

describe('sites page (MS-1)', () => {
  beforeEach(async () => {
    site = await testSite();
    osaka = await anotherSite('Osaka');
    answerAt(OSAKA, () => HttpResponse.json(osaka));
  });

  it('lists this site and every trusted site in the table "Sites", with fingerprints', async () => {
    const fingerprint = (await siteFingerprints(osaka)).site;
    await site.site.sites.trust(await site.caller('admin2'), OSAKA, fingerprint);
    await openSites();
    expect(linksIn('Administration')).toContain('Sites');
    const home = row(site.site.info.name)!.textContent ?? '';
    expect(home).toContain('This site');
    expect(home).toContain((await siteFingerprints(site.site.info)).site);
    const trusted = row('Osaka')!.textContent ?? '';
    expect(trusted).toContain(OSAKA);
    expect(trusted).toContain(fingerprint);
    expect(trusted).toContain(osaka.escrowKey.fingerprint);
    expect(trusted).toContain(osaka.signingKey.fingerprint);
    expect(trusted).toContain('Reachable');
    expect(trusted).toContain('trusted by admin2');
  });

  it('trusts a site only once its fetched fingerprints are shown, sending the one shown', async () => {
    await openSites();
    expect(() => controlLabelled('Site address')).toThrow();
    buttonNamed('Add site').click();
    await settle();
    expect(buttonNamed('Trust site').disabled).toBe(true);

    await fetchAddress(`${OSAKA}/`);
    const fingerprint = (await siteFingerprints(osaka)).site;
    await vi.waitFor(() => expect(text()).toContain(fingerprint));
    expect(text()).toContain('Osaka');
    expect(text()).toContain(osaka.siteId);
    expect(text()).toContain(osaka.escrowKey.fingerprint);
    expect(text()).toContain(osaka.signingKey.fingerprint);
    expect(await site.site.repositories.trustedSites.list()).toEqual([]);

    // Another address typed: what was shown no longer applies.
    await type(controlLabelled('Site address') as HTMLInputElement, 'http://elsewhere.test');
    expect(buttonNamed('Trust site').disabled).toBe(true);
    await fetchAddress(OSAKA);
    await vi.waitFor(() => expect(buttonNamed('Trust site').disabled).toBe(false));
    buttonNamed('Trust site').click();
    await vi.waitFor(() => expect(text()).toContain('Site “Osaka” is now trusted.'));
    await vi.waitFor(() => expect(row('Osaka')?.textContent).toContain(fingerprint));
    expect(() => controlLabelled('Site address')).toThrow();
    expect((await site.auditEntries()).at(-1)).toMatchObject({
      event: 'site_trusted',
      actor: 'admin',
      details: { siteId: osaka.siteId, url: OSAKA, fingerprint },
    });
  });

  it('says what is wrong with an address: not a site, unreachable, this site itself', async () => {
    answerAt('http://web.test', () => HttpResponse.text('<html>a web page</html>'));
    answerAt('http://down.test', () => HttpResponse.error());
    await openSites();
    buttonNamed('Add site').click();
    await settle();
    const cases: [string, string][] = [
      ['http://web.test', 'Something answers at this address, but not a Custodian site.'],
      ['http://down.test', 'No site answered at this address.'],
      // Any other host is answered by this site itself here.
      ['http://mirror.test', 'This address is this site itself.'],
      ['osaka.test', 'This is not a site address.'],
    ];
    for (const [address, message] of cases) {
      await fetchAddress(address);
      await vi.waitFor(() => expect(text()).toContain(message));
      expect(buttonNamed('Trust site').disabled).toBe(true);
    }
    expect(await site.site.repositories.trustedSites.list()).toEqual([]);
  });

  it('refuses a site whose fingerprint changed between fetching and trusting, and stores nothing', async () => {
    await openSites();
    buttonNamed('Add site').click();
    await settle();
    await fetchAddress(OSAKA);
    await vi.waitFor(() => expect(buttonNamed('Trust site').disabled).toBe(false));
    const impostor = await anotherSite('Osaka');
    answerAt(OSAKA, () => HttpResponse.json({ ...impostor, siteId: osaka.siteId }));
    buttonNamed('Trust site').click();
    await vi.waitFor(() =>
      expect(text()).toContain(
        'The site no longer presents the fingerprint shown when it was fetched',
      ),
    );
    expect(buttonNamed('Trust site').disabled).toBe(true);
    expect(await site.site.repositories.trustedSites.list()).toEqual([]);
    expect((await site.auditEntries()).at(-1)).toMatchObject({ event: 'site_trust_refused' });
  });

  it('withdraws trust after asking why', async () => {
    await site.site.sites.trust(
      await site.caller('admin2'),
      OSAKA,
      (await siteFingerprints(osaka)).site,
    );
    await openSites();
    buttonNamed('Withdraw trust').click();
    await settle();
    expect(dialog().textContent).toContain('Withdraw trust in Osaka');
    dialogButton('Withdraw').click();
    await settle();
    expect(dialog().textContent).toContain('Give a reason');
    const label = [...dialog().querySelectorAll('label')].find((l) => l.textContent === 'Reason');
    await type(document.getElementById(label!.htmlFor) as HTMLInputElement, 'branch closed');
    dialogButton('Withdraw').click();
    await vi.waitFor(() => expect(text()).toContain('Site “Osaka” is no longer trusted.'));
    await vi.waitFor(() => expect(row('Osaka')).toBeUndefined());
    expect((await site.auditEntries()).at(-1)).toMatchObject({
      event: 'site_trust_withdrawn',
      actor: 'admin',
      details: { siteId: osaka.siteId, reason: 'branch closed' },
    });
  });

  it('checks a trusted site now and shows a changed key as refused', async () => {
    await site.site.sites.trust(
      await site.caller('admin2'),
      OSAKA,
      (await siteFingerprints(osaka)).site,
    );
    const impostor = await anotherSite('Osaka');
    answerAt(OSAKA, () => HttpResponse.json({ ...impostor, siteId: osaka.siteId }));
    await openSites();
    buttonNamed('Check Osaka now').click();
    await vi.waitFor(() =>
      expect(text()).toContain('Osaka presents other keys than the pinned ones'),
    );
    expect(row('Osaka')?.textContent).toContain('Refused: keys changed');
    expect(row('Osaka')?.textContent).toContain(osaka.escrowKey.fingerprint);
  });
});
