import { useI18n } from 'vue-i18n';
import { ApiError } from '@/shared/api/request';
import { errorCodes, PASSWORD_MIN_LENGTH, type ErrorCode } from '@/core/contract';

function isKnownCode(code: string): code is ErrorCode {
  return (errorCodes as readonly string[]).includes(code);
}

/**
 * Turns any failure into a sentence in the current language that says what
 * happened and what to do (SPEC §4 Usability). A code the console does not
 * know falls back to the site's own message.
 */
export function useErrorMessage(): (error: unknown) => string {
  const { t } = useI18n();
  return (error) => {
    if (!(error instanceof ApiError)) return t('errors.unexpected');
    if (!isKnownCode(error.code)) return error.message;
    const sentence = t(`errors.${error.code}`, { min: PASSWORD_MIN_LENGTH });
    const retryAfter = error.details?.['retryAfterSeconds'];
    if (error.code === 'locked_out' && typeof retryAfter === 'number' && retryAfter > 0) {
      const minutes = Math.ceil(retryAfter / 60);
      return `${sentence} ${t('errors.retryAfter', { n: minutes }, minutes)}`;
    }
    return sentence;
  };
}
