import { z } from 'zod';
import { hex256Schema } from '../crypto/format-schemas';
import { changeReasonSchema } from './admin-users';
import { siteInfoSchema, sitePublicKeySchema } from './site';

/**
 * Sites this site trusts (MS-1): another escrow site, added by an
 * administrator by its address once its fingerprints were compared, and
 * pinned: its ID and both public keys are kept, and a later answer with
 * anything else is refused.
 */

export const SITE_ADDRESS_MAX_LENGTH = 2048;

/** A site's address as typed; the site reduces it to an origin (`siteOrigin`). */
export const siteAddressSchema = z.string().trim().min(1).max(SITE_ADDRESS_MAX_LENGTH);

/**
 * A site's address as an origin (RFC 6454 §6.1): scheme, host and port, in
 * the form a browser sends in its Origin header (lower-case host, no default
 * port), so that the address a site is trusted under is exactly the origin
 * its console's requests come from. Only http and https, and nothing after
 * the port: no user name, path, query or fragment. Null for anything else.
 */
export function siteOrigin(address: string): string | null {
  const text = address.trim();
  if (!/^https?:\/\/[^/?#]/i.test(text)) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.username || url.password || url.pathname !== '/' || /[?#]/.test(text)) return null;
  return url.origin;
}

/**
 * A site fingerprint as someone types or pastes it: upper or lower case,
 * grouped with spaces or colons. Read as 64 lower-case hex digits.
 */
export const siteFingerprintInputSchema = z
  .string()
  .max(200)
  .transform((text) => text.replace(/[\s:]/g, '').toLowerCase())
  .pipe(hex256Schema);

/** This site as the Sites page lists it first. */
export const homeSiteSchema = z.object({
  siteId: z.string(),
  name: z.string(),
  /** The origin the site's own console is served from (CUSTODIAN_PUBLIC_URL). */
  url: z.string(),
  escrowKey: sitePublicKeySchema,
  signingKey: sitePublicKeySchema,
  /** The site fingerprint (core/crypto/site-fingerprint.ts). */
  fingerprint: hex256Schema,
});
export type HomeSite = z.infer<typeof homeSiteSchema>;

/**
 * A trusted site, pinned. Its `url` is the origin it was trusted under: its
 * console's requests are answered from there and nowhere else (CORS).
 */
export const trustedSiteSchema = homeSiteSchema.extend({
  trustedAt: z.iso.datetime(),
  /** The administrator who trusted it; null for the operator on this site's host (the command line). */
  trustedBy: z.string().nullable(),
  /** When it last answered with its pinned ID and keys. */
  lastContactAt: z.iso.datetime().nullable(),
  /** Whether it answered at the last contact; null before the first one. */
  reachable: z.boolean().nullable(),
  /**
   * The fingerprint it presented at the last contact when that was not the
   * pinned one (another key or another site at its address): refused, and
   * the administrators were alerted. Null while it presents the pinned one.
   */
  refusedFingerprint: hex256Schema.nullable(),
});
export type TrustedSite = z.infer<typeof trustedSiteSchema>;

export const siteListSchema = z.object({
  home: homeSiteSchema,
  trusted: z.array(trustedSiteSchema),
});
export type SiteList = z.infer<typeof siteListSchema>;

/** Step one: the site fetches what the other site says about itself, for the administrator to compare. */
export const sitePreviewRequestSchema = z.object({ url: siteAddressSchema });
export type SitePreviewRequest = z.infer<typeof sitePreviewRequestSchema>;

export const sitePreviewSchema = z.object({
  /** The address as an origin: the one to trust. */
  url: z.string(),
  site: siteInfoSchema,
  fingerprint: hex256Schema,
});
export type SitePreview = z.infer<typeof sitePreviewSchema>;

/**
 * Step two: trust the site at `url` if it still presents this fingerprint
 * (the one the administrator compared); otherwise nothing is stored.
 */
export const trustSiteRequestSchema = z.object({
  url: siteAddressSchema,
  fingerprint: siteFingerprintInputSchema,
  reason: changeReasonSchema.optional(),
});
export type TrustSiteRequest = z.input<typeof trustSiteRequestSchema>;

export const trustSiteResponseSchema = z.object({ site: trustedSiteSchema });

export const withdrawTrustRequestSchema = z.object({ reason: changeReasonSchema });
export const withdrawTrustResponseSchema = z.object({ withdrawn: trustedSiteSchema });

export const trustedSitePathSchema = z.object({ siteId: z.string().min(1).max(200) });

/** What one contact with a trusted site found. */
export const siteContactOutcomes = [
  'reachable',
  'unreachable',
  'not_a_site',
  'keys_changed',
] as const;
export type SiteContactOutcome = (typeof siteContactOutcomes)[number];

export const siteCheckSchema = z.object({
  outcome: z.enum(siteContactOutcomes),
  site: trustedSiteSchema,
});
export type SiteCheck = z.infer<typeof siteCheckSchema>;

/**
 * The sites a signed-in user's console signs in at besides this one (MS-2):
 * every trusted site not refused for changed keys, with the fingerprint it
 * is pinned to, which the console checks against what the site says before
 * it sends that site anything.
 */
export const siteDirectorySchema = z.object({
  sites: z.array(homeSiteSchema.pick({ siteId: true, name: true, url: true, fingerprint: true })),
});
export type SiteDirectory = z.infer<typeof siteDirectorySchema>;
