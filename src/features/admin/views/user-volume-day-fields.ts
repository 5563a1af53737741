import type { FilterField } from '@/shared/ui/filter-field';

/** The fields alerts and the audit log are both filtered by: who, which volume, which days. */
export function userVolumeDayFields(
  t: (key: string) => string,
): FilterField<'user' | 'volume' | 'from' | 'to'>[] {
  return [
    { key: 'user', label: t('admin.common.user'), type: 'text', maxlength: 64 },
    { key: 'volume', label: t('admin.common.volume'), type: 'text', maxlength: 512 },
    { key: 'from', label: t('admin.common.from'), type: 'date' },
    { key: 'to', label: t('admin.common.to'), type: 'date' },
  ];
}
