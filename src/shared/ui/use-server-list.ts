import {
  computed,
  getCurrentScope,
  onMounted,
  onScopeDispose,
  ref,
  shallowRef,
  watch,
  type Ref,
  type ShallowRef,
} from 'vue';
import { useRoute, useRouter, type LocationQuery, type LocationQueryRaw } from 'vue-router';

/** Which rows the table shows, as PrimeVue's paginator counts them. */
export interface PageWindow {
  readonly first: number;
  readonly rows: number;
}

/** What one request to the site asks for: the filter, the page (from 1) and the order. */
export interface ListRequest<Filter, Sort> {
  readonly filter: Filter;
  readonly page: number;
  readonly pageSize: number;
  readonly sort: Sort;
}

/** How a filter is written in the address, so a link or a bookmark opens it. */
export interface FilterInAddress<Filter> {
  read(query: LocationQuery): Filter;
  write(filter: Filter): LocationQueryRaw;
  same(a: Filter, b: Filter): boolean;
}

export interface ServerListOptions<Filter, Sort, Answer> {
  /** Asks the site for one page; `signal` aborts when a newer request replaces it. */
  fetch(request: ListRequest<Filter, Sort>, signal: AbortSignal): Promise<Answer>;
  filter: Filter;
  sort?: Sort;
  pageSize?: number;
  /** Called with each answer that is shown (not with answers overtaken by a newer request). */
  onAnswer?(answer: Answer): void;
  /** Subscribes to what should make the list read again (a live event); returns the unsubscribe. */
  reloadOn?(reload: () => void): () => void;
  /** Live events are gathered this long before the list is read again, so a burst asks once. */
  reloadDelayMs?: number;
  /**
   * The filter lives in the address: it is read from there when the screen is
   * mounted and whenever the address changes, and `applyFilter` writes it
   * there. Only for lists owned by a screen (it needs the router and mounting).
   */
  address?: FilterInAddress<Filter>;
}

export interface ServerList<Filter, Sort, Answer> {
  readonly filter: Ref<Filter>;
  readonly sort: Ref<Sort>;
  readonly page: Ref<PageWindow>;
  /** The latest answer shown; kept while a newer request runs or after one fails. */
  readonly answer: ShallowRef<Answer | undefined>;
  readonly loading: Ref<boolean>;
  readonly loaded: Ref<boolean>;
  readonly error: Ref<unknown>;
  /** Reads the current page again; an earlier request still running is aborted and ignored. */
  load(): Promise<void>;
  /** Reads the page again after `reloadDelayMs`, gathering calls made meanwhile into one. */
  reload(): void;
  /** A new filter starts again at the first page. */
  setFilter(filter: Filter): Promise<void>;
  setSort(sort: Sort): Promise<void>;
  setPage(first: number, rows: number): Promise<void>;
  /** Writes the filter to the address (with `address`); the list follows the address. */
  applyFilter(filter: Filter): void;
  /** Stops the request running, if any, and any reload waiting. */
  cancel(): void;
}

/**
 * One list read from the site page by page (the admin screens): filter, sort
 * and page sent to the site, which does the filtering; only the newest
 * request's answer is shown, so a fast change of filters never shows an older
 * page; live events read the page again. Works in a screen or in a store: it
 * stops with the scope that created it.
 */
export function useServerList<Filter, Answer, Sort = undefined>(
  options: ServerListOptions<Filter, Sort, Answer>,
): ServerList<Filter, Sort, Answer> {
  const filter = ref(options.filter) as Ref<Filter>;
  if (options.address) filter.value = options.address.read(useRoute().query);
  const sort = ref(options.sort) as Ref<Sort>;
  const page = ref<PageWindow>({ first: 0, rows: options.pageSize ?? 25 });
  const answer = shallowRef<Answer>();
  // A list that loads as soon as its screen is mounted is busy from the start.
  const loading = ref(options.address !== undefined);
  const loaded = ref(false);
  const error = ref<unknown>(null);
  let controller: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function load(): Promise<void> {
    controller?.abort();
    const current = new AbortController();
    controller = current;
    loading.value = true;
    try {
      const next = await options.fetch(
        {
          filter: filter.value,
          page: Math.floor(page.value.first / page.value.rows) + 1,
          pageSize: page.value.rows,
          sort: sort.value,
        },
        current.signal,
      );
      // A newer request was sent meanwhile: this answer is for filters no longer asked for.
      if (controller !== current) return;
      answer.value = next;
      loaded.value = true;
      error.value = null;
      options.onAnswer?.(next);
    } catch (cause) {
      if (current.signal.aborted || controller !== current) return;
      error.value = cause;
    } finally {
      if (controller === current) loading.value = false;
    }
  }

  function reload(): void {
    clearTimeout(timer);
    const delay = options.reloadDelayMs ?? 0;
    timer = setTimeout(() => {
      timer = undefined;
      void load();
    }, delay);
  }

  function setFilter(next: Filter): Promise<void> {
    filter.value = next;
    page.value = { ...page.value, first: 0 };
    return load();
  }

  function setSort(next: Sort): Promise<void> {
    sort.value = next;
    page.value = { ...page.value, first: 0 };
    return load();
  }

  function setPage(first: number, rows: number): Promise<void> {
    page.value = { first, rows };
    return load();
  }

  function cancel(): void {
    clearTimeout(timer);
    timer = undefined;
    controller?.abort();
    controller = undefined;
    loading.value = false;
  }

  const unsubscribe = options.reloadOn?.(reload);
  if (getCurrentScope()) {
    onScopeDispose(() => {
      unsubscribe?.();
      cancel();
    });
  }

  let applyFilter: (next: Filter) => void = (next) => void setFilter(next);
  if (options.address) {
    applyFilter = syncFilterWithAddress(options.address, { filter: () => filter.value, setFilter });
  }

  return {
    filter,
    sort,
    page,
    answer,
    loading,
    loaded,
    error,
    load,
    reload,
    setFilter,
    setSort,
    setPage,
    applyFilter: (next) => applyFilter(next),
    cancel,
  };
}

/**
 * Keeps a list's filter and the address in step: the filter is read from the
 * address when the screen is mounted and whenever the address changes (a link,
 * Back); the returned function writes a new filter to the address. For a list
 * kept in a store, called by the screen that shows it.
 */
export function syncFilterWithAddress<Filter>(
  address: FilterInAddress<Filter>,
  list: { filter(): Filter; setFilter(next: Filter): unknown },
): (next: Filter) => void {
  const route = useRoute();
  const router = useRouter();
  const inAddress = computed(() => address.read(route.query));
  watch(inAddress, (next) => {
    if (!address.same(next, list.filter())) void list.setFilter(next);
  });
  onMounted(() => void list.setFilter(inAddress.value));
  return (next) => void router.replace({ query: address.write(next) });
}

/** Two filters of plain text fields are the same when every field is. */
export function sameFields<Filter extends object>(a: Filter, b: Filter): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof Filter>;
  return [...keys].every((key) => a[key] === b[key]);
}
