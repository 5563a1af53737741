import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { h } from 'vue';
import type { AlertKind } from '@/core/contract';
import { server } from '@/testing/msw-server';
import { buttonNamed, mountConsole } from '@/testing/mount-console';
import { testSite, type TestSite } from '@/testing/site';

// jsdom has no canvas: the charts are replaced by stand-ins that show their data.
vi.mock('./BytesPerDayChart.vue', () => ({
  __esModule: true,
  default: {
    props: ['days'],
    setup(props: { days: { day: string; bytes: number }[] }) {
      return () =>
        h('div', { 'data-chart': 'bytes-per-day' }, props.days.map((d) => d.bytes).join(' '));
    },
  },
}));
vi.mock('./AlertsPerDayChart.vue', () => ({
  __esModule: true,
  default: {
    props: ['days', 'series'],
    setup(props: { days: string[]; series: { kind: string; counts: number[] }[] }) {
      return () =>
        h(
          'div',
          { 'data-chart': 'alerts-per-day' },
          props.series.map((s) => `${s.kind}=${s.counts.reduce((a, b) => a + b, 0)}`).join(' '),
        );
    },
  },
}));

const text = (): string => document.body.textContent ?? '';
const chart = (): string => document.querySelector('[data-chart]')?.textContent ?? '';
const hoursAgo = (hours: number): string => new Date(Date.now() - hours * 3_600_000).toISOString();

let site: TestSite;

/** The site raises an alert of this kind, `hours` ago by its clock (AL-1). */
async function raiseAlert(kind: AlertKind, sentence: string, hours = 0) {
  site.setTime(hoursAgo(hours));
  try {
    return await site.site.alerts.raise({
      kind,
      userId: null,
      volumeId: null,
      clientAddress: null,
      sentence,
      message: { code: 'unknown_user', params: { userId: 'ghost', clientAddress: '10.0.0.9' } },
    });
  } finally {
    site.setTime(undefined);
  }
}

describe('dashboard', () => {
  beforeEach(async () => {
    site = await testSite();
  });

  it('counts the last 24 hours by kind, highlights the unacknowledged and charts 14 days', async () => {
    await raiseAlert('bad_password', 'one', 1);
    await raiseAlert('bad_password', 'two', 3);
    const old = await raiseAlert('integrity_failure', 'x', 2);
    await site.site.alerts.acknowledge([old.id], 'admin2');
    await raiseAlert('brute_force', 'earlier', 24 * 5);
    await raiseAlert('brute_force', 'too old', 24 * 20);

    await mountConsole('/admin', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('3 alerts'));
    expect(text()).toContain('2 unacknowledged');
    const kinds = document.querySelector('table caption')?.closest('table');
    const counts = [...(kinds?.querySelectorAll('tbody tr') ?? [])].map((r) =>
      [...r.children].map((cell) => cell.textContent?.trim()),
    );
    expect(counts).toEqual([
      ['Wrong password', '2'],
      ['Integrity failure', '1'],
    ]);
    expect(kinds?.querySelector('a')?.getAttribute('href')).toBe('/admin/alerts?kind=bad_password');

    const recent = document.querySelector('table[aria-label="Latest in the last 24 hours"]')!;
    const recentRows = [...recent.querySelectorAll('tbody tr')];
    expect(recentRows).toHaveLength(3);
    expect(recentRows.filter((r) => r.classList.contains('open'))).toHaveLength(2);
    expect(recentRows[0]?.textContent).toContain('Unacknowledged');

    await vi.waitFor(() =>
      expect(chart()).toBe('bad_password=2 brute_force=1 integrity_failure=1'),
    );
    expect(document.querySelector('figure[role="img"]')?.getAttribute('aria-label')).toBe(
      'Chart of alert counts per day and kind over the last 14 days',
    );
  });

  it('says there is nothing to show on a quiet site', async () => {
    await mountConsole('/admin', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('Nothing to show yet'));
    expect(text()).toContain('No alerts in the last 24 hours.');
    expect(document.querySelector('[data-chart]')).toBeNull();
  });

  it('follows new alerts live', async () => {
    site.liveEvents();
    await mountConsole('/admin', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('Nothing to show yet'));
    await vi.waitFor(() => expect(site.site.events.size).toBe(1));
    // Someone tries a user the site does not know (ID-3).
    await expect(site.site.identity.signIn('ghost', 'who?', '10.0.0.9')).rejects.toThrow();
    await vi.waitFor(() => expect(text()).toContain('1 alert'));
    expect(text()).toContain('1 unacknowledged');
    expect(text()).toContain('New alert: Unknown user');
  });

  it('says what failed and loads again on "Try again"', async () => {
    let calls = 0;
    server.use(
      http.get('*/api/admin/alerts', ({ request }) => {
        if (new URL(request.url).searchParams.get('pageSize') === '1') return undefined;
        calls++;
        return calls <= 3
          ? HttpResponse.json({ code: 'server_error', message: 'boom' }, { status: 500 })
          : undefined;
      }),
    );
    await mountConsole('/admin', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('The dashboard could not be loaded.'), {
      timeout: 5_000,
    });
    buttonNamed('Try again').click();
    await vi.waitFor(() => expect(text()).toContain('Nothing to show yet'));
  });

  it('shows the restorer DB figures from the site', async () => {
    // Two volumes backed up today, one of them one-time and already restored (burned).
    await site.backUp('operator', 'ext4:dashboard-1', { image: new Uint8Array(5000).fill(1) });
    await site.backUp('operator', 'ext4:dashboard-2', {
      image: new Uint8Array(3000).fill(2),
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });
    expect((await site.askForKey('restorer', 'ext4:dashboard-2')).status).toBe(200);
    const { bytesPerDay } = await site.site.records.summary();
    const today = bytesPerDay.at(-1)!.bytes;
    expect(today).toBeGreaterThan(8000);

    await mountConsole('/admin', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('Waiting for approval'));
    expect(text()).toMatch(/Volumes\s*2/);
    expect(text()).toMatch(/Burned \(used one-time\)\s*1/);
    expect(document.querySelector('[data-chart="bytes-per-day"]')?.textContent).toBe(
      `${'0 '.repeat(13)}${today}`,
    );
  });

  it('speaks Japanese', async () => {
    await raiseAlert('bad_password', 'one', 1);
    await mountConsole('/admin', { signedInAs: 'admin', locale: 'ja' });
    await vi.waitFor(() => expect(text()).toContain('アラート 1 件'));
    expect(text()).toContain('未確認 1 件');
    expect(text()).toContain('パスワード誤り');
  });
});
