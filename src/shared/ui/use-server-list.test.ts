import { flushPromises, mount } from '@vue/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineComponent, effectScope } from 'vue';
import { createMemoryHistory, createRouter, type Router } from 'vue-router';
import { queryText } from './date-range';
import {
  sameFields,
  useServerList,
  type FilterInAddress,
  type ListRequest,
  type ServerList,
  type ServerListOptions,
} from './use-server-list';

interface Filter {
  user: string;
  volume: string;
}
type Answer = { rows: string[]; for: ListRequest<Filter, undefined> };

const inAddress: FilterInAddress<Filter> = {
  read: (query) => ({ user: queryText(query['user']), volume: queryText(query['volume']) }),
  write: (filter) => Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== '')),
  same: sameFields,
};

/** A site whose answers the test releases one by one, in any order; it never looks at `signal`. */
function slowSite() {
  const calls: {
    request: ListRequest<Filter, undefined>;
    signal: AbortSignal;
    answer(rows: string[]): void;
    fail(error: Error): void;
  }[] = [];
  const fetch = (request: ListRequest<Filter, undefined>, signal: AbortSignal) =>
    new Promise<Answer>((resolve, reject) => {
      calls.push({
        request,
        signal,
        answer: (rows) => resolve({ rows, for: request }),
        fail: reject,
      });
    });
  return { calls, fetch };
}

const routers: Router[] = [];
let unmount: (() => void) | undefined;

async function mountList(
  path: string,
  options: Partial<ServerListOptions<Filter, undefined, Answer>> &
    Pick<ServerListOptions<Filter, undefined, Answer>, 'fetch'>,
): Promise<{ list: ServerList<Filter, undefined, Answer>; router: Router }> {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [{ path: '/list', component: { render: () => null } }],
  });
  routers.push(router);
  await router.push(path);
  let list: ServerList<Filter, undefined, Answer> | undefined;
  const Screen = defineComponent({
    setup() {
      list = useServerList<Filter, Answer>({
        filter: { user: '', volume: '' },
        address: inAddress,
        ...options,
      });
      return () => null;
    },
  });
  const wrapper = mount(Screen, { global: { plugins: [router] } });
  unmount = () => wrapper.unmount();
  await flushPromises();
  return { list: list!, router };
}

afterEach(() => {
  unmount?.();
  unmount = undefined;
  vi.useRealTimers();
});

describe('useServerList: the address', () => {
  it('reads the filter from the address when the screen opens, at the first page', async () => {
    const site = slowSite();
    const { list } = await mountList('/list?user=bob', { fetch: site.fetch });
    expect(site.calls).toHaveLength(1);
    expect(site.calls[0]!.request).toEqual({
      filter: { user: 'bob', volume: '' },
      page: 1,
      pageSize: 25,
      sort: undefined,
    });
    expect(list.loading.value).toBe(true);
    site.calls[0]!.answer(['a']);
    await flushPromises();
    expect(list.answer.value?.rows).toEqual(['a']);
    expect(list.loading.value).toBe(false);
    expect(list.loaded.value).toBe(true);
  });

  it('follows the address when it changes (a link, Back), and only when the filter did', async () => {
    const site = slowSite();
    const { list, router } = await mountList('/list?user=bob', { fetch: site.fetch });
    await router.push('/list?user=carol&volume=v1');
    await flushPromises();
    expect(site.calls).toHaveLength(2);
    expect(site.calls[1]!.request.filter).toEqual({ user: 'carol', volume: 'v1' });
    expect(list.filter.value).toEqual({ user: 'carol', volume: 'v1' });

    await router.back();
    await flushPromises();
    expect(site.calls.at(-1)!.request.filter).toEqual({ user: 'bob', volume: '' });

    const asked = site.calls.length;
    await router.push('/list?user=bob&unrelated=1');
    await flushPromises();
    expect(site.calls).toHaveLength(asked);
  });

  it('writes an applied filter to the address, and the list follows', async () => {
    const site = slowSite();
    const { list, router } = await mountList('/list', { fetch: site.fetch });
    list.applyFilter({ user: 'dave', volume: '' });
    await flushPromises();
    expect(router.currentRoute.value.fullPath).toBe('/list?user=dave');
    expect(site.calls.at(-1)!.request.filter).toEqual({ user: 'dave', volume: '' });
    expect(list.filter.value).toEqual({ user: 'dave', volume: '' });
  });
});

describe('useServerList: pages', () => {
  it('asks for the page the table shows, and a new filter starts again at the first', async () => {
    const site = slowSite();
    const { list } = await mountList('/list', { fetch: site.fetch, pageSize: 50 });
    expect(site.calls[0]!.request).toMatchObject({ page: 1, pageSize: 50 });
    void list.setPage(100, 50);
    expect(site.calls.at(-1)!.request).toMatchObject({ page: 3, pageSize: 50 });
    void list.setPage(75, 25);
    expect(site.calls.at(-1)!.request).toMatchObject({ page: 4, pageSize: 25 });
    void list.setFilter({ user: 'erin', volume: '' });
    expect(site.calls.at(-1)!.request).toMatchObject({ page: 1, pageSize: 25 });
    expect(list.page.value).toEqual({ first: 0, rows: 25 });
  });

  it('keeps the sort and starts again at the first page when it changes', async () => {
    const requests: ListRequest<undefined, string>[] = [];
    const scope = effectScope();
    const list = scope.run(() =>
      useServerList({
        filter: undefined,
        sort: 'newest',
        fetch: async (request) => {
          requests.push(request);
          return [];
        },
      }),
    )!;
    await list.setPage(50, 25);
    await list.setSort('oldest');
    expect(requests.map((r) => [r.sort, r.page])).toEqual([
      ['newest', 3],
      ['oldest', 1],
    ]);
    scope.stop();
  });
});

describe('useServerList: only the newest answer is shown', () => {
  it('ignores an older answer that arrives after a newer one, and aborts its request', async () => {
    const site = slowSite();
    const onAnswer = vi.fn();
    const { list, router } = await mountList('/list', { fetch: site.fetch, onAnswer });
    site.calls[0]!.answer(['everyone']);
    await flushPromises();

    await router.push('/list?user=bob');
    await router.push('/list?user=carol');
    await flushPromises();
    const [, forBob, forCarol] = site.calls;
    expect(forBob!.signal.aborted).toBe(true);
    expect(forCarol!.signal.aborted).toBe(false);

    forCarol!.answer(['carol’s']);
    await flushPromises();
    forBob!.answer(['bob’s']);
    await flushPromises();
    expect(list.answer.value?.rows).toEqual(['carol’s']);
    expect(list.answer.value?.for.filter.user).toBe('carol');
    expect(onAnswer.mock.calls.map(([answer]) => (answer as Answer).rows)).toEqual([
      ['everyone'],
      ['carol’s'],
    ]);
  });

  it('stays busy until the newest request is answered, and a late failure of an older one is not shown', async () => {
    const site = slowSite();
    const { list } = await mountList('/list', { fetch: site.fetch });
    void list.setFilter({ user: 'bob', volume: '' });
    site.calls[0]!.fail(new Error('old'));
    await flushPromises();
    expect(list.error.value).toBeNull();
    expect(list.loading.value).toBe(true);
    site.calls[1]!.answer(['bob’s']);
    await flushPromises();
    expect(list.loading.value).toBe(false);
  });

  it('shows a failure of the newest request, keeps the last page, and clears it on success', async () => {
    const site = slowSite();
    const { list } = await mountList('/list', { fetch: site.fetch });
    site.calls[0]!.answer(['a']);
    await flushPromises();
    void list.load();
    const refused = new Error('site down');
    site.calls[1]!.fail(refused);
    await flushPromises();
    expect(list.error.value).toBe(refused);
    expect(list.answer.value?.rows).toEqual(['a']);
    void list.load();
    site.calls[2]!.answer(['b']);
    await flushPromises();
    expect(list.error.value).toBeNull();
    expect(list.answer.value?.rows).toEqual(['b']);
  });

  it('aborts the request running and ignores its answer when the screen closes', async () => {
    const site = slowSite();
    const onAnswer = vi.fn();
    await mountList('/list', { fetch: site.fetch, onAnswer });
    unmount!();
    expect(site.calls[0]!.signal.aborted).toBe(true);
    site.calls[0]!.answer(['late']);
    await flushPromises();
    expect(onAnswer).not.toHaveBeenCalled();
  });
});

describe('useServerList: live reload', () => {
  it('reads the page again once after a burst of events, and stops listening when the screen closes', async () => {
    vi.useFakeTimers();
    const site = slowSite();
    const listeners = new Set<() => void>();
    const event = (): void => listeners.forEach((listener) => listener());
    await mountList('/list?volume=v1', {
      fetch: site.fetch,
      reloadOn: (reload) => {
        listeners.add(reload);
        return () => listeners.delete(reload);
      },
      reloadDelayMs: 150,
    });
    expect(site.calls).toHaveLength(1);
    event();
    event();
    await vi.advanceTimersByTimeAsync(100);
    event();
    expect(site.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(150);
    expect(site.calls).toHaveLength(2);
    expect(site.calls[1]!.request.filter).toEqual({ user: '', volume: 'v1' });

    event();
    unmount!();
    expect(listeners.size).toBe(0);
    await vi.advanceTimersByTimeAsync(500);
    expect(site.calls).toHaveLength(2);
  });

  it('works in a store’s scope too: it stops with the scope', async () => {
    const site = slowSite();
    let reload: (() => void) | undefined;
    const scope = effectScope();
    scope.run(() =>
      useServerList({
        filter: { user: '', volume: '' },
        fetch: site.fetch,
        reloadOn: (given) => {
          reload = given;
          return () => (reload = undefined);
        },
      }),
    );
    expect(site.calls).toHaveLength(0);
    reload!();
    await vi.waitFor(() => expect(site.calls).toHaveLength(1));
    scope.stop();
    expect(reload).toBeUndefined();
    expect(site.calls[0]!.signal.aborted).toBe(true);
  });
});
