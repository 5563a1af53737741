import { useI18n } from 'vue-i18n';
import { errorCodes, PASSWORD_MIN_LENGTH, type ErrorCode } from '@/core/contract';
import { ApiError } from '@/shared/api/request';

/** The part of vue-i18n's `t` the catalogue needs. */
export type Translate = (key: string, named: Record<string, unknown>, plural?: number) => string;

/** Where the failure is shown, when that changes what helps the user. */
export interface ExplainOptions {
  /** The password refused is one an administrator sets for another user. */
  readonly initialPassword?: boolean;
  /** A form on an administrator's screen: the site's words name the field it refused. */
  readonly fieldDetail?: boolean;
}

/** Codes whose site message names the precise cause (which user, why the file fails, the mail server's answer). */
const WITH_SITE_DETAIL: ReadonlySet<ErrorCode> = new Set([
  'unknown_restorer',
  'invalid_owner',
  'invalid_registration',
  'mail_failed',
]);

export function isErrorCode(code: string): code is ErrorCode {
  return (errorCodes as readonly string[]).includes(code);
}

/**
 * The console's one error catalogue: any failure as a sentence in the current
 * language that says what happened and what to do (SPEC §4 Usability). Every
 * code of the contract has a sentence under `errors` in each language; a code
 * the console does not know falls back to the site's own message.
 */
export function explainError(t: Translate, error: unknown, options: ExplainOptions = {}): string {
  if (!(error instanceof ApiError)) return t('errors.unexpected', {});
  if (!isErrorCode(error.code)) return error.message;
  const code = error.code;
  if (code === 'weak_password' && options.initialPassword) {
    return t('errors.weak_initial_password', { min: PASSWORD_MIN_LENGTH });
  }
  const sentence = t(`errors.${code}`, { min: PASSWORD_MIN_LENGTH });
  const retryAfter = error.details?.['retryAfterSeconds'];
  if (code === 'locked_out' && typeof retryAfter === 'number' && retryAfter > 0) {
    const minutes = Math.ceil(retryAfter / 60);
    return `${sentence} ${t('errors.retryAfter', { n: minutes }, minutes)}`;
  }
  if (WITH_SITE_DETAIL.has(code) || (code === 'invalid_request' && options.fieldDetail)) {
    return `${sentence} (${error.message})`;
  }
  return sentence;
}

/** `explainError` in the current language of the component that calls it. */
export function useExplainError(options: ExplainOptions = {}): (error: unknown) => string {
  const { t } = useI18n();
  const translate: Translate = (key, named, plural) =>
    plural === undefined ? t(key, named) : t(key, named, plural);
  return (error) => explainError(translate, error, options);
}
