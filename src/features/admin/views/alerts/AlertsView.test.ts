import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { server } from '@/testing/msw-server';
import {
  buttonNamed,
  controlLabelled,
  linksIn,
  mountConsole,
  settle,
} from '@/testing/mount-console';
import { endTestSite, testSite, type TestSite } from '@/testing/site';

const text = (): string => document.body.textContent ?? '';
const table = (): HTMLTableElement => {
  const found = document.querySelector<HTMLTableElement>('table[aria-label="Alerts"]');
  if (!found) throw new Error('no table "Alerts"');
  return found;
};
const rows = (): string[] =>
  [...table().querySelectorAll('tbody tr:not(.p-datatable-empty-message)')].map(
    (r) => r.textContent?.replace(/\s+/g, ' ') ?? '',
  );
const alertsLink = (): string =>
  linksIn('Administration').find((name) => name.startsWith('Alerts')) ?? '';

const PAYROLL = 'iso9660:PAYROLL:2026-11-01-00-00-00-00';
let site: TestSite;

/** A failed sign-in from `address`: the site raises its own alert (ID-3). */
async function failSignIn(userId: string, address: string): Promise<void> {
  await expect(site.site.identity.signIn(userId, 'not-the-password', address)).rejects.toThrow(
    'unauthorized user',
  );
}

/**
 * Two alerts the site raised itself: outsider's wrong password on the 20th,
 * then outsider asking for the keys of a volume that does not name them.
 */
async function seed(): Promise<void> {
  site = await testSite({ time: '2026-11-20T08:00:00.000Z' });
  await failSignIn('outsider', '10.0.0.7');
  site.setTime('2026-11-21T09:00:00.000Z');
  await site.backUp('operator', PAYROLL);
  site.setTime('2026-11-21T09:30:15.000Z');
  expect((await site.askForKey('outsider', PAYROLL)).status).toBe(403);
}

describe('alerts page (AL-2)', () => {
  beforeEach(seed);

  it('lists alerts newest first in the table "Alerts", with links, local times and UTC on hover', async () => {
    await mountConsole('/admin/alerts', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    expect(rows()[0]).toContain('Unauthorized restorer');
    expect(rows()[1]).toContain('Wrong password');
    const time = table().querySelector('tbody tr time')!;
    expect(time.getAttribute('datetime')).toBe('2026-11-21T09:30:15.000Z');
    expect(time.getAttribute('title')).toBe('2026-11-21 09:30:15 UTC');
    expect(time.textContent).toMatch(/2026/);
    const volume = table().querySelector<HTMLAnchorElement>('a[href^="/admin/restorers"]')!;
    const target = new URL(volume.getAttribute('href')!, 'http://console.test');
    expect(target.pathname).toBe('/admin/restorers');
    expect(target.searchParams.get('q')).toBe(PAYROLL);
    expect(table().querySelector('a[href="/admin/users?q=outsider"]')?.textContent).toBe(
      'outsider',
    );
    expect(alertsLink()).toBe('Alerts 2');
    expect(text()).toContain('2 alerts');
  });

  it('says "No alerts" when there are none', async () => {
    await endTestSite();
    await testSite();
    await mountConsole('/admin/alerts', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(table().textContent).toContain('No alerts'));
    expect(alertsLink()).toBe('Alerts');
  });

  it('says what failed and loads again on "Try again"', async () => {
    let calls = 0;
    server.use(
      http.get('*/api/admin/alerts', ({ request }) => {
        // The nav badge asks with pageSize=1; only the page's own list fails.
        if (new URL(request.url).searchParams.get('pageSize') === '1') return undefined;
        calls++;
        return calls <= 3
          ? HttpResponse.json({ code: 'server_error', message: 'boom' }, { status: 500 })
          : undefined;
      }),
    );
    await mountConsole('/admin/alerts', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('The alerts could not be loaded.'), {
      timeout: 5_000,
    });
    expect(text()).toContain('The site ran into a problem.');
    expect(document.querySelector('table[aria-label="Alerts"]')).toBeNull();
    buttonNamed('Try again').click();
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
  });

  it('shows a new alert without reload, counts it on the nav link and toasts it', async () => {
    site.liveEvents();
    await mountConsole('/admin/alerts', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    await vi.waitFor(() => expect(site.site.events.size).toBe(1));
    await vi.waitFor(() => expect(text()).toContain('Live: new alerts appear without reloading.'));

    await failSignIn('ghost', '10.0.0.9');
    await vi.waitFor(() => expect(rows()).toHaveLength(3));
    expect(rows()[0]).toContain('Sign-in attempt for unknown user "ghost"');
    expect(rows()[0]).toContain('New');
    expect(alertsLink()).toBe('Alerts 3');
    await vi.waitFor(() => expect(text()).toContain('New alert: Unknown user'));
  });

  it('filters by kind, user, volume, state and days, and keeps the filter in the address', async () => {
    const { router } = await mountConsole('/admin/alerts', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    const kind = controlLabelled('Kind') as HTMLSelectElement;
    kind.value = 'bad_password';
    kind.dispatchEvent(new Event('change'));
    buttonNamed('Apply filters').click();
    await vi.waitFor(() => expect(rows()).toHaveLength(1));
    expect(rows()[0]).toContain('Wrong password');
    expect(router.currentRoute.value.query).toEqual({ kind: 'bad_password' });
    const exportLink = [...document.querySelectorAll('a')].find(
      (a) => a.textContent?.trim() === 'Export CSV',
    )!;
    expect(exportLink.getAttribute('href')).toBe('/api/admin/alerts/export?kind=bad_password');
    expect(exportLink.hasAttribute('download')).toBe(true);

    await router.replace({ query: { volume: 'no-such-volume' } });
    await vi.waitFor(() => expect(table().textContent).toContain('Nothing matches these filters.'));

    await router.replace({ query: { from: '2026-11-21', to: '2026-11-21', user: 'outsider' } });
    await vi.waitFor(() => expect(rows()).toHaveLength(1));
    expect(rows()[0]).toContain('Unauthorized restorer');
    expect((controlLabelled('User') as HTMLInputElement).value).toBe('outsider');

    buttonNamed('Clear filters').click();
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    expect(router.currentRoute.value.query).toEqual({});
  });

  it('acknowledges one alert, then the selected ones, and the badge follows', async () => {
    site.setTime('2026-11-19T00:00:00.000Z');
    await failSignIn('x', '10.0.0.8');
    site.setTime('2026-11-21T10:00:00.000Z');
    await mountConsole('/admin/alerts', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(rows()).toHaveLength(3));
    expect(buttonNamed('Acknowledge selected (0)').disabled).toBe(true);

    buttonNamed('Acknowledge alert 2').click();
    await vi.waitFor(() => expect(rows()[0]).toContain('Acknowledged by admin'));
    expect(text()).toContain('1 alert acknowledged.');
    expect(alertsLink()).toBe('Alerts 2');
    expect((await site.site.alerts.all({}))[0]?.acknowledgedBy).toBe('admin');

    const selectAll = document.querySelector<HTMLInputElement>(
      'input[aria-label="Select every alert on this page"]',
    )!;
    selectAll.click();
    await settle();
    buttonNamed('Acknowledge selected (2)').click();
    await vi.waitFor(() => expect(text()).toContain('2 alerts acknowledged.'));
    expect(await site.site.alerts.all({ acknowledged: 'no' })).toHaveLength(0);
    await vi.waitFor(() => expect(alertsLink()).toBe('Alerts'));
  });

  it('speaks Japanese', async () => {
    await mountConsole('/admin/alerts', { signedInAs: 'admin', locale: 'ja' });
    const jaTable = (): HTMLTableElement | null =>
      document.querySelector<HTMLTableElement>('table[aria-label="アラート"]');
    await vi.waitFor(() => expect(jaTable()?.querySelectorAll('tbody tr')).toHaveLength(2));
    expect(text()).toContain('権限のないリストア要求');
    expect(text()).toContain('CSV をエクスポート');
    // What each alert says, in Japanese from its code and parameters, not the site's English.
    expect(text()).toContain('10.0.0.7 からの「outsider」のパスワードが違います。');
    expect(text()).toContain(
      `outsider が、リストア担当者として登録されていないのにボリューム ${PAYROLL} を求めました（不正使用）。`,
    );
    expect(text()).not.toContain('Wrong password');
    expect(linksIn('管理メニュー').find((name) => name.startsWith('アラート'))).toBe('アラート 2');
  });
});
