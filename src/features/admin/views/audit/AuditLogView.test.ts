import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { server } from '@/testing/msw-server';
import {
  buttonNamed,
  controlLabelled,
  mountConsole,
  type,
  unmountAll,
} from '@/testing/mount-console';
import { testSite, type TestSite } from '@/testing/site';

const text = (): string => document.body.textContent ?? '';
const rows = (name = 'Audit log'): string[] =>
  [
    ...document.querySelectorAll(
      `table[aria-label="${name}"] tbody tr:not(.p-datatable-empty-message)`,
    ),
  ].map((r) => r.textContent?.replace(/\s+/g, ' ') ?? '');
const link = (name: string): HTMLAnchorElement =>
  [...document.querySelectorAll('a')].find((a) => a.textContent?.trim() === name)!;

let site: TestSite;
/** How many entries the site's log holds now. */
const logLength = async (): Promise<number> => (await site.site.audit.all({})).length;

/** Seq of the entry `user_disabled` seeded below. */
let disabledSeq = 0;

/**
 * The site's log after the demo accounts were made (seven entries): a
 * sign-in, a user disabled with a reason, a sign-in naming a volume, each
 * appended through the site's own audit log.
 */
async function seed(): Promise<void> {
  site = await testSite();
  await site.site.audit.append({ event: 'sign_in', actor: 'admin' });
  disabledSeq = (
    await site.site.audit.append({
      event: 'user_disabled',
      actor: 'admin',
      details: { userId: 'outsider', reason: 'left the company' },
    })
  ).seq;
  await site.site.audit.append({ event: 'sign_in', actor: 'operator', volumeId: 'ext4:1234' });
}

/** Changes a stored entry behind the log's back, as a direct database edit would. */
function tamper(seq: number, change: Record<string, string>): void {
  site.tamperAuditEntry(seq, change);
}

describe('audit log page (AL-4)', () => {
  beforeEach(seed);

  it('lists entries newest first in the table "Audit log", with details', async () => {
    await mountConsole('/admin/audit', { signedInAs: 'admin' });
    // The admin's own sign-in is the newest entry.
    const total = await logLength();
    await vi.waitFor(() => expect(rows()).toHaveLength(total));
    expect(rows()[0]).toMatch(new RegExp(`^${total}`));
    expect(rows()[0]).toContain('sign_in');
    expect(rows()[2]).toMatch(new RegExp(`^${disabledSeq}`));
    // A readable name, with the code beside it for searching and the export.
    expect(rows()[2]).toContain('User disableduser_disabled');
    expect(rows()[2]).toContain('reason: left the company');
    expect(text()).toContain(`${total} entries`);
    expect(
      document.querySelector('table[aria-label="Audit log"] time')?.getAttribute('title'),
    ).toMatch(/ UTC$/);
  });

  it('names each event in Japanese, and keeps the code of one the console does not know', async () => {
    await mountConsole('/admin/audit', { signedInAs: 'admin', locale: 'ja' });
    const total = await logLength();
    await vi.waitFor(() => expect(rows('監査ログ')).toHaveLength(total));
    expect(rows('監査ログ')[2]).toContain('ユーザー無効化user_disabled');
    expect(rows('監査ログ')[0]).toContain('サインインsign_in');
    // PrimeVue's own words follow the console's language too (its paginator here).
    const paging = (label: string) => document.querySelector(`button[aria-label="${label}"]`);
    expect(paging('次のページ')).not.toBeNull();
    expect(paging('Next Page')).toBeNull();
    unmountAll();
    const newer = { ...(await site.site.audit.all({}))[0]!, event: 'something_newer' };
    server.use(
      http.get('*/api/admin/audit', () => HttpResponse.json({ entries: [newer], total: 1 })),
    );
    await mountConsole('/admin/audit', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(rows()).toHaveLength(1));
    expect(rows()[0]).toContain('something_newersomething_newer');
    expect(paging('Next Page')).not.toBeNull();
  });

  it('says "No audit entries yet." for an empty log', async () => {
    // The site's log is never empty once an administrator has signed in: only an answer can be.
    server.use(http.get('*/api/admin/audit', () => HttpResponse.json({ entries: [], total: 0 })));
    await mountConsole('/admin/audit', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('No audit entries yet.'));
  });

  it('filters by event type and user, and exports what is shown as CSV and JSON', async () => {
    const { router } = await mountConsole('/admin/audit', { signedInAs: 'admin' });
    const total = await logLength();
    await vi.waitFor(() => expect(rows()).toHaveLength(total));
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
    const total = await logLength();
    await vi.waitFor(() => expect(rows()).toHaveLength(total));
    buttonNamed('Verify chain').click();
    await vi.waitFor(() =>
      expect(document.querySelector('[role="status"]')?.textContent).toContain(
        `chain intact (${total} entries)`,
      ),
    );

    tamper(disabledSeq, { details: JSON.stringify({ userId: 'outsider', reason: 'rewritten' }) });
    buttonNamed('Verify chain').click();
    await vi.waitFor(() =>
      expect(document.querySelector('[role="status"]')?.textContent).toContain(
        `chain broken at entry ${disabledSeq}: entry ${disabledSeq} was altered`,
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
    await vi.waitFor(async () => expect(rows()).toHaveLength(await logLength()));
  });

  it('speaks Japanese, including the verification result', async () => {
    await mountConsole('/admin/audit', { signedInAs: 'admin', locale: 'ja' });
    const total = await logLength();
    await vi.waitFor(() => expect(rows('監査ログ')).toHaveLength(total));
    buttonNamed('チェーンを検証').click();
    await vi.waitFor(() => expect(text()).toContain(`チェーンは完全です（${total} 件）`));
    tamper(1, { actor: 'mallory' });
    buttonNamed('チェーンを検証').click();
    await vi.waitFor(() => expect(text()).toContain('エントリ 1 が改変されています'));
  });
});
