/**
 * Why a password may not be kept, or null when it may. The one rule for
 * every password a person will use (ID-1): an administrator's initial
 * password, a user's own new one, an administrator made with
 * `create-admin`. Sites receive only credentials derived from passwords
 * (MS-2), so they cannot apply it: the console and the site's command line
 * do, before they derive.
 */
export type PasswordRuleBreach =
  'too_short' | 'too_long' | 'contains_user_id' | 'too_few_different' | 'same_as_current';

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;

/** Different characters (code points) a password must have at least. */
export const PASSWORD_MIN_DIFFERENT = 4;

export function passwordRuleBreach(
  userId: string,
  password: string,
  currentPassword?: string,
): PasswordRuleBreach | null {
  if (password.length < PASSWORD_MIN_LENGTH) return 'too_short';
  if (password.length > PASSWORD_MAX_LENGTH) return 'too_long';
  if (userId !== '' && password.toLowerCase().includes(userId.toLowerCase())) {
    return 'contains_user_id';
  }
  if (new Set(password).size < PASSWORD_MIN_DIFFERENT) return 'too_few_different';
  if (currentPassword !== undefined && password === currentPassword) return 'same_as_current';
  return null;
}

/** The rule in one English sentence, for the site's command line. */
export const PASSWORD_RULE_SENTENCE = `Choose a password of at least ${PASSWORD_MIN_LENGTH} characters, with at least ${PASSWORD_MIN_DIFFERENT} different characters, that does not contain the user ID.`;
