import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { h } from 'vue';
import type { HeartbeatRequest } from '@/core/contract';
import { server } from '@/testing/msw-server';
import {
  alertText,
  buttonNamed,
  controlLabelled,
  mountConsole,
  settle,
  type,
} from '@/testing/mount-console';
import { testSite, type TestSite } from '@/testing/site';
import { dialog, dialogButton, giveReason } from '@/testing/escrow-records-test-support';

// jsdom has no canvas: the chart is replaced by a stand-in that shows its data.
vi.mock('./LagThroughputChart.vue', () => ({
  __esModule: true,
  default: {
    props: ['samples'],
    setup(props: { samples: { lagSeconds: number | null }[] }) {
      return () =>
        h('div', { 'data-chart': 'lag' }, props.samples.map((s) => s.lagSeconds).join(' '));
    },
  },
}));

const IN_STEP = { volumeId: 'ext4:aaaa-in-step' };
const BROKEN = { volumeId: 'iso9660:PAYROLL:2026-11-01-00-00-00-00' };
const COPYING = { volumeId: 'vfat:NEW:0A0B-0C0D' };

const text = (): string => document.body.textContent ?? '';
const table = (): HTMLTableElement => {
  const found = document.querySelector<HTMLTableElement>('table[aria-label="Remote copy pairs"]');
  if (!found) throw new Error('no table "Remote copy pairs"');
  return found;
};
const bodyRows = (): HTMLTableRowElement[] => [
  ...table().querySelectorAll<HTMLTableRowElement>('tbody tr:not(.p-datatable-empty-message)'),
];
/** The text of the pair's row, by its volume. */
const row = (volumeId: string): string =>
  bodyRows()
    .find((r) => r.querySelector(`button[aria-label="Details of ${volumeId}"]`))
    ?.textContent?.replace(/\s+/g, ' ') ?? '';
/** The text in the "State" column of the pair's row. */
function stateOf(volumeId: string): string {
  const headers = [...table().querySelectorAll('thead th')].map((th) => th.textContent?.trim());
  const column = headers.indexOf('State');
  const found = bodyRows().find((r) =>
    r.querySelector(`button[aria-label="Details of ${volumeId}"]`),
  );
  const parts = found?.cells[column]?.querySelector('.state')?.children ?? [];
  return [...parts].map((part) => part.textContent?.trim()).join(' ');
}

let site: TestSite;
/** The site's time while the page is open: all heartbeats and samples are from this morning. */
const NOW = '2026-11-21T08:02:00.000Z';
const at = (time: string): string => `2026-11-21T${time}.000Z`;

/** The pair of a volume, as the site knows it. */
async function pairOf(volumeId: string) {
  const pair = (await site.site.pairs.list()).find((p) => p.volumeId === volumeId);
  if (!pair) throw new Error(`no pair for ${volumeId}`);
  return pair;
}

/** The volume's primary (its owner's browser) reports its view of the pair at `time`. */
async function heartbeat(
  owner: string,
  volumeId: string,
  time: string,
  beat: Partial<HeartbeatRequest>,
): Promise<void> {
  site.setTime(time);
  await site.site.pairs.heartbeat(await site.caller(owner), (await pairOf(volumeId)).pairId, {
    state: 'PAIR',
    reason: null,
    seqSent: 0,
    pending: 0,
    pendingBytes: 0,
    oldestPendingAt: null,
    epoch: null,
    nextRotationAt: null,
    bytesPerSecond: null,
    ...beat,
  });
}

/**
 * Three pairs made by the site's own rules: IN_STEP backed up three times
 * (key epochs 0, 1, 2) and reporting a short lag that is gone; BROKEN, whose
 * primary (operator2) cannot reach the site; COPYING, claimed and copying,
 * with no heartbeat yet.
 */
async function seed(): Promise<void> {
  site.setTime('2026-11-20T08:00:00.000Z');
  await site.backUp('operator', IN_STEP.volumeId);
  site.setTime('2026-11-20T20:00:00.000Z');
  await site.backUp('operator', IN_STEP.volumeId);
  site.setTime(at('07:30:00'));
  await site.backUp('operator', IN_STEP.volumeId);
  await site.backUp('operator2', BROKEN.volumeId);
  const primary = { epoch: 2, nextRotationAt: '2026-11-21T12:00:00.000Z' };
  const sent = (await pairOf(IN_STEP.volumeId)).seqApplied;
  await heartbeat('operator', IN_STEP.volumeId, at('08:00:00'), {
    ...primary,
    seqSent: sent + 1,
    pending: 1,
    pendingBytes: 1_000_000,
    oldestPendingAt: at('07:59:48'),
    bytesPerSecond: 1_000_000,
  });
  await heartbeat('operator', IN_STEP.volumeId, at('08:01:00'), {
    ...primary,
    seqSent: sent + 1,
    pending: 1,
    pendingBytes: 1_000_000,
    oldestPendingAt: at('08:00:57'),
    bytesPerSecond: 2_000_000,
  });
  await heartbeat('operator', IN_STEP.volumeId, at('08:01:30'), {
    ...primary,
    seqSent: sent + 1,
    bytesPerSecond: 2 * 1024 * 1024,
  });
  await heartbeat('operator2', BROKEN.volumeId, NOW, {
    state: 'PSUE',
    reason: 'site unreachable for 95 s',
    seqSent: 7,
    pending: 2,
    pendingBytes: 8 * 1024 * 1024,
    oldestPendingAt: new Date(Date.parse(NOW) - 95_000).toISOString(),
  });
  await site.site.volumes.claim(await site.caller('operator'), COPYING.volumeId, false);
  site.setTime(NOW);
}

beforeEach(async () => {
  site = await testSite();
});

async function openPairs(): Promise<void> {
  await mountConsole('/admin/remote-copy', { signedInAs: 'admin' });
  await vi.waitFor(() => expect(bodyRows().length).toBeGreaterThan(0));
  await vi.waitFor(() => expect(table().getAttribute('aria-busy')).toBe('false'));
}

async function chooseAction(volumeId: string, action: string): Promise<void> {
  buttonNamed(`Actions for ${volumeId}`).click();
  await settle();
  const item = [...document.querySelectorAll('[role="menuitem"]')].find(
    (i) => i.textContent?.trim() === action,
  );
  if (!item) throw new Error(`no menu item "${action}"`);
  item.querySelector<HTMLElement>('.p-menu-item-content')!.click();
  await vi.waitFor(() => expect(dialog()).toBeTruthy());
}

describe('remote copy page (RC-7)', () => {
  it('groups pairs as error, syncing and in step, with the state verbatim and every figure', async () => {
    await seed();
    await openPairs();
    const headers = [...table().querySelectorAll('thead th')].map((th) => th.textContent?.trim());
    expect(headers).toContain('State');
    const groups = bodyRows()
      .filter((r) => r.classList.contains('p-datatable-row-group-header'))
      .map((r) => r.textContent?.trim());
    expect(groups).toEqual(['Error (1)', 'Syncing (1)', 'In step (1)']);
    expect(stateOf(BROKEN.volumeId)).toBe('PSUE');
    expect(stateOf(COPYING.volumeId)).toBe('COPY');
    expect(stateOf(IN_STEP.volumeId)).toBe('PAIR');
    expect(row(BROKEN.volumeId)).toContain('operator2');
    expect(row(BROKEN.volumeId)).toContain(site.site.info.siteId);
    expect(row(BROKEN.volumeId)).toContain('site unreachable for 95 s');
    expect(row(BROKEN.volumeId)).toContain('2 chunks');
    expect(row(BROKEN.volumeId)).toContain('8 MiB');
    expect(row(BROKEN.volumeId)).toContain('lag 1.6 min');
    expect(row(COPYING.volumeId)).toContain('0%');
    expect(row(COPYING.volumeId)).toContain('sent 0');
    expect(row(COPYING.volumeId)).toContain('acknowledged 0');
    expect(row(COPYING.volumeId)).toContain('applied 0');
    expect(row(COPYING.volumeId)).toContain('heartbeat never');
    expect(row(IN_STEP.volumeId)).toContain('primary 2');
    expect(row(IN_STEP.volumeId)).toContain('secondary 2');
    expect(row(IN_STEP.volumeId)).toContain('next rotation');
    expect(row(IN_STEP.volumeId)).toContain('2 MiB/s');
    expect(row(IN_STEP.volumeId)).toContain('in step in 0 sec');
  });

  it('says "No contact since …" for a primary silent past the window, not its last state', async () => {
    await seed();
    // IN_STEP's primary was last heard at 08:01:30; two minutes later nobody vouches for PAIR.
    site.setTime(at('08:03:31'));
    await openPairs();
    expect(row(IN_STEP.volumeId)).toContain('No contact since Nov 21, 2026');
    expect(row(IN_STEP.volumeId)).toContain('last known state PAIR');
    expect(stateOf(IN_STEP.volumeId)).not.toBe('PAIR');
  });

  it('says when there are no pairs yet', async () => {
    await mountConsole('/admin/remote-copy', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(table().textContent).toContain('No remote copy pairs yet.'));
  });

  it('shows the table busy while the site answers', async () => {
    await seed();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    server.use(
      http.get('*/api/admin/pairs', async () => {
        await gate;
        return undefined;
      }),
    );
    await mountConsole('/admin/remote-copy', { signedInAs: 'admin' });
    expect(table().getAttribute('aria-busy')).toBe('true');
    release();
    await vi.waitFor(() => expect(stateOf(IN_STEP.volumeId)).toBe('PAIR'));
    expect(table().getAttribute('aria-busy')).toBe('false');
  });

  it('says what failed and loads again on "Try again"', async () => {
    await seed();
    let failing = true;
    server.use(
      http.get('*/api/admin/pairs', () =>
        failing
          ? HttpResponse.json({ code: 'server_error', message: 'boom' }, { status: 500 })
          : undefined,
      ),
    );
    await mountConsole('/admin/remote-copy', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('The remote copy pairs could not be loaded.'), {
      timeout: 5_000,
    });
    expect(text()).toContain('The site ran into a problem.');
    failing = false;
    buttonNamed('Try again').click();
    await vi.waitFor(() => expect(stateOf(IN_STEP.volumeId)).toBe('PAIR'));
  });

  it('suspends a pair with a reason: requested until the primary acknowledges, then PSUS with the cut, live', async () => {
    await seed();
    site.liveEvents();
    await openPairs();
    await vi.waitFor(() => expect(text()).toContain('Live: pairs change here'));
    await chooseAction(IN_STEP.volumeId, 'Suspend');
    expect(dialog().textContent).toContain(`Suspend ${IN_STEP.volumeId}`);
    await giveReason('maintenance window');
    dialogButton('Suspend').click();
    await vi.waitFor(() => expect(stateOf(IN_STEP.volumeId)).toBe('PAIR Suspend requested'));
    // The site's live event may show the request before its answer arrives.
    await vi.waitFor(() => expect(text()).toContain('Suspend requested for 1 pair.'));
    expect(site.site.events.size).toBeGreaterThan(0);
    const audit = await site.auditEntries();

    // The primary carries the instruction out and says where it cut.
    const pair = await pairOf(IN_STEP.volumeId);
    await site.site.pairs.acknowledge(
      await site.caller('operator'),
      pair.pairId,
      pair.instructions[0]!.id,
      { cutSeq: 7 },
    );
    await vi.waitFor(() => expect(stateOf(IN_STEP.volumeId)).toBe('PSUS cut at sequence 7'));
    expect(audit.at(-1)).toMatchObject({
      event: 'pair_action_requested',
      actor: 'admin',
      details: { action: 'suspend', reason: 'maintenance window' },
    });
  });

  it('acts on a selection of pairs at once', async () => {
    await seed();
    await openPairs();
    const selectButton = (volumeId: string) =>
      document.querySelector<HTMLInputElement>(
        `input[aria-label="Select the pair of ${volumeId}"]`,
      )!;
    expect(buttonNamed('Resume selected').disabled).toBe(true);
    selectButton(IN_STEP.volumeId).click();
    await settle();
    selectButton(BROKEN.volumeId).click();
    await settle();
    expect(text()).toContain('2 pairs selected');
    buttonNamed('Resume selected').click();
    await vi.waitFor(() => expect(dialog().textContent).toContain('Resume 2 pairs'));
    expect(dialog().textContent).toContain(IN_STEP.volumeId);
    expect(dialog().textContent).toContain(BROKEN.volumeId);
    await giveReason('window over');
    dialogButton('Resume').click();
    await vi.waitFor(() => expect(text()).toContain('Resume requested for 2 pairs.'));
    expect(stateOf(IN_STEP.volumeId)).toBe('PAIR Resume requested');
    expect(stateOf(BROKEN.volumeId)).toBe('PSUE Resume requested');
    expect(stateOf(COPYING.volumeId)).toBe('COPY');
  });

  it('sends nothing without a reason', async () => {
    await seed();
    await openPairs();
    await chooseAction(IN_STEP.volumeId, 'Take over');
    dialogButton('Take over').click();
    await vi.waitFor(() =>
      expect(dialog().textContent).toContain('Give a reason: it is kept in the audit log.'),
    );
    expect((await pairOf(IN_STEP.volumeId)).state).toBe('PAIR');
  });

  it('takes a pair over at once (SSWS)', async () => {
    await seed();
    await openPairs();
    await chooseAction(IN_STEP.volumeId, 'Take over');
    await giveReason('primary site lost');
    dialogButton('Take over').click();
    await vi.waitFor(() => expect(stateOf(IN_STEP.volumeId)).toBe('SSWS'));
  });

  it('opens a pair’s detail: lag and throughput over time, key epochs and state history', async () => {
    await seed();
    await openPairs();
    buttonNamed(`Details of ${IN_STEP.volumeId}`).click();
    await vi.waitFor(() =>
      expect(document.querySelector('[data-chart]')?.textContent).toBe('12 3 0'),
    );
    const drawer = document.querySelector<HTMLElement>('[role="dialog"]')!;
    expect(drawer.textContent).toContain(`Pair of ${IN_STEP.volumeId}`);
    const epochs = drawer.querySelector('table[aria-label="Key epochs of this pair"]')!;
    expect(
      [...epochs.querySelectorAll<HTMLTableRowElement>('tbody tr')].map(
        (r) => r.cells[0]?.textContent,
      ),
    ).toEqual(['2', '1', '0']);
    const history = drawer.querySelector('table[aria-label="State history of this pair"]')!;
    expect(history.textContent).toContain('COPY → PAIR');
    expect(history.textContent).toContain('a generation was committed');
  });

  it('shows a pair’s key rotation and changes it, refusing bad input with a clear message (RC-4)', async () => {
    await seed();
    await openPairs();
    buttonNamed(`Details of ${IN_STEP.volumeId}`).click();
    await vi.waitFor(() => expect(text()).toContain('Key rotation'));
    const current = () => document.querySelector('[data-rotation="current"]')?.textContent ?? '';
    // The site's default: 64 GiB, and T from the time-to-break estimate (the 30-day bound).
    expect(current()).toContain(
      'A new epoch key every 65536 MiB or every 43200 minutes, whichever comes first.',
    );
    expect(current()).toContain('Site default');
    const fill = async (mib: string, minutes: string, reason: string) => {
      await type(controlLabelled('Every (MiB)') as HTMLInputElement, mib);
      await type(controlLabelled('Every (minutes)') as HTMLInputElement, minutes);
      await type(controlLabelled('Reason') as HTMLInputElement, reason);
      buttonNamed('Save rotation').click();
      await settle();
    };
    for (const [mib, minutes, reason, message] of [
      ['', '60', 'tighter keys', 'Give the size in MiB.'],
      ['abc', '60', 'tighter keys', 'The size must be a whole number of MiB, such as 1024.'],
      ['1.5', '60', 'tighter keys', 'The size must be a whole number of MiB, such as 1024.'],
      ['0', '60', 'tighter keys', 'The size must be at least 1 MiB.'],
      ['512', '', 'tighter keys', 'Give the time in minutes.'],
      ['512', 'soon', 'tighter keys', 'The time must be a whole number of minutes, such as 60.'],
      ['512', '-5', 'tighter keys', 'The time must be at least 1 minute.'],
      ['512', '90', '', 'Give a reason of at least 3 characters: it is kept in the audit log.'],
    ]) {
      await fill(mib!, minutes!, reason!);
      expect(alertText()).toContain(message);
    }
    expect((await pairOf(IN_STEP.volumeId)).rotation.siteDefault).toBe(true);

    await fill('512', '90', 'tighter keys');
    await vi.waitFor(() =>
      expect(text()).toContain(
        'Saved: every 512 MiB or every 90 minutes, from the primary’s next backup.',
      ),
    );
    expect(alertText()).not.toMatch(/Give|must/);
    expect((await pairOf(IN_STEP.volumeId)).rotation).toEqual({
      everyBytes: 512 * 1024 ** 2,
      everyMs: 90 * 60_000,
      siteDefault: false,
    });
    await vi.waitFor(() =>
      expect(current()).toContain('every 512 MiB or every 90 minutes, whichever comes first.'),
    );
    expect(current()).not.toContain('Site default');
    expect((await site.auditEntries()).at(-1)).toMatchObject({
      event: 'pair_rotation_changed',
      actor: 'admin',
      details: { reason: 'tighter keys', new: { everyBytes: 512 * 1024 ** 2 } },
    });

    // Below the site's bounds: the site clamps, and the form says so.
    await fill('1', '90', 'as small as allowed');
    await vi.waitFor(() => expect(text()).toContain('Saved: every 64 MiB or every 90 minutes'));
    expect(text()).toContain('Outside the site’s bounds; moved to the nearest bound.');
    expect((controlLabelled('Every (MiB)') as HTMLInputElement).value).toBe('64');
  });

  it('moves a pair to the error group when the site reports it, without reload', async () => {
    await seed();
    site.liveEvents();
    await openPairs();
    await vi.waitFor(() => expect(text()).toContain('Live: pairs change here'));
    await heartbeat('operator', IN_STEP.volumeId, NOW, {
      state: 'PSUE',
      reason: 'transfer 9 has been missing for 61 s',
    });
    await vi.waitFor(() => expect(stateOf(IN_STEP.volumeId)).toBe('PSUE'));
    expect(row(IN_STEP.volumeId)).toContain('transfer 9 has been missing for 61 s');
    const groups = bodyRows()
      .filter((r) => r.classList.contains('p-datatable-row-group-header'))
      .map((r) => r.textContent?.trim());
    expect(groups).toEqual(['Error (2)', 'Syncing (1)']);
  });

  it('speaks Japanese, with the states still verbatim', async () => {
    await seed();
    await mountConsole('/admin/remote-copy', { signedInAs: 'admin', locale: 'ja' });
    await vi.waitFor(() =>
      expect(document.querySelector('table[aria-label="リモートコピーのペア"]')).toBeTruthy(),
    );
    await vi.waitFor(() => expect(text()).toContain('エラー (1)'));
    expect(text()).toContain('PSUE');
    expect(text()).toContain('同期中 (1)');
  });
});
