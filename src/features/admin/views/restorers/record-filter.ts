import type { LocationQuery, LocationQueryRaw } from 'vue-router';
import { recordStates } from '@/core/contract';
import { releasePolicyKinds } from '@/core/crypto/release-policy';
import { emptyRecordFilter, type RecordFilter } from '@/features/admin/stores/records';
import { queryText } from '@/shared/ui/date-range';

function oneOf<T extends string>(value: string, allowed: readonly T[]): T | '' {
  return (allowed as readonly string[]).includes(value) ? (value as T) : '';
}

/**
 * The filter lives in the address (`?q=&state=&policy=&owner=`), so the
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
  };
}

export function recordFilterToQuery(filter: RecordFilter): LocationQueryRaw {
  const query: LocationQueryRaw = {};
  for (const [key, value] of Object.entries(filter)) {
    if (typeof value === 'string' && value.trim() !== '') query[key] = value.trim();
  }
  return query;
}

export function sameFilter(a: RecordFilter, b: RecordFilter): boolean {
  return a.q === b.q && a.state === b.state && a.policy === b.policy && a.owner === b.owner;
}
