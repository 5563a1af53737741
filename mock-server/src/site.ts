import type { SiteInfo } from '../../src/core/contract';
import { AlertService, type AlertNotifier } from './domain/alerts';
import { AuditLog } from './domain/audit';
import type { EscrowDeps } from './domain/escrow/context';
import { PairService } from './domain/escrow/pairs';
import type { BlobStore } from './domain/escrow/ports';
import { RecordAdminService } from './domain/escrow/records';
import { ReleaseService } from './domain/escrow/release';
import { TransferService } from './domain/escrow/transfers';
import { VolumeService } from './domain/escrow/volumes';
import { EventBus } from './domain/events';
import { IdentityService, type IdentityDeps } from './domain/identity';
import type { Clock, PasswordHasher, Random, SiteLocks, UserRepository } from './domain/ports';
import { loadSiteKeys, type SiteKeys } from './domain/site-keys';
import { CrossOriginRefusals, TokenRefusals } from './domain/sites/cross-origin';
import type { RemoteSites } from './domain/sites/ports';
import { SiteTrust } from './domain/sites/trust';
import type { SiteRepositories } from './persistence/repositories';

/**
 * The one composition root of the site's domain: the same services over the
 * same repositories on the site (Node) and in the offline demo's page
 * (SPEC §5). What differs between the two is only what is passed in.
 */

/** What the site runs on besides its database: the blob store and the platform's primitives. */
export interface SitePlatform {
  readonly blobs: BlobStore;
  readonly hasher: PasswordHasher;
  readonly random: Random;
  /** SHA-256 of transfer bodies: node:crypto on the site, WebCrypto in the page. */
  readonly sha256Hex: (data: Uint8Array) => Promise<string>;
  readonly clock: Clock;
  /** Where alerts are sent besides the site's own list (mail, AL-3). */
  readonly notifiers: readonly AlertNotifier[];
  /** How the site reaches other sites (MS-1): HTTP on the site, nothing in the offline demo. */
  readonly remoteSites: RemoteSites;
  /**
   * Locks that hold across the site's instances when it runs as several
   * (SX-2: PostgreSQL advisory locks); by default each service's own, in process.
   */
  readonly locks?: SiteLocks;
}

export interface SiteOptions {
  readonly siteId: string;
  readonly siteName: string;
  /**
   * The origin the site's own console is served from (CUSTODIAN_PUBLIC_URL);
   * read when needed, as a site listening on port 0 knows it only once it listens.
   */
  readonly publicUrl: () => string;
  readonly version: string;
  /** Whether the site says it is a demo (SiteInfo.demo). */
  readonly demo: boolean;
  /**
   * 32 bytes the site's keys are wrapped under; wiped once the keys are
   * open. Reusing a database needs the master key it was made with.
   */
  readonly masterKey: Uint8Array<ArrayBuffer>;
  /** The audit chain key, sealed, once the master key has been rotated. */
  readonly sealedAuditKey?: string;
  readonly sessionTtlMs: number;
  readonly lockout: IdentityDeps['lockout'];
  /** How long a claim lives without a transfer (BK-3, BK-8). */
  readonly claimTtlMs: number;
  readonly gapTimeoutMs: number;
}

/** The site's domain services. */
export interface SiteServices {
  readonly info: SiteInfo;
  readonly keys: SiteKeys;
  readonly repositories: SiteRepositories;
  readonly users: UserRepository;
  readonly identity: IdentityService;
  readonly alerts: AlertService;
  readonly audit: AuditLog;
  readonly events: EventBus;
  readonly clock: Clock;
  readonly escrow: EscrowDeps;
  readonly volumes: VolumeService;
  readonly transfers: TransferService;
  readonly releases: ReleaseService;
  readonly records: RecordAdminService;
  readonly pairs: PairService;
  /** Other sites this site trusts (MS-1). */
  readonly sites: SiteTrust;
  /** Calls from pages of origins it does not trust, audited and alerted (MS-1). */
  readonly crossOrigin: CrossOriginRefusals;
  readonly tokenRefusals: TokenRefusals;
}

/** The site's own defaults (config.ts): 8 h sessions, 5 failures in 15 min, 1 h claims, 120 s gaps. */
export const SITE_DEFAULTS = {
  sessionTtlMs: 8 * 3600_000,
  lockout: { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
  claimTtlMs: 3600_000,
  gapTimeoutMs: 120_000,
} as const;

/** Opens or creates the site's key pairs and wires the services together. */
export async function composeSite(
  repositories: SiteRepositories,
  platform: SitePlatform,
  options: SiteOptions,
): Promise<SiteServices> {
  const { clock } = platform;
  let keys: SiteKeys;
  try {
    keys = await loadSiteKeys(
      repositories.siteKeys,
      options.masterKey,
      () => clock.now().toISOString(),
      options.sealedAuditKey,
    );
  } finally {
    options.masterKey.fill(0);
  }
  const info: SiteInfo = {
    siteId: options.siteId,
    name: options.siteName,
    version: options.version,
    demo: options.demo,
    escrowKey: { jwk: publicJwk(keys.escrow.publicJwk), fingerprint: keys.escrow.fingerprint },
    signingKey: { jwk: publicJwk(keys.signing.publicJwk), fingerprint: keys.signing.fingerprint },
  };
  const events = new EventBus();
  const audit = new AuditLog({ repo: repositories.audit, key: keys.auditKey, clock });
  const alerts = new AlertService({
    alerts: repositories.alerts,
    events,
    clock,
    siteId: options.siteId,
    notifiers: platform.notifiers,
  });
  const identity = new IdentityService({
    users: repositories.users,
    sessions: repositories.sessions,
    failures: repositories.failures,
    alerts,
    audit,
    hasher: platform.hasher,
    siteId: options.siteId,
    clock,
    random: platform.random,
    sessionTtlMs: options.sessionTtlMs,
    lockout: options.lockout,
    ...(platform.locks ? { locks: platform.locks } : {}),
  });
  const escrow: EscrowDeps = {
    store: repositories.escrow,
    blobs: platform.blobs,
    users: repositories.users,
    alerts,
    audit,
    events,
    clock,
    keys,
    siteId: options.siteId,
    trustedSiteName: async (siteId) => (await repositories.trustedSites.find(siteId))?.name,
    claimTtlMs: options.claimTtlMs,
    sha256Hex: platform.sha256Hex,
    ...(platform.locks ? { locks: platform.locks } : {}),
  };
  const volumes = new VolumeService(escrow);
  const releases = new ReleaseService(escrow);
  const pairs = new PairService(escrow, options.gapTimeoutMs);
  volumes.onNewPrimary = (pairId, userId) => pairs.acceptNewPrimary(pairId, userId);
  const sites = new SiteTrust({
    sites: repositories.trustedSites,
    remote: platform.remoteSites,
    audit,
    alerts,
    clock,
    info,
    publicUrl: options.publicUrl,
    ...(platform.locks ? { locks: platform.locks } : {}),
  });
  return {
    info,
    keys,
    repositories,
    users: repositories.users,
    identity,
    alerts,
    audit,
    events,
    clock,
    escrow,
    volumes,
    transfers: new TransferService(escrow, volumes, pairs),
    releases,
    records: new RecordAdminService(escrow, volumes, releases),
    pairs,
    sites,
    crossOrigin: new CrossOriginRefusals({ audit, alerts, clock }),
    tokenRefusals: new TokenRefusals({ audit, alerts, clock }),
  };
}

function publicJwk(jwk: JsonWebKey): SiteInfo['escrowKey']['jwk'] {
  return { kty: 'EC', crv: 'P-256', x: jwk.x ?? '', y: jwk.y ?? '' };
}
