import type { SitePublicKey } from '../../../../src/core/contract';
import type { AuditRepository } from '../ports';

/** A trusted site as stored: what was pinned, and what the last contact found (MS-1). */
export interface TrustedSiteRecord {
  readonly siteId: string;
  readonly name: string;
  /** The origin it was trusted under. */
  readonly url: string;
  readonly escrowKey: SitePublicKey;
  readonly signingKey: SitePublicKey;
  readonly trustedAt: string;
  /** The administrator; null for the operator on this site's host. */
  readonly trustedBy: string | null;
  readonly lastContactAt: string | null;
  readonly reachable: boolean | null;
  /** A fingerprint presented instead of the pinned one, refused and alerted once. */
  readonly refusedFingerprint: string | null;
}

/** What a contact changes of a trusted site; the pins never change. */
export interface SiteContact {
  readonly lastContactAt?: string;
  readonly reachable?: boolean;
  readonly refusedFingerprint?: string | null;
}

export interface TrustedSiteRepository {
  list(): Promise<readonly TrustedSiteRecord[]>;
  find(siteId: string): Promise<TrustedSiteRecord | undefined>;
  /** The site trusted under exactly this origin, if any. */
  findByUrl(url: string): Promise<TrustedSiteRecord | undefined>;
  /** Fails if the site ID or the address is already trusted. */
  insert(site: TrustedSiteRecord): Promise<void>;
  /** Removes the site; false if it was not trusted (any more). */
  remove(siteId: string): Promise<boolean>;
  recordContact(siteId: string, contact: SiteContact): Promise<void>;
  /**
   * Runs `work` in one transaction with this repository and the audit
   * repository bound to it: a trust and its audit entry commit together.
   */
  atomically<T>(
    work: (tx: {
      readonly sites: TrustedSiteRepository;
      readonly audit: AuditRepository;
    }) => Promise<T>,
  ): Promise<T>;
}

/** What fetching `<origin>/api/site` gave: a body (JSON or not), or no answer at all. */
export type RemoteSiteAnswer =
  | { readonly kind: 'answered'; readonly status: number; readonly json: unknown }
  | { readonly kind: 'unreachable'; readonly reason: string };

/**
 * The one way the site reaches another site: `GET <origin>/api/site` with a
 * time limit, no redirects followed and a small answer. Over HTTP on the
 * site; in the offline demo's page there is no other site to reach.
 */
export interface RemoteSites {
  siteInfo(origin: string): Promise<RemoteSiteAnswer>;
}
