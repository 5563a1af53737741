import { flushPromises, mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineComponent, h, ref } from 'vue';
import { createConsoleI18n } from '@/app/i18n';
import { primeVueOptions } from '@/app/primevue-options';
import { buttonNamed, controlLabelled } from '@/testing/mount-console';
import type { FilterField } from './filter-field';
import FilterBar from './FilterBar.vue';

interface Filter {
  q: string;
  state: string;
  from: string;
}
const empty: Filter = { q: '', state: '', from: '' };
const fields: FilterField<keyof Filter>[] = [
  { key: 'q', label: 'Search', type: 'search', hint: 'Part of a volume ID', wide: true },
  {
    key: 'state',
    label: 'State',
    type: 'select',
    options: [
      { value: '', label: 'Any state' },
      { value: 'active', label: 'Active' },
    ],
  },
  { key: 'from', label: 'From', type: 'date' },
];

function mountBar(options: { live?: boolean; filter?: Filter } = {}) {
  const filter = ref<Filter>(options.filter ?? empty);
  const applied: Filter[] = [];
  const Host = defineComponent({
    setup: () => () =>
      h(FilterBar<Filter>, {
        filter: filter.value,
        fields,
        empty,
        live: options.live,
        normalize: (f: Filter) => ({ ...f, q: f.q.trim() }),
        onApply: (next: Filter) => {
          applied.push(next);
          filter.value = next;
        },
      }),
  });
  mount(Host, {
    attachTo: document.body,
    global: { plugins: [createConsoleI18n('en'), [PrimeVue, primeVueOptions()]] },
  });
  return { filter, applied };
}

function typeInto(control: HTMLInputElement | HTMLSelectElement, value: string): void {
  control.value = value;
  control.dispatchEvent(new Event(control instanceof HTMLSelectElement ? 'change' : 'input'));
}

afterEach(() => vi.useRealTimers());

describe('FilterBar', () => {
  it('is a search landmark "Filters" whose fields are labelled and hinted', async () => {
    mountBar({ filter: { q: 'payroll', state: 'active', from: '2026-11-01' } });
    await flushPromises();
    const form = document.querySelector('form[role="search"]');
    expect(form?.getAttribute('aria-label')).toBe('Filters');
    const search = controlLabelled('Search') as HTMLInputElement;
    expect(search.type).toBe('search');
    expect(search.value).toBe('payroll');
    expect(document.getElementById(search.getAttribute('aria-describedby')!)?.textContent).toBe(
      'Part of a volume ID',
    );
    expect(controlLabelled('State').value).toBe('active');
    expect((controlLabelled('From') as HTMLInputElement).type).toBe('date');
  });

  it('applies what was chosen on "Apply filters", normalized, and nothing when it did not change', async () => {
    const { applied } = mountBar();
    await flushPromises();
    typeInto(controlLabelled('Search'), '  payroll ');
    typeInto(controlLabelled('State'), 'active');
    await flushPromises();
    expect(applied).toEqual([]);
    buttonNamed('Apply filters').click();
    await flushPromises();
    expect(applied).toEqual([{ q: 'payroll', state: 'active', from: '' }]);
    buttonNamed('Apply filters').click();
    await flushPromises();
    expect(applied).toHaveLength(1);
    buttonNamed('Clear filters').click();
    await flushPromises();
    expect(applied.at(-1)).toEqual(empty);
    expect(controlLabelled('State').value).toBe('');
  });

  it('live: a choice applies at once, typing after a pause, as one query', async () => {
    vi.useFakeTimers();
    const { applied } = mountBar({ live: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(() => buttonNamed('Apply filters')).toThrow();
    typeInto(controlLabelled('State'), 'active');
    await vi.advanceTimersByTimeAsync(0);
    expect(applied).toEqual([{ q: '', state: 'active', from: '' }]);
    const search = controlLabelled('Search');
    for (const typed of ['p', 'pa', 'pay']) {
      typeInto(search, typed);
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(applied).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(300);
    expect(applied).toEqual([
      { q: '', state: 'active', from: '' },
      { q: 'pay', state: 'active', from: '' },
    ]);
  });

  it('takes over a filter changed from outside, keeping what is being typed elsewhere', async () => {
    const { filter } = mountBar();
    await flushPromises();
    typeInto(controlLabelled('Search'), 'half-typed');
    await flushPromises();
    filter.value = { q: '', state: 'active', from: '2026-11-02' };
    await flushPromises();
    expect(controlLabelled('State').value).toBe('active');
    expect(controlLabelled('From').value).toBe('2026-11-02');
    expect(controlLabelled('Search').value).toBe('half-typed');
  });
});
