import { useI18n } from 'vue-i18n';
import { ApiError } from '@/shared/api/request';
import { useAdminErrorMessage } from '@/shared/errors/use-admin-error-message';

/** Refusals of the restorer DB, approvals and remote copy that the console explains. */
export const escrowErrorCodes = [
  'owner_is_restorer',
  'unknown_restorer',
  'invalid_owner',
  'already_revoked',
  'not_burned',
  'rearm_pending',
  'already_registered',
  'registered_to_another_operator',
  'invalid_registration',
  'already_imported',
  'self_approval',
  'approval_not_found',
  'volume_not_found',
  'pair_not_found',
] as const;
type EscrowErrorCode = (typeof escrowErrorCodes)[number];

function isEscrowCode(code: string): code is EscrowErrorCode {
  return (escrowErrorCodes as readonly string[]).includes(code);
}

/** Codes whose site message names the precise cause (which user, why the file fails). */
const WITH_SITE_DETAIL: ReadonlySet<EscrowErrorCode> = new Set([
  'unknown_restorer',
  'invalid_owner',
  'invalid_registration',
]);

/**
 * Explains a refused change to an escrow record, an approval or a pair in the
 * current language (ES-2, ES-3, RC-3); the site's own sentence is added where
 * it names the precise cause. Anything else is explained as on other admin
 * screens.
 */
export function useEscrowErrorMessage(): (error: unknown) => string {
  const { t } = useI18n();
  const describe = useAdminErrorMessage();
  return (error) => {
    if (error instanceof ApiError && isEscrowCode(error.code)) {
      const sentence = t(`admin.escrowErrors.${error.code}`);
      return WITH_SITE_DETAIL.has(error.code) ? `${sentence} (${error.message})` : sentence;
    }
    if (error instanceof ApiError && error.code === 'invalid_request') {
      // The site says which field it refused; that is what the administrator must fix.
      return `${describe(error)} (${error.message})`;
    }
    return describe(error);
  };
}
