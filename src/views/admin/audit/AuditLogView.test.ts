import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { demoSite } from '@/mocks/demo-site';
import { server } from '@/mocks/node';
import { buttonNamed, controlLabelled, mountConsole, type } from '@/test/mount-console';

const text = (): string => document.body.textContent ?? '';
const rows = (name = 'Audit log'): string[] =>
  [
    ...document.querySelectorAll(
      `table[aria-label="${name}"] tbody tr:not(.p-datatable-empty-message)`,
    ),
  ].map((r) => r.textContent?.replace(/\s+/g, ' ') ?? '');
const link = (name: string): HTMLAnchorElement =>
  [...document.querySelectorAll('a')].find((a) => a.textContent?.trim() === name)!;

function seed(): void {
  demoSite.audit.append({ event: 'sign_in', actor: 'admin' });
  demoSite.audit.append({
    event: 'user_disabled',
    actor: 'admin',
    details: { userId: 'outsider', reason: 'left the company' },
  });
  demoSite.audit.append({ event: 'sign_in', actor: 'operator', volumeId: 'ext4:1234' });
}

describe('audit log page (AL-4)', () => {
  beforeEach(() => seed());

  it('lists entries newest first in the table "Audit log", with details', async () => {
    await mountConsole('/admin/audit', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(rows()).toHaveLength(3));
    expect(rows()[0]).toMatch(/^3/);
    expect(rows()[1]).toContain('user_disabled');
    expect(rows()[1]).toContain('reason: left the company');
    expect(text()).toContain('3 entries');
    expect(
      document.querySelector('table[aria-label="Audit log"] time')?.getAttribute('title'),
    ).toMatch(/ UTC$/);
  });

  it('says "No audit entries yet." for an empty log', async () => {
    demoSite.audit.reset();
    await mountConsole('/admin/audit', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('No audit entries yet.'));
  });

  it('filters by event type and user, and exports what is shown as CSV and JSON', async () => {
    const { router } = await mountConsole('/admin/audit', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(rows()).toHaveLength(3));
    await type(controlLabelled('Event type') as HTMLInputElement, 'sign_in');
    await type(controlLabelled('User') as HTMLInputElement, 'operator');
    buttonNamed('Apply filters').click();
    await vi.waitFor(() => expect(rows()).toHaveLength(1));
    expect(rows()[0]).toContain('ext4:1234');
    expect(router.currentRoute.value.query).toEqual({ event: 'sign_in', user: 'operator' });
    expect(link('Export CSV').getAttribute('href')).toBe(
      '/api/admin/audit/export?event=sign_in&user=operator&format=csv',
    );
    expect(link('Export JSON').getAttribute('href')).toBe(
      '/api/admin/audit/export?event=sign_in&user=operator&format=json',
    );
    await router.replace({ query: { event: 'nothing_like_it' } });
    await vi.waitFor(() => expect(text()).toContain('No audit entries match these filters.'));
  });

  it('verifies the chain: intact, then names the first altered entry', async () => {
    await mountConsole('/admin/audit', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(rows()).toHaveLength(3));
    buttonNamed('Verify chain').click();
    await vi.waitFor(() =>
      expect(document.querySelector('[role="status"]')?.textContent).toContain(
        'chain intact (3 entries)',
      ),
    );

    demoSite.audit.entries[1]!.details = { userId: 'outsider', reason: 'rewritten' };
    buttonNamed('Verify chain').click();
    await vi.waitFor(() =>
      expect(document.querySelector('[role="status"]')?.textContent).toContain(
        'chain broken at entry 2: entry 2 was altered',
      ),
    );
  });

  it('says what failed and loads again on "Try again"', async () => {
    let calls = 0;
    server.use(
      http.get('*/api/admin/audit', () => {
        calls++;
        return calls <= 3
          ? HttpResponse.json({ code: 'server_error', message: 'boom' }, { status: 500 })
          : undefined;
      }),
    );
    await mountConsole('/admin/audit', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('The audit log could not be loaded.'), {
      timeout: 5_000,
    });
    buttonNamed('Try again').click();
    await vi.waitFor(() => expect(rows()).toHaveLength(3));
  });

  it('speaks Japanese, including the verification result', async () => {
    await mountConsole('/admin/audit', { signedInAs: 'admin', locale: 'ja' });
    await vi.waitFor(() => expect(rows('監査ログ')).toHaveLength(3));
    buttonNamed('チェーンを検証').click();
    await vi.waitFor(() => expect(text()).toContain('チェーンは完全です（3 件）'));
    demoSite.audit.entries[0]!.actor = 'mallory';
    buttonNamed('チェーンを検証').click();
    await vi.waitFor(() => expect(text()).toContain('エントリ 1 が改変されています'));
  });
});
