import type { LocationQuery } from 'vue-router';
import { alertKinds, type AlertFilter, type AlertKind } from '@/core/contract';
import { dayEndIso, dayStartIso, queryText } from '@/shared/ui/date-range';
import type { FilterField } from '@/shared/ui/filter-field';
import { sameFields, type FilterInAddress } from '@/shared/ui/use-server-list';
import { userVolumeDayFields } from '../user-volume-day-fields';

/** The alert filters as the form holds them: days in the reader's zone (AL-2). */
export interface AlertFilterForm {
  kind: AlertKind | '';
  user: string;
  volume: string;
  from: string;
  to: string;
  acknowledged: '' | 'yes' | 'no';
}

export function emptyAlertFilter(): AlertFilterForm {
  return { kind: '', user: '', volume: '', from: '', to: '', acknowledged: '' };
}

/** Filters live in the address, so a link (from the dashboard, say) opens them. */
export function alertFilterFromQuery(query: LocationQuery): AlertFilterForm {
  const kind = queryText(query['kind']);
  const state = queryText(query['acknowledged']);
  return {
    kind: (alertKinds as readonly string[]).includes(kind) ? (kind as AlertKind) : '',
    user: queryText(query['user']),
    volume: queryText(query['volume']),
    from: queryText(query['from']),
    to: queryText(query['to']),
    acknowledged: state === 'yes' || state === 'no' ? state : '',
  };
}

export function alertFilterToQuery(form: AlertFilterForm): Record<string, string> {
  return Object.fromEntries(
    Object.entries(form).filter(([, value]) => typeof value === 'string' && value.trim() !== ''),
  ) as Record<string, string>;
}

export const alertFilterInAddress: FilterInAddress<AlertFilterForm> = {
  read: alertFilterFromQuery,
  write: alertFilterToQuery,
  same: sameFields,
};

export function alertFilterFields(
  t: (key: string) => string,
): FilterField<keyof AlertFilterForm>[] {
  return [
    {
      key: 'kind',
      label: t('admin.alerts.kind'),
      type: 'select',
      options: [
        { value: '', label: t('admin.alerts.anyKind') },
        ...alertKinds.map((kind) => ({ value: kind, label: t(`admin.alertKinds.${kind}`) })),
      ],
    },
    {
      key: 'acknowledged',
      label: t('admin.alerts.state'),
      type: 'select',
      options: [
        { value: '', label: t('admin.alerts.anyState') },
        { value: 'no', label: t('admin.alerts.unacknowledged') },
        { value: 'yes', label: t('admin.alerts.acknowledged') },
      ],
    },
    ...userVolumeDayFields(t),
  ];
}

export function alertFilterForSite(form: AlertFilterForm): AlertFilter {
  return {
    kind: form.kind || undefined,
    user: form.user.trim() || undefined,
    volume: form.volume.trim() || undefined,
    from: dayStartIso(form.from),
    to: dayEndIso(form.to),
    acknowledged: form.acknowledged || undefined,
  };
}

export function isFiltered(form: AlertFilterForm): boolean {
  return Object.keys(alertFilterToQuery(form)).length > 0;
}
