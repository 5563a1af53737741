import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ReleasePolicy } from '@/core/crypto/release-policy';
import { server } from '@/testing/msw-server';
import { buttonNamed, controlLabelled, mountConsole, settle, type } from '@/testing/mount-console';
import { testSite, type TestSite } from '@/testing/site';
import { randomImage } from '../../../../../mock-server/test/support/backup-client';
import {
  chooseFile,
  controlNames,
  dialog,
  dialogButton,
  dialogControl,
  giveReason,
  registrationFile,
} from '@/testing/escrow-records-test-support';

const PAYROLL = 'iso9660:PAYROLL:2026-11-01-00-00-00-00';
const BACKUPS = 'vfat:BACKUPS:1A2B-3C4D';
const DATA = 'ext4:5f0e1d2c-aaaa-4bbb-8ccc-0123456789ab';

const text = (): string => document.body.textContent ?? '';
const table = (): HTMLTableElement => {
  const found = document.querySelector<HTMLTableElement>('table[aria-label="Restorer DB"]');
  if (!found) throw new Error('no table "Restorer DB"');
  return found;
};
const rows = (): string[] =>
  [...table().querySelectorAll(':scope > tbody > tr:not(.p-datatable-empty-message)')]
    .filter((r) => r.querySelector('code'))
    .map((r) => r.querySelector('code')?.textContent ?? '');
const rowText = (volumeId: string): string =>
  [...table().querySelectorAll('tbody tr')]
    .find((r) => r.querySelector('code')?.textContent === volumeId)
    ?.textContent?.replace(/\s+/g, ' ') ?? '';
const search = (): HTMLInputElement => controlLabelled('Search') as HTMLInputElement;
const detail = (volumeId: string): HTMLElement => {
  const found = document.querySelector<HTMLElement>(
    `section[aria-label="Escrow record ${volumeId}"]`,
  );
  if (!found) throw new Error(`no detail of ${volumeId}`);
  return found;
};

let site: TestSite;
/** The receipt counter of PAYROLL's first generation, as the site signed it. */
let payrollCounter = '';

/**
 * Three records made by the site's own rules: BACKUPS backed up on the 19th
 * and revoked, PAYROLL (one-time, 3 MiB) backed up on the 20th and used once
 * by restorer, DATA (approval required) backed up by operator2 on the 21st.
 */
async function seed(): Promise<void> {
  site.setTime('2026-11-19T08:00:00.000Z');
  await site.backUp('operator', BACKUPS, { restorers: ['restorer2'] });
  await site.site.records.revoke(await site.caller('admin2'), BACKUPS, 'medium lost');
  site.setTime('2026-11-20T10:00:00.000Z');
  const payroll = await site.backUp('operator', PAYROLL, {
    restorers: ['restorer'],
    policy: { kind: 'one-time' },
    image: randomImage(3 * 1024 * 1024),
  });
  payrollCounter = payroll.receipt.statement.counter;
  expect((await site.askForKey('restorer', PAYROLL)).json).toMatchObject({ state: 'released' });
  site.setTime('2026-11-21T09:00:00.000Z');
  await site.backUp('operator2', DATA, { policy: { kind: 'reusable', approvalRequired: true } });
  site.setTime(undefined);
}

/** The site's own escrow record of the volume. */
const recordOf = async (volumeId: string) => (await site.site.records.detail(volumeId)).record;

/** The site answers each search afresh; on two shared cores that can take a while. */
const SLOW = { timeout: 5_000 };

/**
 * vi.waitFor, given as long as SLOW by default: a detail or a row that the
 * site answers in tens of milliseconds alone took over a second on a loaded
 * two-core machine.
 */
function waitFor<T>(check: () => T, options: { timeout?: number } = SLOW): Promise<T> {
  return vi.waitFor(check, options);
}

const REUSABLE: ReleasePolicy = { kind: 'reusable', approvalRequired: false, expiresAt: null };

beforeEach(async () => {
  site = await testSite();
});

/** Records the query of every page the screen asks the site for. */
function recordQueries(): URLSearchParams[] {
  const seen: URLSearchParams[] = [];
  server.use(
    http.get('*/api/admin/records', ({ request }) => {
      seen.push(new URL(request.url).searchParams);
      return undefined;
    }),
  );
  return seen;
}

async function openRecords(path = '/admin/restorers'): Promise<void> {
  await mountConsole(path, { signedInAs: 'admin' });
  await waitFor(() => expect(table().getAttribute('aria-busy')).toBe('false'));
}

async function openDetail(volumeId: string): Promise<HTMLElement> {
  buttonNamed(`Details of ${volumeId}`).click();
  await waitFor(() => expect(detail(volumeId).textContent).toContain('Release history'));
  return detail(volumeId);
}

function detailButton(volumeId: string, name: string): HTMLButtonElement {
  const button = [...detail(volumeId).querySelectorAll('button')].find(
    (b) => b.textContent?.trim() === name,
  );
  if (!button) throw new Error(`no button "${name}" in the detail of ${volumeId}`);
  return button;
}

describe('restorer DB page (ES-1)', () => {
  it('lists records newest first in the table "Restorer DB" with a searchbox "Search"', async () => {
    await seed();
    await openRecords();
    expect(rows()).toEqual([DATA, PAYROLL, BACKUPS]);
    expect(search().type).toBe('search');
    expect(rowText(PAYROLL)).toContain('operator, restorer');
    expect(rowText(PAYROLL)).toContain('One-time');
    expect(rowText(PAYROLL)).toContain('Burned');
    expect(rowText(DATA)).toContain('approval required');
    expect(text()).toContain('3 records');
    const updated = table().querySelector('tbody tr time')!;
    expect(updated.getAttribute('title')).toBe('2026-11-21 09:00:00 UTC');
    // SPEC §6: no control on this screen may carry a name with "Restore" in it.
    expect(controlNames().filter((name) => /restore/i.test(name))).toEqual([]);
  });

  it('shows the table busy while the site answers', async () => {
    await seed();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    server.use(
      http.get('*/api/admin/records', async () => {
        await gate;
        return undefined;
      }),
    );
    await mountConsole('/admin/restorers', { signedInAs: 'admin' });
    expect(table().getAttribute('aria-busy')).toBe('true');
    release();
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(table().getAttribute('aria-busy')).toBe('false');
  });

  it('says "No escrow records yet" when there are none, and when nothing matches', async () => {
    await openRecords();
    expect(table().textContent).toContain('No escrow records yet');
    expect(table().textContent).toContain('An escrow record is created when an operator backs up');
    await seed();
    await type(search(), 'nothing-like-this');
    await waitFor(() =>
      expect(table().textContent).toContain('No escrow record matches this search'),
    );
  });

  it('says what failed and loads again on "Try again"', async () => {
    await seed();
    let calls = 0;
    server.use(
      http.get('*/api/admin/records', () => {
        calls++;
        return calls <= 3
          ? HttpResponse.json({ code: 'server_error', message: 'boom' }, { status: 500 })
          : undefined;
      }),
    );
    await mountConsole('/admin/restorers', { signedInAs: 'admin' });
    await waitFor(() => expect(text()).toContain('The escrow records could not be loaded.'), {
      timeout: 5_000,
    });
    expect(text()).toContain('The site ran into a problem.');
    expect(document.querySelector('table[aria-label="Restorer DB"]')).toBeNull();
    buttonNamed('Try again').click();
    await waitFor(() => expect(rows()).toHaveLength(3));
  });

  it('asks the site once per pause in typing, and sends filters, sort and page', async () => {
    await seed();
    // Thirty more, registered by hand at the start of the year (ES-3).
    site.setTime('2026-01-01T00:00:00.000Z');
    const admin = await site.caller('admin2');
    for (let i = 0; i < 30; i++) {
      await site.site.records.registerManually(admin, {
        volumeId: `seed:${String(i).padStart(8, '0')}-ISO`,
        owner: 'operator',
        restorers: [],
        policy: REUSABLE,
        reason: 'seeding',
      });
    }
    site.setTime(undefined);
    const queries = recordQueries();
    await openRecords();
    expect(queries.at(-1)?.toString()).toBe('sort=updatedAt&order=desc&page=1&pageSize=25');

    const before = queries.length;
    for (const typed of ['P', 'PA', 'PAY', 'PAYR']) await type(search(), typed);
    await waitFor(() => expect(rows()).toEqual([PAYROLL]), SLOW);
    expect(queries.slice(before).map((q) => q.get('q'))).toEqual(['PAYR']);

    await type(search(), '');
    const state = controlLabelled('State') as HTMLSelectElement;
    state.value = 'revoked';
    state.dispatchEvent(new Event('change'));
    await waitFor(() => expect(rows()).toEqual([BACKUPS]), SLOW);
    expect(queries.at(-1)?.get('state')).toBe('revoked');
    expect(queries.at(-1)?.has('q')).toBe(false);

    const policy = controlLabelled('Release policy') as HTMLSelectElement;
    state.value = '';
    state.dispatchEvent(new Event('change'));
    policy.value = 'one-time';
    policy.dispatchEvent(new Event('change'));
    await waitFor(() => expect(rows()).toEqual([PAYROLL]), SLOW);
    expect(queries.at(-1)?.get('policy')).toBe('one-time');
    policy.value = '';
    policy.dispatchEvent(new Event('change'));
    await type(controlLabelled('Owner') as HTMLInputElement, 'operator2');
    await waitFor(() => expect(rows()).toEqual([DATA]), { timeout: 5_000 });
    expect(queries.at(-1)?.get('owner')).toBe('operator2');
    await type(controlLabelled('Owner') as HTMLInputElement, '');
    await waitFor(() => expect(text()).toContain('33 records'), { timeout: 5_000 });

    const volumeHeader = [...table().querySelectorAll('thead th')].find((th) =>
      th.textContent?.includes('Volume'),
    ) as HTMLElement;
    volumeHeader.click();
    await waitFor(() => expect(queries.at(-1)?.get('sort')).toBe('volumeId'), SLOW);
    expect(queries.at(-1)?.get('order')).toBe('asc');
    await waitFor(() => expect(rows()[0]).toBe(DATA), SLOW);

    document.querySelector<HTMLButtonElement>('button[aria-label="Next Page"]')!.click();
    await waitFor(() => expect(queries.at(-1)?.get('page')).toBe('2'), SLOW);
    expect(queries.at(-1)?.get('sort')).toBe('volumeId');
    await waitFor(() => expect(rows()).toHaveLength(8), SLOW);
  }, 60_000);

  it('opens filtered on the volume named by ?q= (the alerts screen links volumes so)', async () => {
    await seed();
    const queries = recordQueries();
    await openRecords(`/admin/restorers?q=${encodeURIComponent(DATA)}`);
    expect(rows()).toEqual([DATA]);
    expect(search().value).toBe(DATA);
    expect(queries.every((q) => q.get('q') === DATA)).toBe(true);
    // The export downloads what is shown: every match, not one page, as CSV or JSON.
    const exportLink = (name: string) =>
      [...document.querySelectorAll<HTMLAnchorElement>('a')].find((a) =>
        a.textContent?.includes(name),
      )!;
    const csvUrl = exportLink('Export CSV').getAttribute('href')!;
    expect(csvUrl).toBe(
      `/api/admin/records/export?q=${encodeURIComponent(DATA)}&sort=updatedAt&order=desc&format=csv`,
    );
    expect(exportLink('Export JSON').getAttribute('href')).toBe(csvUrl.replace('csv', 'json'));
    const csv = await (await fetch(new URL(csvUrl, window.location.href))).text();
    expect(csv.split('\r\n')[0]).toContain('"volume","owner","restorers"');
    expect(csv).toContain(`"${DATA}"`);
    expect(csv).not.toContain(`"${PAYROLL}"`);
  });

  it('filters the records expiring within some days (?expiring=), each badged with its days left', async () => {
    await seed();
    const inFiveDays = new Date(Date.now() + 5 * 86_400_000 - 60_000).toISOString();
    await site.site.records.setExpiry(await site.caller('admin2'), DATA, inFiveDays, 'ticket 9');
    const queries = recordQueries();
    await openRecords('/admin/restorers?expiring=7');
    expect(rows()).toEqual([DATA]);
    expect(queries.at(-1)?.get('expiringWithin')).toBe('7');
    expect(rowText(DATA)).toContain('Expires in 5 days');
    const expiry = controlLabelled('Expiry') as HTMLSelectElement;
    expect([...expiry.options].map((o) => o.text)).toEqual([
      'Any expiry',
      'Expires within 7 days',
      'Expires within 30 days',
      'Expires within 90 days',
    ]);
    expiry.value = '';
    expiry.dispatchEvent(new Event('change'));
    await waitFor(() => expect(rows()).toEqual([DATA, PAYROLL, BACKUPS]), SLOW);
    expect(queries.at(-1)?.has('expiringWithin')).toBe(false);
  });

  it('shows a record in detail: people, policy, generations with receipts, release history', async () => {
    await seed();
    await openRecords();
    const opened = await openDetail(PAYROLL);
    expect(opened.textContent).toContain('restorer');
    expect(opened.textContent).toContain('(owner)');
    expect(opened.textContent).toContain(`No. ${payrollCounter}`);
    expect(opened.textContent).toContain('3 MiB');
    expect(opened.querySelector('table[aria-label="Generations of ' + PAYROLL + '"]')).toBeTruthy();
    const releases = opened.querySelector(`table[aria-label="Key releases of ${PAYROLL}"]`)!;
    expect(releases.textContent).toContain('Released');
    expect(detailButton(PAYROLL, 'Re-arm').disabled).toBe(false);
    expect(detailButton(PAYROLL, 'Revoke').disabled).toBe(false);
  });
});

describe('restorer DB changes (ES-2), each with a reason', () => {
  it('adds a person who may get the keys; the site records who and why', async () => {
    await seed();
    await openRecords();
    await openDetail(DATA);
    detailButton(DATA, 'Change who may get the keys').click();
    await waitFor(() => expect(dialog().textContent).toContain(`Who may get the keys of ${DATA}`));
    await type(controlLabelled('User ID to add') as HTMLInputElement, 'restorer2');
    dialogButton('Add').click();
    await settle();
    await giveReason('ticket 42: second restorer');
    dialogButton('Save').click();
    // The row may change first (the site's live event), the dialog's answer just after.
    await waitFor(() =>
      expect(text()).toContain(`Saved: the people who may get the keys of ${DATA} were changed.`),
    );
    expect(rowText(DATA)).toContain('operator2, restorer2');
    expect((await recordOf(DATA)).restorers).toEqual(['operator2', 'restorer2']);
    expect((await site.auditEntries()).at(-1)).toMatchObject({
      event: 'restorers_changed',
      actor: 'admin',
      details: { add: ['restorer2'], reason: 'ticket 42: second restorer' },
    });
  });

  it('refuses to withdraw the owner with the site’s message, and changes nothing', async () => {
    await seed();
    await openRecords();
    await openDetail(PAYROLL);
    detailButton(PAYROLL, 'Change who may get the keys').click();
    await waitFor(() => expect(dialog()).toBeTruthy());
    buttonNamed('Withdraw operator').click();
    await settle();
    await giveReason('cleanup');
    dialogButton('Save').click();
    await waitFor(() =>
      expect(dialog().textContent).toContain(
        'The owner of a volume is always one of its restorers and cannot be removed.',
      ),
    );
    expect((await recordOf(PAYROLL)).restorers).toEqual(['operator', 'restorer']);
  });

  it('sends nothing without a reason', async () => {
    await seed();
    const logged = (await site.auditEntries()).length;
    await openRecords();
    await openDetail(PAYROLL);
    detailButton(PAYROLL, 'Revoke').click();
    await waitFor(() => expect(dialog().textContent).toContain(`Revoke ${PAYROLL}`));
    dialogButton('Revoke').click();
    await waitFor(() =>
      expect(dialog().textContent).toContain('Give a reason: it is kept in the audit log.'),
    );
    expect((await recordOf(PAYROLL)).state).toBe('burned');
    // Only the admin's own sign-in was logged meanwhile.
    expect((await site.auditEntries()).slice(logged).map((e) => e.event)).toEqual(['sign_in']);
  });

  it('revokes a record', async () => {
    await seed();
    await openRecords();
    await openDetail(DATA);
    detailButton(DATA, 'Revoke').click();
    await waitFor(() => expect(dialog()).toBeTruthy());
    await giveReason('medium reported stolen');
    dialogButton('Revoke').click();
    // The row may change first (the site's live event), the dialog's answer just after.
    await waitFor(() => expect(text()).toContain(`${DATA} is revoked.`));
    expect(rowText(DATA)).toContain('Revoked');
    expect((await recordOf(DATA)).state).toBe('revoked');
    await waitFor(() => expect(detailButton(DATA, 'Revoke').disabled).toBe(true));
  });

  it('changes the expiry to the end of the chosen day (UTC), or removes it', async () => {
    await seed();
    await openRecords();
    await openDetail(DATA);
    detailButton(DATA, 'Change expiry').click();
    await waitFor(() => expect(dialog()).toBeTruthy());
    await type(controlLabelled('Expiry date') as HTMLInputElement, '2027-03-31');
    await giveReason('project ends');
    dialogButton('Change expiry').click();
    await waitFor(async () =>
      expect((await recordOf(DATA)).policy.expiresAt).toBe('2027-03-31T23:59:59.999Z'),
    );
    await waitFor(() => expect(rowText(DATA)).toContain('expires'));
  });

  it('transfers ownership, and explains a new owner who is not an operator', async () => {
    await seed();
    await openRecords();
    await openDetail(DATA);
    detailButton(DATA, 'Transfer ownership').click();
    await waitFor(() => expect(dialog()).toBeTruthy());
    await type(controlLabelled('New owner') as HTMLInputElement, 'restorer');
    await giveReason('team change');
    dialogButton('Transfer').click();
    await waitFor(() =>
      expect(dialog().textContent).toContain(
        'The new owner must be an active backup operator other than the current owner.',
      ),
    );
    expect(dialog().textContent).toContain('"restorer" is not an active backup operator.');
    await type(controlLabelled('New owner') as HTMLInputElement, 'operator');
    dialogButton('Transfer').click();
    await waitFor(async () => expect((await recordOf(DATA)).owner).toBe('operator'));
  });

  it('re-arms a burned record only as a request for another administrator', async () => {
    await seed();
    await openRecords();
    await openDetail(PAYROLL);
    detailButton(PAYROLL, 'Re-arm').click();
    await waitFor(() => expect(dialog().textContent).toContain('another administrator'));
    await giveReason('restore test for audit');
    dialogButton('Request re-arm').click();
    await waitFor(() =>
      expect(text()).toContain(
        `Re-arm of ${PAYROLL} requested: it waits for another administrator’s approval.`,
      ),
    );
    expect((await recordOf(PAYROLL)).state).toBe('burned');
    expect(await site.site.records.approvals()).toMatchObject([
      { kind: 'rearm', volumeId: PAYROLL, requestedBy: 'admin' },
    ]);
  });
});

describe('registering by hand and from a file (ES-3, BK-9)', () => {
  it('registers a volume manually for its owner', async () => {
    await openRecords();
    buttonNamed('Register manually').click();
    await waitFor(() => expect(dialog().textContent).toContain('Register a volume manually'));
    await type(controlLabelled('Volume ID as read from the medium') as HTMLInputElement, DATA);
    await type(dialogControl('Owner'), 'operator2');
    await type(
      controlLabelled('Also allowed (user IDs)') as HTMLInputElement,
      'restorer, restorer2',
    );
    await giveReason('offline site');
    dialogButton('Register').click();
    await waitFor(() => expect(rows()).toEqual([DATA]));
    expect(rowText(DATA)).toContain('operator2, restorer, restorer2');
    expect(text()).toContain(`${DATA} is registered.`);
  });

  it('refuses a file that is not JSON, or not a registration file, before sending it', async () => {
    await openRecords();
    buttonNamed('Import registration file').click();
    await waitFor(() => expect(dialog()).toBeTruthy());
    const sent: string[] = [];
    server.use(
      http.post('*/api/admin/registrations', ({ request }) => {
        sent.push(request.url);
        return undefined;
      }),
    );
    await chooseFile('Registration file (JSON)', new File(['{"broken'], 'broken.json'));
    await waitFor(() => expect(dialog().textContent).toContain('This file is not JSON'));
    await chooseFile('Registration file (JSON)', new File(['{"nonsense":true}'], 'other.json'));
    await waitFor(() =>
      expect(dialog().textContent).toContain('This file is not a Custodian registration file'),
    );
    await giveReason('card from the branch office');
    dialogButton('Import').click();
    await settle();
    expect(sent).toEqual([]);
  });

  it('imports a registration file once; a foreign, altered or repeated file is refused with the site’s reason', async () => {
    const { siteId, escrowKey } = site.site.info;
    const { file } = await registrationFile(siteId, DATA, escrowKey);
    const foreign = (await registrationFile('another-site', DATA, escrowKey)).file;
    const altered = { ...file, restorers: ['operator', 'outsider'] };
    await openRecords();
    buttonNamed('Import registration file').click();
    await waitFor(() => expect(dialog()).toBeTruthy());
    await giveReason('card from the branch office');

    await chooseFile('Registration file (JSON)', jsonFile(foreign));
    dialogButton('Import').click();
    await waitFor(() =>
      expect(dialog().textContent).toContain(
        `it was made for site another-site, not for this site (${siteId})`,
      ),
    );
    expect(dialog().textContent).toContain('The site refused the registration file');

    await chooseFile('Registration file (JSON)', jsonFile(altered));
    dialogButton('Import').click();
    await waitFor(() => expect(dialog().textContent).toContain('does not verify'));
    await expect(recordOf(DATA)).rejects.toThrow();

    await chooseFile('Registration file (JSON)', jsonFile(file));
    expect(dialog().textContent).toContain(`Volume ${DATA}, owner operator`);
    dialogButton('Import').click();
    await waitFor(() => expect(text()).toContain(`Imported: ${DATA} is registered to operator.`));
    await waitFor(() => expect(rows()).toEqual([DATA]));

    buttonNamed('Import registration file').click();
    await waitFor(() => expect(dialog()).toBeTruthy());
    await giveReason('again');
    await chooseFile('Registration file (JSON)', jsonFile(file));
    dialogButton('Import').click();
    await waitFor(() =>
      expect(dialog().textContent).toContain(
        'This registration file was already imported. Nothing was changed.',
      ),
    );
  });
});

describe('restorer DB in Japanese', () => {
  it('names the table and the count in Japanese', async () => {
    await seed();
    await mountConsole('/admin/restorers', { signedInAs: 'admin', locale: 'ja' });
    await waitFor(() =>
      expect(document.querySelector('table[aria-label="リストアラー DB"]')).toBeTruthy(),
    );
    await waitFor(() => expect(text()).toContain('3 件'));
    expect(text()).toContain('使用済み');
    expect(controlLabelled('検索').type).toBe('search');
  });
});

function jsonFile(value: unknown): File {
  return new File([JSON.stringify(value)], 'registration.json', { type: 'application/json' });
}
