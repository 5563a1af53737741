import { describe, expect, it } from 'vitest';
import { createConsoleI18n, type Locale } from '@/app/i18n';
import { errorCodes } from '@/core/contract';
import { ApiError } from '@/shared/api/request';
import { explainError, type ExplainOptions, type Translate } from './explain-error';

function explainIn(locale: Locale): (error: unknown, options?: ExplainOptions) => string {
  const { t } = createConsoleI18n(locale).global;
  const translate: Translate = (key, named, plural) =>
    plural === undefined ? t(key, named) : t(key, named, plural);
  return (error, options) => explainError(translate, error, options);
}

const refusal = (code: string, message = 'The site says why.', details?: Record<string, unknown>) =>
  new ApiError(code, message, 409, details);

describe('explainError', () => {
  it.each(['en', 'ja'] as const)('has a sentence of its own for every code in %s', (locale) => {
    const explain = explainIn(locale);
    for (const code of errorCodes) {
      const sentence = explain(refusal(code, 'SITE'));
      expect(sentence, code).not.toContain(`errors.${code}`);
      expect(sentence.startsWith('SITE'), code).toBe(false);
      expect(sentence.length, code).toBeGreaterThan(10);
    }
  });

  it('speaks the language of the console', () => {
    expect(explainIn('en')(refusal('self_approval'))).toBe(
      'Nobody approves their own request: another administrator must decide.',
    );
    expect(explainIn('ja')(refusal('self_approval'))).toBe(
      '自分の申請は承認できません。別の管理者が判断する必要があります。',
    );
  });

  it("adds the site's words where they name the precise cause", () => {
    const explain = explainIn('en');
    expect(explain(refusal('unknown_restorer', 'No active user "kim".'))).toBe(
      'There is no active user with this ID at the site. Check the user ID. (No active user "kim".)',
    );
    const field = refusal('invalid_request', 'reason: too long');
    expect(explain(field)).not.toContain('reason: too long');
    expect(explain(field, { fieldDetail: true })).toMatch(/ \(reason: too long\)$/);
  });

  it('tells an administrator about the initial password, a user about their own', () => {
    const explain = explainIn('en');
    expect(explain(refusal('weak_password'))).toMatch(/^The new password is too weak/);
    expect(explain(refusal('weak_password'), { initialPassword: true })).toMatch(
      /^The initial password is too weak/,
    );
  });

  it('says when a locked-out user may try again', () => {
    expect(explainIn('en')(refusal('locked_out', '', { retryAfterSeconds: 90 }))).toMatch(
      /You can try again in about 2 minutes\.$/,
    );
  });

  it("falls back to the site's message for a code it does not know, and to a sentence of its own otherwise", () => {
    const explain = explainIn('en');
    expect(explain(refusal('brand_new_refusal', 'Something new was refused.'))).toBe(
      'Something new was refused.',
    );
    expect(explain(new TypeError('boom'))).toBe(
      'Something went wrong in the console. Reload the page and try again.',
    );
  });
});
