import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import {
  changeRecordRestorers,
  fetchRecordDetail,
  importRegistration,
  listRecords,
  recordsExportUrl,
  registerManually,
  requestRearm,
  revokeRecord,
  setRecordExpiry,
  transferOwnership,
} from '@/shared/api/admin-records';
import type {
  Approval,
  EscrowRecord,
  ManualRegistrationRequest,
  RecordDetail,
  RecordFilter as SiteRecordFilter,
  RecordQuery,
  RecordState,
} from '@/core/contract';
import type { RegistrationFile } from '@/core/crypto/registration';
import type { ReleasePolicy } from '@/core/crypto/release-policy';
import { useServerList } from '@/shared/ui/use-server-list';

export type RecordSortField = RecordQuery['sort'];

/** What the administrator filters by (ES-1); empty strings mean "any". */
export interface RecordFilter {
  readonly q: string;
  readonly state: RecordState | '';
  readonly policy: ReleasePolicy['kind'] | '';
  readonly owner: string;
  /** Only records that expire within this many days; '' for any. */
  readonly expiring: (typeof EXPIRING_WITHIN_DAYS)[number] | '';
}

/** The windows the administrator can filter expiries by, in days. */
export const EXPIRING_WITHIN_DAYS = ['7', '30', '90'] as const;

export const emptyRecordFilter: RecordFilter = {
  q: '',
  state: '',
  policy: '',
  owner: '',
  expiring: '',
};

export const RECORD_PAGE_SIZES = [25, 50, 100] as const;

interface DetailEntry {
  readonly detail: RecordDetail | null;
  readonly loading: boolean;
  readonly error: unknown;
}

/**
 * The restorer DB as the admin screen shows it (ES-1, ES-2): one page at a
 * time, searched, filtered, sorted and paged by the site, so the screen
 * stays fast at 100 000 records. Only the newest request's answer is shown.
 */
/** The screen's filter and sort as the site reads them: blank fields are left out. */
function forSite(
  { q, state, policy, owner, expiring }: RecordFilter,
  sort: { field: RecordSortField; order: 'asc' | 'desc' },
): SiteRecordFilter {
  return {
    q: q.trim() || undefined,
    state: state || undefined,
    policy: policy || undefined,
    owner: owner.trim() || undefined,
    expiringWithin: expiring ? Number(expiring) : undefined,
    sort: sort.field,
    order: sort.order,
  };
}

export const useRecordsStore = defineStore('records', () => {
  const list = useServerList({
    filter: emptyRecordFilter,
    sort: { field: 'updatedAt' as RecordSortField, order: 'desc' as 'asc' | 'desc' },
    pageSize: RECORD_PAGE_SIZES[0],
    fetch: ({ filter, sort, page, pageSize }, signal) =>
      listRecords({ ...forSite(filter, sort), page, pageSize }, signal),
  });
  const { filter, sort, page, loading, loaded, error, load, setFilter, cancel } = list;
  /** Where the records this screen shows, all of them, download from. */
  const exportUrl = (format: 'csv' | 'json'): string =>
    recordsExportUrl(forSite(filter.value, sort.value), format);
  const records = computed<readonly EscrowRecord[]>(() => list.answer.value?.records ?? []);
  const total = computed(() => list.answer.value?.total ?? 0);
  const totalIsCapped = computed(() => list.answer.value?.totalIsCapped ?? false);
  const details = ref<Record<string, DetailEntry>>({});

  const isFiltered = computed(() => Object.values(filter.value).some((value) => value !== ''));

  function setSort(field: RecordSortField, order: 'asc' | 'desc'): Promise<void> {
    return list.setSort({ field, order });
  }

  /** Another page size starts again at the first page. */
  function setPage(first: number, rows: number): Promise<void> {
    return list.setPage(rows === page.value.rows ? first : 0, rows);
  }

  async function loadDetail(volumeId: string): Promise<void> {
    const before = details.value[volumeId];
    details.value = {
      ...details.value,
      [volumeId]: { detail: before?.detail ?? null, loading: true, error: null },
    };
    try {
      const detail = await fetchRecordDetail(volumeId);
      details.value = { ...details.value, [volumeId]: { detail, loading: false, error: null } };
    } catch (cause) {
      details.value = {
        ...details.value,
        [volumeId]: { detail: before?.detail ?? null, loading: false, error: cause },
      };
    }
  }

  /** After a change: the page and the open detail show what the site now holds. */
  async function changed(volumeId: string): Promise<void> {
    await Promise.all([load(), details.value[volumeId] ? loadDetail(volumeId) : undefined]);
  }

  async function changeRestorers(
    volumeId: string,
    add: readonly string[],
    remove: readonly string[],
    reason: string,
  ): Promise<EscrowRecord> {
    const record = await changeRecordRestorers(volumeId, { add, remove, reason });
    await changed(volumeId);
    return record;
  }

  async function setExpiry(
    volumeId: string,
    expiresAt: string | null,
    reason: string,
  ): Promise<EscrowRecord> {
    const record = await setRecordExpiry(volumeId, expiresAt, reason);
    await changed(volumeId);
    return record;
  }

  async function revoke(volumeId: string, reason: string): Promise<EscrowRecord> {
    const record = await revokeRecord(volumeId, reason);
    await changed(volumeId);
    return record;
  }

  async function transfer(volumeId: string, newOwner: string, reason: string) {
    const record = await transferOwnership(volumeId, newOwner, reason);
    await changed(volumeId);
    return record;
  }

  async function rearm(volumeId: string, reason: string): Promise<Approval> {
    const approval = await requestRearm(volumeId, reason);
    await changed(volumeId);
    return approval;
  }

  async function register(request: ManualRegistrationRequest): Promise<EscrowRecord> {
    const record = await registerManually(request);
    await load();
    return record;
  }

  async function importFile(file: RegistrationFile, reason: string): Promise<EscrowRecord> {
    const record = await importRegistration(file, reason);
    await load();
    return record;
  }

  return {
    filter,
    sort,
    exportUrl,
    page,
    records,
    total,
    totalIsCapped,
    loading,
    loaded,
    error,
    details,
    isFiltered,
    load,
    setFilter,
    setSort,
    setPage,
    loadDetail,
    changeRestorers,
    setExpiry,
    revoke,
    transfer,
    rearm,
    register,
    importFile,
    cancel,
  };
});
