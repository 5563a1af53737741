import { useI18n } from 'vue-i18n';
import type { Alert } from '@/core/contract';

/** Parameters that are themselves codes, worded in the reader's language too. */
const WORDED: Readonly<Record<string, string>> = {
  check: 'admin.alerts.checks',
  copy: 'admin.alerts.copies',
  action: 'admin.alerts.actions',
};

/**
 * What an alert says, in the reader's language: its message code and
 * parameters through the catalogue; the site's English sentence for an alert
 * whose code this console does not know (or one stored before codes).
 */
export function useAlertText(): (alert: Pick<Alert, 'message' | 'sentence'>) => string {
  const { t, te } = useI18n();
  return (alert) => {
    const message = alert.message;
    if (!message || !te(`admin.alerts.messages.${message.code}`)) return alert.sentence;
    const params: Record<string, string | number> = { ...message.params };
    for (const [name, catalogue] of Object.entries(WORDED)) {
      const value = params[name];
      if (typeof value === 'string' && te(`${catalogue}.${value}`)) {
        params[name] = t(`${catalogue}.${value}`);
      }
    }
    return t(`admin.alerts.messages.${message.code}`, params);
  };
}
