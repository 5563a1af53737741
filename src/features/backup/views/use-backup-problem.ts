import { useI18n } from 'vue-i18n';
import { backupErrorCodes, type BackupProblem } from '@/features/backup/engine/backup-errors';
import { useQuantityFormat } from '@/shared/ui/use-quantity-format';

/** Turns a backup problem into one sentence in the current language (SPEC §4 Usability). */
export function useBackupProblem(): (problem: BackupProblem) => string {
  const { t } = useI18n();
  const format = useQuantityFormat();
  return (problem) => {
    const params: Record<string, string | number> = { message: '', ...problem.params };
    for (const key of ['needed', 'available'] as const) {
      const value = problem.params[key];
      if (typeof value === 'number') params[key] = format.bytes(value);
    }
    if (!(backupErrorCodes as readonly string[]).includes(problem.code)) {
      return problem.siteMessage ?? t('backup.errors.unexpected', params);
    }
    return t(`backup.errors.${problem.code}`, params);
  };
}
