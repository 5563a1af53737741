import { useI18n } from 'vue-i18n';
import { ApiError } from '@/shared/api/request';
import { adminErrorCodes, PASSWORD_MIN_LENGTH, type AdminErrorCode } from '@/core/contract';
import { useErrorMessage } from '@/shared/errors/use-error-message';

function isAdminCode(code: string): code is AdminErrorCode {
  return (adminErrorCodes as readonly string[]).includes(code);
}

/**
 * Explains a failure of an administrator's action in the current language:
 * the refusals of user administration and mail first (last administrator,
 * duplicate ID, …), anything else as every other screen does.
 */
export function useAdminErrorMessage(): (error: unknown) => string {
  const { t } = useI18n();
  const describe = useErrorMessage();
  return (error) => {
    if (error instanceof ApiError && isAdminCode(error.code)) {
      const sentence = t(`admin.errors.${error.code}`);
      // The mail server's own answer is the useful detail here.
      return error.code === 'mail_failed' ? `${sentence} (${error.message})` : sentence;
    }
    if (error instanceof ApiError && error.code === 'weak_password') {
      return t('admin.errors.weak_password', { min: PASSWORD_MIN_LENGTH });
    }
    return describe(error);
  };
}
