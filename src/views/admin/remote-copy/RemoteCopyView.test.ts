import { http, HttpResponse } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { h } from 'vue';
import { setEventSourceFactory } from '@/composables/use-event-stream';
import { demoSite } from '@/mocks/demo-site';
import { installDemoEventStream } from '@/mocks/live-events';
import { server } from '@/mocks/node';
import { buttonNamed, mountConsole, settle } from '@/test/mount-console';
import { dialog, dialogButton, giveReason } from '../restorers/escrow-records-test-support';

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

const IN_STEP = { pairId: '11111111-1111-4111-8111-111111111111', volumeId: 'ext4:aaaa-in-step' };
const BROKEN = {
  pairId: '22222222-2222-4222-8222-222222222222',
  volumeId: 'iso9660:PAYROLL:2026-11-01-00-00-00-00',
};
const COPYING = { pairId: '33333333-3333-4333-8333-333333333333', volumeId: 'vfat:NEW:0A0B-0C0D' };

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

function seed(): void {
  demoSite.pairs.add(
    {
      ...IN_STEP,
      owner: 'operator',
      epochPrimary: 2,
      epochSecondary: 2,
      nextRotationAt: '2026-11-21T12:00:00.000Z',
      bytesPerSecond: 2 * 1024 * 1024,
    },
    {
      epochs: [
        { epoch: 0, at: '2026-11-20T08:00:00.000Z' },
        { epoch: 1, at: '2026-11-20T20:00:00.000Z' },
        { epoch: 2, at: '2026-11-21T08:00:00.000Z' },
      ],
      samples: [
        { at: '2026-11-21T08:00:00.000Z', lagSeconds: 12, bytesPerSecond: 1_000_000 },
        { at: '2026-11-21T08:01:00.000Z', lagSeconds: 3, bytesPerSecond: 2_000_000 },
      ],
    },
  );
  demoSite.pairs.add({
    ...BROKEN,
    owner: 'operator2',
    state: 'PSUE',
    unhealthyReason: 'site unreachable for 95 s',
    lastError: 'transfer 5 was refused',
    pendingChunks: 2,
    pendingBytes: 8 * 1024 * 1024,
    lagSeconds: 95,
    seqSent: 7,
  });
  demoSite.pairs.add({
    ...COPYING,
    owner: 'operator',
    state: 'COPY',
    copyPercent: 40,
    seqSent: 10,
    seqAcknowledged: 6,
    seqApplied: 4,
    lastHeartbeatAt: null,
  });
}

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
  afterEach(() => setEventSourceFactory(undefined));

  it('groups pairs as error, syncing and in step, with the state verbatim and every figure', async () => {
    seed();
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
    expect(row(BROKEN.volumeId)).toContain('demo-site-0001');
    expect(row(BROKEN.volumeId)).toContain('site unreachable for 95 s');
    expect(row(BROKEN.volumeId)).toContain('last error: transfer 5 was refused');
    expect(row(BROKEN.volumeId)).toContain('2 chunks');
    expect(row(BROKEN.volumeId)).toContain('8 MB');
    expect(row(BROKEN.volumeId)).toContain('lag 1.6 min');
    expect(row(COPYING.volumeId)).toContain('40%');
    expect(row(COPYING.volumeId)).toContain('sent 10');
    expect(row(COPYING.volumeId)).toContain('acknowledged 6');
    expect(row(COPYING.volumeId)).toContain('applied 4');
    expect(row(COPYING.volumeId)).toContain('heartbeat never');
    expect(row(IN_STEP.volumeId)).toContain('primary 2');
    expect(row(IN_STEP.volumeId)).toContain('secondary 2');
    expect(row(IN_STEP.volumeId)).toContain('next rotation');
    expect(row(IN_STEP.volumeId)).toContain('2 MB/s');
    expect(row(IN_STEP.volumeId)).toContain('in step in 0 sec');
  });

  it('says when there are no pairs yet', async () => {
    await mountConsole('/admin/remote-copy', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(table().textContent).toContain('No remote copy pairs yet.'));
  });

  it('shows the table busy while the site answers', async () => {
    seed();
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
    seed();
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
    seed();
    const feed = installDemoEventStream();
    await openPairs();
    await vi.waitFor(() => expect(text()).toContain('Live: pairs change here'));
    await chooseAction(IN_STEP.volumeId, 'Suspend');
    expect(dialog().textContent).toContain(`Suspend ${IN_STEP.volumeId}`);
    await giveReason('maintenance window');
    dialogButton('Suspend').click();
    await vi.waitFor(() => expect(stateOf(IN_STEP.volumeId)).toBe('PAIR Suspend requested'));
    expect(text()).toContain('Suspend requested for 1 pair.');
    expect(feed.sources.size).toBeGreaterThan(0);

    const pair = demoSite.pairs.list().find((p) => p.pairId === IN_STEP.pairId)!;
    demoSite.pairs.acknowledge(pair.pairId, pair.instructions[0]!.id, 7);
    await vi.waitFor(() => expect(stateOf(IN_STEP.volumeId)).toBe('PSUS cut at sequence 7'));
    expect(demoSite.audit.entries.at(-1)).toMatchObject({
      event: 'pair_action_requested',
      actor: 'admin',
      details: { action: 'suspend', reason: 'maintenance window' },
    });
  });

  it('acts on a selection of pairs at once', async () => {
    seed();
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
    seed();
    await openPairs();
    await chooseAction(IN_STEP.volumeId, 'Take over');
    dialogButton('Take over').click();
    await vi.waitFor(() =>
      expect(dialog().textContent).toContain('Give a reason: it is kept in the audit log.'),
    );
    expect(demoSite.pairs.list().find((p) => p.pairId === IN_STEP.pairId)?.state).toBe('PAIR');
  });

  it('takes a pair over at once (SSWS)', async () => {
    seed();
    await openPairs();
    await chooseAction(IN_STEP.volumeId, 'Take over');
    await giveReason('primary site lost');
    dialogButton('Take over').click();
    await vi.waitFor(() => expect(stateOf(IN_STEP.volumeId)).toBe('SSWS'));
  });

  it('opens a pair’s detail: lag and throughput over time, key epochs and state history', async () => {
    seed();
    await openPairs();
    buttonNamed(`Details of ${IN_STEP.volumeId}`).click();
    await vi.waitFor(() =>
      expect(document.querySelector('[data-chart]')?.textContent).toBe('12 3'),
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
    expect(history.textContent).toContain('generation 1 committed');
  });

  it('moves a pair to the error group when the site reports it, without reload', async () => {
    seed();
    installDemoEventStream();
    await openPairs();
    await vi.waitFor(() => expect(text()).toContain('Live: pairs change here'));
    demoSite.pairs.update(IN_STEP.pairId, {
      state: 'PSUE',
      unhealthyReason: 'transfer 9 has been missing for 61 s',
    });
    await vi.waitFor(() => expect(stateOf(IN_STEP.volumeId)).toBe('PSUE'));
    expect(row(IN_STEP.volumeId)).toContain('transfer 9 has been missing for 61 s');
    const groups = bodyRows()
      .filter((r) => r.classList.contains('p-datatable-row-group-header'))
      .map((r) => r.textContent?.trim());
    expect(groups).toEqual(['Error (2)', 'Syncing (1)']);
  });

  it('speaks Japanese, with the states still verbatim', async () => {
    seed();
    await mountConsole('/admin/remote-copy', { signedInAs: 'admin', locale: 'ja' });
    await vi.waitFor(() =>
      expect(document.querySelector('table[aria-label="リモートコピーのペア"]')).toBeTruthy(),
    );
    await vi.waitFor(() => expect(text()).toContain('エラー (1)'));
    expect(text()).toContain('PSUE');
    expect(text()).toContain('同期中 (1)');
  });
});
