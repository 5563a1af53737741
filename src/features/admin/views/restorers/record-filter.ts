import type { LocationQuery, LocationQueryRaw } from 'vue-router';
import { recordStates } from '@/core/contract';
import { releasePolicyKinds } from '@/core/crypto/release-policy';
import {
  emptyRecordFilter,
  EXPIRING_WITHIN_DAYS,
  type RecordFilter,
} from '@/features/admin/stores/records';
import { queryText } from '@/shared/ui/date-range';
import type { FilterField } from '@/shared/ui/filter-field';
import { sameFields, type FilterInAddress } from '@/shared/ui/use-server-list';

function oneOf<T extends string>(value: string, allowed: readonly T[]): T | '' {
  return (allowed as readonly string[]).includes(value) ? (value as T) : '';
}

/**
 * The filter lives in the address (`?q=&state=&policy=&owner=&expiring=`), so the
 * alerts screen can link a volume as `/admin/restorers?q=<volumeId>` and a
 * filtered view can be bookmarked.
 */
export function recordFilterFromQuery(query: LocationQuery): RecordFilter {
  return {
    ...emptyRecordFilter,
    q: queryText(query['q']),
    state: oneOf(queryText(query['state']), recordStates),
    policy: oneOf(queryText(query['policy']), releasePolicyKinds),
    owner: queryText(query['owner']),
    expiring: oneOf(queryText(query['expiring']), EXPIRING_WITHIN_DAYS),
  };
}

export function recordFilterToQuery(filter: RecordFilter): LocationQueryRaw {
  const query: LocationQueryRaw = {};
  for (const [key, value] of Object.entries(filter)) {
    if (typeof value === 'string' && value.trim() !== '') query[key] = value.trim();
  }
  return query;
}

export const recordFilterInAddress: FilterInAddress<RecordFilter> = {
  read: recordFilterFromQuery,
  write: recordFilterToQuery,
  same: sameFields,
};

/** What is typed is sent without the spaces around it. */
export function trimRecordFilter(filter: RecordFilter): RecordFilter {
  return { ...filter, q: filter.q.trim(), owner: filter.owner.trim() };
}

/** Search and filters of the restorer DB (ES-1); the site does the searching. */
export function recordFilterFields(
  t: (key: string, named?: Record<string, unknown>) => string,
): FilterField<keyof RecordFilter>[] {
  return [
    {
      key: 'q',
      label: t('admin.escrowRecords.search'),
      type: 'search',
      maxlength: 200,
      hint: t('admin.escrowRecords.searchHint'),
      wide: true,
    },
    {
      key: 'state',
      label: t('admin.escrowRecords.state'),
      type: 'select',
      options: [
        { value: '', label: t('admin.escrowRecords.anyState') },
        ...recordStates.map((state) => ({
          value: state,
          label: t(`admin.escrowRecords.states.${state}`),
        })),
      ],
    },
    {
      key: 'policy',
      label: t('admin.escrowRecords.policy'),
      type: 'select',
      options: [
        { value: '', label: t('admin.escrowRecords.anyPolicy') },
        ...releasePolicyKinds.map((kind) => ({
          value: kind,
          label: t(`admin.escrowRecords.policies.${kind}`),
        })),
      ],
    },
    {
      key: 'owner',
      label: t('admin.escrowRecords.owner'),
      type: 'text',
      maxlength: 64,
      autocomplete: 'off',
    },
    {
      key: 'expiring',
      label: t('admin.escrowRecords.expiring'),
      type: 'select',
      options: [
        { value: '', label: t('admin.escrowRecords.anyExpiry') },
        ...EXPIRING_WITHIN_DAYS.map((days) => ({
          value: days,
          label: t('admin.escrowRecords.expiringWithin', { n: Number(days) }),
        })),
      ],
    },
  ];
}
