/**
 * How near a record's expiry is, for the badges of the owner's and the
 * administrators' lists: after its expiry a record releases no key.
 */

/** Within this many days an expiry is shown as coming. */
export const EXPIRY_SOON_DAYS = 30;

export type ExpiryNearness =
  { readonly kind: 'expired' } | { readonly kind: 'soon'; readonly days: number } | null;

/** Expired, expiring within `withinDays` days (counted up), or neither (null). */
export function expiryNearness(
  expiresAt: string | null,
  now: Date = new Date(),
  withinDays: number = EXPIRY_SOON_DAYS,
): ExpiryNearness {
  if (!expiresAt) return null;
  const left = Date.parse(expiresAt) - now.getTime();
  if (left <= 0) return { kind: 'expired' };
  const days = Math.ceil(left / 86_400_000);
  return days <= withinDays ? { kind: 'soon', days } : null;
}
