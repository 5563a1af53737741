import { http, HttpResponse } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { h } from 'vue';
import { setEventSourceFactory } from '@/composables/use-event-stream';
import { demoSite } from '@/mocks/demo-site';
import { installDemoEventStream } from '@/mocks/live-events';
import { server } from '@/mocks/node';
import { buttonNamed, mountConsole } from '@/test/mount-console';

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

describe('dashboard', () => {
  afterEach(() => setEventSourceFactory(undefined));

  it('counts the last 24 hours by kind, highlights the unacknowledged and charts 14 days', async () => {
    demoSite.alerts.raise({ kind: 'bad_password', sentence: 'one', at: hoursAgo(1) });
    demoSite.alerts.raise({ kind: 'bad_password', sentence: 'two', at: hoursAgo(3) });
    const old = demoSite.alerts.raise({
      kind: 'integrity_failure',
      sentence: 'x',
      at: hoursAgo(2),
    });
    demoSite.alerts.acknowledge([old.id], 'admin2');
    demoSite.alerts.raise({ kind: 'brute_force', sentence: 'earlier', at: hoursAgo(24 * 5) });
    demoSite.alerts.raise({ kind: 'brute_force', sentence: 'too old', at: hoursAgo(24 * 20) });

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
    installDemoEventStream();
    await mountConsole('/admin', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('Nothing to show yet'));
    demoSite.alerts.raise({ kind: 'unknown_user', userId: 'ghost', sentence: 'who?' });
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
    server.use(
      http.get('*/api/admin/summary', () =>
        HttpResponse.json({
          volumes: 12,
          recordsByState: { active: 9, burned: 2, revoked: 1 },
          pendingApprovals: 3,
          bytesPerDay: [
            { day: '2026-11-20', bytes: 0 },
            { day: '2026-11-21', bytes: 5 * 1024 ** 2 },
          ],
        }),
      ),
    );
    await mountConsole('/admin', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('Waiting for approval'));
    expect(text()).toMatch(/Volumes\s*12/);
    expect(text()).toMatch(/Burned \(used one-time\)\s*2/);
    expect(document.querySelector('[data-chart="bytes-per-day"]')?.textContent).toBe(
      `0 ${5 * 1024 ** 2}`,
    );
  });

  it('speaks Japanese', async () => {
    demoSite.alerts.raise({ kind: 'bad_password', sentence: 'one', at: hoursAgo(1) });
    await mountConsole('/admin', { signedInAs: 'admin', locale: 'ja' });
    await vi.waitFor(() => expect(text()).toContain('アラート 1 件'));
    expect(text()).toContain('未確認 1 件');
    expect(text()).toContain('パスワード誤り');
  });
});
