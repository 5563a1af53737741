import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import PrimeVue from 'primevue/config';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { primeVueOptions } from '@/app/primevue-options';
import { createConsoleI18n } from '@/app/i18n';
import { useMyPairsStore } from '@/features/backup/stores/my-pairs';
import type { PrimaryPairView } from '@/features/backup/engine/pair-engine';
import MyPairs from './MyPairs.vue';

const base: PrimaryPairView = {
  pairId: '5d7f3c1e-8a2b-4c6d-9e0f-1a2b3c4d5e6f',
  volumeId: 'ext4:0123abcd-4567-489a-8bcd-ef0123456789',
  state: 'PAIR',
  reason: null,
  cause: null,
  siteState: 'PAIR',
  seqSent: 42,
  seqAcknowledged: 40,
  seqApplied: 40,
  cutSeq: null,
  pending: 2,
  pendingBytes: 2_000_000,
  epochPrimary: 3,
  epochSecondary: 2,
  lastContactAt: Date.UTC(2026, 0, 2, 3, 4, 5),
  instructions: [],
};

function mountWith(pairs: PrimaryPairView[], locale: 'en' | 'ja' = 'en') {
  const pinia = createPinia();
  setActivePinia(pinia);
  const store = useMyPairsStore();
  store.pairs = pairs;
  store.running = true;
  const wrapper = mount(MyPairs, {
    global: { plugins: [pinia, createConsoleI18n(locale), [PrimeVue, primeVueOptions]] },
  });
  return { wrapper, store };
}

beforeEach(() => {
  vi.restoreAllMocks();
});

describe('MyPairs (RC-7, backup side)', () => {
  it('lists each pair with its state verbatim, sequences, backlog, epochs and last contact', () => {
    const { wrapper } = mountWith([base]);
    const table = wrapper.get('table[aria-label="My remote copy pairs"]');
    const cells = table.findAll('tbody td').map((td) => td.text());
    expect(cells[0]).toBe(base.volumeId);
    expect(cells[1]).toBe('PAIR');
    expect(cells[2]).toBe('42 / 40');
    expect(cells[3]).toBe('2 transfers (1.91 MiB)');
    expect(cells[4]).toBe('here 3 · site 2');
    expect(cells[5]).toContain('2026');
  });

  it('says why a pair is PSUE, and what the site sees when it differs', () => {
    const { wrapper } = mountWith([
      {
        ...base,
        state: 'PSUE',
        reason: 'the site could not be reached for 20 s',
        cause: { kind: 'unreachable', seconds: 20 },
      },
    ]);
    const state = wrapper.findAll('tbody td')[1]!.text();
    expect(state).toContain('PSUE');
    expect(state).toContain('the site could not be reached for 20 s');
    expect(state).toContain('at the site: PAIR');
  });

  it('shows a suspension with its consistent cut and an instruction not yet carried out', () => {
    const { wrapper } = mountWith([
      {
        ...base,
        state: 'PSUS',
        siteState: 'PSUS',
        cutSeq: 40,
        instructions: [
          {
            id: 'i-1',
            action: 'rekey',
            requestedBy: 'admin',
            requestedAt: '2026-01-01T00:00:00.000Z',
            reason: 'rotation drill',
            state: 'delivered',
            acknowledgedAt: null,
          },
        ],
      },
    ]);
    const state = wrapper.findAll('tbody td')[1]!.text();
    expect(state).toContain('PSUS');
    expect(state).toContain('consistent cut at sequence 40');
    expect(state).toContain('Rekey now by admin: received, being carried out');
    expect(state).not.toContain('at the site');
  });

  it('"Flush now" asks the engine for a heartbeat at once and says so', async () => {
    const { wrapper, store } = mountWith([base]);
    const flush = vi.spyOn(store, 'flush').mockResolvedValue();
    await wrapper.get('button').trigger('click');
    await Promise.resolve();
    await wrapper.vm.$nextTick();
    expect(flush).toHaveBeenCalledOnce();
    expect(wrapper.text()).toContain('The site has been told about this pair just now.');
  });

  it('speaks Japanese, keeping the state verbatim', () => {
    const { wrapper } = mountWith(
      [{ ...base, state: 'PSUE', cause: { kind: 'rejected', message: 'bad blob' } }],
      'ja',
    );
    const state = wrapper.findAll('tbody td')[1]!.text();
    expect(state).toContain('PSUE');
    expect(state).toContain('サイトが転送を拒否しました: bad blob');
  });

  it('says no pair exists yet once the site answered with none', () => {
    const { wrapper } = mountWith([]);
    expect(wrapper.text()).toContain('the first backup of a volume forms its pair');
  });
});
