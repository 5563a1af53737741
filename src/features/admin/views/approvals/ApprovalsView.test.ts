import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { server } from '@/testing/msw-server';
import { buttonNamed, linksIn, mountConsole, settle } from '@/testing/mount-console';
import { testSite, type TestSite } from '@/testing/site';
import { dialog, dialogButton, giveReason } from '@/testing/escrow-records-test-support';

const PAYROLL = 'iso9660:PAYROLL:2026-11-01-00-00-00-00';
const DATA = 'ext4:5f0e1d2c-aaaa-4bbb-8ccc-0123456789ab';

const text = (): string => document.body.textContent ?? '';
const table = (): HTMLTableElement => {
  const found = document.querySelector<HTMLTableElement>('table[aria-label="Approvals"]');
  if (!found) throw new Error('no table "Approvals"');
  return found;
};
const rows = (): string[] =>
  [...table().querySelectorAll('tbody tr:not(.p-datatable-empty-message)')].map(
    (r) => r.textContent?.replace(/\s+/g, ' ') ?? '',
  );
const approvalsLink = (): string =>
  linksIn('Administration').find((name) => name.startsWith('Approvals')) ?? '';

let site: TestSite;

/**
 * Through the site's own rules: DATA needs approval and restorer asks for its
 * key; PAYROLL was one-time, restorer2 used it, and admin asks to re-arm it.
 */
async function seed(): Promise<void> {
  await site.backUp('operator', DATA, {
    restorers: ['restorer'],
    policy: { kind: 'reusable', approvalRequired: true },
  });
  await site.backUp('operator', PAYROLL, {
    restorers: ['restorer2'],
    policy: { kind: 'one-time' },
  });
  expect((await site.askForKey('restorer2', PAYROLL)).json).toMatchObject({ state: 'released' });
  expect((await site.askForKey('restorer', DATA)).json).toMatchObject({
    state: 'pending_approval',
  });
  await site.site.records.requestRearm(await site.caller('admin'), PAYROLL, 'yearly restore test');
}

const recordOf = async (volumeId: string) => site.site.records.detail(volumeId);

describe('approvals page (BK-5, ES-2)', () => {
  beforeEach(async () => {
    site = await testSite();
  });

  it('lists pending key releases and re-arms; the nav link "Approvals" counts them', async () => {
    await seed();
    await mountConsole('/admin/approvals', { signedInAs: 'admin2' });
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    expect(rows()[0]).toContain('Key release');
    expect(rows()[0]).toContain(DATA);
    expect(rows()[0]).toContain('generation 1');
    expect(rows()[0]).toContain('restorer');
    expect(rows()[1]).toContain('Re-arm');
    expect(rows()[1]).toContain('yearly restore test');
    const volume = table().querySelector<HTMLAnchorElement>('a[href^="/admin/restorers"]')!;
    expect(new URL(volume.href, 'http://console.test').searchParams.get('q')).toBe(DATA);
    expect(approvalsLink()).toBe('Approvals 2');
  });

  it('says that nothing waits, and the nav link shows no count', async () => {
    await mountConsole('/admin/approvals', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(table().textContent).toContain('Nothing waits for a decision'));
    expect(approvalsLink()).toBe('Approvals');
  });

  it('shows the table busy while the site answers', async () => {
    await seed();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    server.use(
      http.get('*/api/admin/approvals', async () => {
        await gate;
        return undefined;
      }),
    );
    await mountConsole('/admin/approvals', { signedInAs: 'admin2' });
    expect(table().getAttribute('aria-busy')).toBe('true');
    release();
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    expect(table().getAttribute('aria-busy')).toBe('false');
  });

  it('says what failed and loads again on "Try again"', async () => {
    await seed();
    let failing = true;
    server.use(
      http.get('*/api/admin/approvals', () =>
        failing
          ? HttpResponse.json({ code: 'server_error', message: 'boom' }, { status: 500 })
          : undefined,
      ),
    );
    await mountConsole('/admin/approvals', { signedInAs: 'admin2' });
    await vi.waitFor(() => expect(text()).toContain('The pending requests could not be loaded.'), {
      timeout: 5_000,
    });
    expect(document.querySelector('table[aria-label="Approvals"]')).toBeNull();
    failing = false;
    buttonNamed('Try again').click();
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
  });

  it('approves a key release with a reason; the record’s history shows who decided', async () => {
    await seed();
    await mountConsole('/admin/approvals', { signedInAs: 'admin2' });
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    buttonNamed(`Approve: Key release of ${DATA} for restorer`).click();
    await vi.waitFor(() => expect(dialog().textContent).toContain('restorer receives the keys'));
    await giveReason('ticket 7, confirmed by phone');
    dialogButton('Approve').click();
    await vi.waitFor(() => expect(rows()).toHaveLength(1));
    expect(text()).toContain(`Approved: the request of restorer for ${DATA}.`);
    expect(approvalsLink()).toBe('Approvals 1');
    expect((await recordOf(DATA)).releases).toMatchObject([
      { userId: 'restorer', state: 'released', decidedBy: 'admin2' },
    ]);
  });

  it('denies a re-arm; the record stays burned', async () => {
    await seed();
    await mountConsole('/admin/approvals', { signedInAs: 'admin2' });
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    buttonNamed(`Deny: Re-arm of ${PAYROLL} for admin`).click();
    await vi.waitFor(() => expect(dialog().textContent).toContain('stays burned'));
    await giveReason('no restore test this year');
    dialogButton('Deny').click();
    await vi.waitFor(() => expect(rows()).toHaveLength(1));
    expect((await recordOf(PAYROLL)).record.state).toBe('burned');
  });

  it('refuses a decision on one’s own request with the site’s message, and without a reason', async () => {
    await seed();
    await mountConsole('/admin/approvals', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    expect(rows()[1]).toContain('yours');
    buttonNamed(`Approve: Re-arm of ${PAYROLL} for admin`).click();
    await vi.waitFor(() => expect(dialog()).toBeTruthy());
    dialogButton('Approve').click();
    await vi.waitFor(() =>
      expect(dialog().textContent).toContain('Give a reason: it is kept in the audit log.'),
    );
    await giveReason('looks fine to me');
    dialogButton('Approve').click();
    await vi.waitFor(() =>
      expect(dialog().textContent).toContain(
        'Nobody approves their own request: another administrator must decide.',
      ),
    );
    expect((await recordOf(PAYROLL)).record.state).toBe('burned');
    expect(await site.site.records.approvals()).toHaveLength(2);
  });

  it('shows a new request without reload and counts it on the nav link', async () => {
    site.liveEvents();
    await mountConsole('/admin/approvals', { signedInAs: 'admin2' });
    await vi.waitFor(() => expect(table().textContent).toContain('Nothing waits for a decision'));
    // The stream is open at the site and has said hello (which reads the list
    // again) before anything new happens.
    await vi.waitFor(() => expect(site.site.events.size).toBeGreaterThan(0));
    await settle();
    await seed();
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    expect(approvalsLink()).toBe('Approvals 2');
  });

  it('counts pending requests on the nav link from any admin screen, in Japanese too', async () => {
    await seed();
    await mountConsole('/admin/restorers', { signedInAs: 'admin', locale: 'ja' });
    await vi.waitFor(() =>
      expect(linksIn('管理メニュー').find((name) => name.startsWith('承認'))).toBe('承認 2'),
    );
  });
});
