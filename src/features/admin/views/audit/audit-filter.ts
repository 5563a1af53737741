import type { LocationQuery } from 'vue-router';
import { auditEventNames, type AuditFilter } from '@/core/contract';
import { dayEndIso, dayStartIso, queryText } from '@/shared/ui/date-range';
import type { FilterField } from '@/shared/ui/filter-field';
import { sameFields, type FilterInAddress } from '@/shared/ui/use-server-list';
import { userVolumeDayFields } from '../user-volume-day-fields';

/** The audit filters as the form holds them: days in the reader's zone (AL-4). */
export interface AuditFilterForm {
  event: string;
  user: string;
  volume: string;
  from: string;
  to: string;
}

export function emptyAuditFilter(): AuditFilterForm {
  return { event: '', user: '', volume: '', from: '', to: '' };
}

export function auditFilterFromQuery(query: LocationQuery): AuditFilterForm {
  return {
    event: queryText(query['event']),
    user: queryText(query['user']),
    volume: queryText(query['volume']),
    from: queryText(query['from']),
    to: queryText(query['to']),
  };
}

export function auditFilterToQuery(form: AuditFilterForm): Record<string, string> {
  return Object.fromEntries(Object.entries(form).filter(([, value]) => value.trim() !== ''));
}

export const auditFilterInAddress: FilterInAddress<AuditFilterForm> = {
  read: auditFilterFromQuery,
  write: auditFilterToQuery,
  same: sameFields,
};

/** `seenEvents`: event names met in the log so far, offered beside the known ones. */
export function auditFilterFields(
  t: (key: string) => string,
  seenEvents: readonly string[],
): FilterField<keyof AuditFilterForm>[] {
  return [
    {
      key: 'event',
      label: t('admin.auditLog.eventType'),
      type: 'text',
      maxlength: 64,
      autocomplete: 'off',
      suggestions: [...new Set([...auditEventNames, ...seenEvents])].sort(),
    },
    ...userVolumeDayFields(t),
  ];
}

export function auditFilterForSite(form: AuditFilterForm): AuditFilter {
  return {
    event: form.event.trim() || undefined,
    user: form.user.trim() || undefined,
    volume: form.volume.trim() || undefined,
    from: dayStartIso(form.from),
    to: dayEndIso(form.to),
  };
}
