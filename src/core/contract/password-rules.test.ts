import { describe, expect, it } from 'vitest';
import { passwordRuleBreach } from './password-rules';

describe('the password rule (ID-1)', () => {
  it.each([
    ['short', null, 'too_short'],
    ['x'.repeat(257), null, 'too_long'],
    ['carol-is-my-name', null, 'contains_user_id'],
    ['CAROL-is-my-name', null, 'contains_user_id'],
    ['aaaaaaaaaaaaaaa', null, 'too_few_different'],
    ['abcabcabcabc', null, 'too_few_different'],
    ['first-light-2026', 'first-light-2026', 'same_as_current'],
  ] as const)('refuses %j (current %j): %s', (password, current, breach) => {
    expect(passwordRuleBreach('carol', password, current ?? undefined)).toBe(breach);
  });

  it('accepts a long password with enough different characters and no user ID', () => {
    expect(passwordRuleBreach('carol', 'first-light-2026')).toBeNull();
    expect(passwordRuleBreach('carol', 'first-light-2026', 'another-one-2025')).toBeNull();
    expect(passwordRuleBreach('carol', 'abcdabcdab')).toBeNull();
  });
});
