import { version } from '../../package.json';
import type { SiteInfo } from '../../src/core/contract';
import { randomBytes, sha256Hex, toBase64Url, utf8, wipe } from '../../src/core/crypto/bytes';
import { AlertService, type AlertNotifier } from './domain/alerts';
import { AuditLog } from './domain/audit';
import type { EscrowDeps } from './domain/escrow/context';
import { PairService } from './domain/escrow/pairs';
import { RecordAdminService } from './domain/escrow/records';
import { ReleaseService } from './domain/escrow/release';
import { TransferService } from './domain/escrow/transfers';
import { VolumeService } from './domain/escrow/volumes';
import { EventBus } from './domain/events';
import { IdentityService, type IdentityDeps } from './domain/identity';
import type { Clock, PasswordHasher, Random, UserRepository } from './domain/ports';
import { loadSiteKeys, type SiteKeys } from './domain/site-keys';
import { createMemoryRepositories, type MemoryRepositories } from './persistence/memory';
import { createWebCryptoHasher } from './platform/webcrypto-hasher';

/**
 * The whole site's domain on in-memory repositories, with nothing but
 * `globalThis.crypto` beneath it: the same rules the site runs on SQLite,
 * for unit tests and the offline demo in the browser (SPEC §5).
 */

/** Randomness and hashing from WebCrypto. */
export const webCryptoRandom: Random = {
  token: () => toBase64Url(randomBytes(32)),
  sha256Hex: (text) => sha256Hex(utf8(text)),
};

export const wallClock: Clock = { now: () => new Date() };

export interface MemorySiteOptions {
  readonly siteName?: string;
  /** Whether the site says it is a demo (SiteInfo.demo); default true. */
  readonly demo?: boolean;
  readonly siteId?: string;
  readonly clock?: Clock;
  /** Default: PBKDF2 over WebCrypto at its full count; a demo may pass fewer rounds. */
  readonly hasher?: PasswordHasher;
  readonly random?: Random;
  /**
   * 32 bytes the site's keys are wrapped under; default: fresh random bytes.
   * Not kept; reusing repositories needs the master key they were made with.
   */
  readonly masterKey?: Uint8Array;
  /** Repositories to reuse (their state survives a new composition); default: empty ones. */
  readonly repositories?: MemoryRepositories;
  readonly notifiers?: readonly AlertNotifier[];
  readonly sessionTtlMs?: number;
  readonly lockout?: IdentityDeps['lockout'];
  readonly claimTtlMs?: number;
  readonly gapTimeoutMs?: number;
}

/** The services of `SiteServices` (services.ts), with the users behind their port. */
export interface MemorySiteServices {
  readonly info: SiteInfo;
  readonly keys: SiteKeys;
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
}

export interface MemorySite extends MemorySiteServices {
  readonly repositories: MemoryRepositories;
}

/** The site's own defaults (config.ts): 8 h sessions, 5 failures in 15 min, 1 h claims, 120 s gaps. */
const DEFAULTS = {
  sessionTtlMs: 8 * 3600_000,
  lockout: { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
  claimTtlMs: 3600_000,
  gapTimeoutMs: 120_000,
} as const;

/** Composes the site's services over in-memory repositories, as composeServices does over SQLite. */
export async function composeMemorySite(options: MemorySiteOptions = {}): Promise<MemorySite> {
  const repositories = options.repositories ?? createMemoryRepositories();
  const clock = options.clock ?? wallClock;
  const masterKey = new Uint8Array(options.masterKey ?? randomBytes(32));
  let keys: SiteKeys;
  try {
    keys = await loadSiteKeys(repositories.siteKeys, masterKey, () => clock.now().toISOString());
  } finally {
    wipe(masterKey);
  }
  const siteId = options.siteId ?? globalThis.crypto.randomUUID();
  const info: SiteInfo = {
    siteId,
    name: options.siteName ?? 'Custodian escrow site',
    version,
    demo: options.demo ?? true,
    escrowKey: { jwk: publicJwk(keys.escrow.publicJwk), fingerprint: keys.escrow.fingerprint },
    signingKey: { jwk: publicJwk(keys.signing.publicJwk), fingerprint: keys.signing.fingerprint },
  };
  const events = new EventBus();
  const audit = new AuditLog({ repo: repositories.audit, key: keys.auditKey, clock });
  const alerts = new AlertService({
    alerts: repositories.alerts,
    events,
    clock,
    siteId,
    notifiers: options.notifiers ?? [],
  });
  const identity = new IdentityService({
    users: repositories.users,
    sessions: repositories.sessions,
    failures: repositories.failures,
    alerts,
    audit,
    hasher: options.hasher ?? createWebCryptoHasher(),
    clock,
    random: options.random ?? webCryptoRandom,
    sessionTtlMs: options.sessionTtlMs ?? DEFAULTS.sessionTtlMs,
    lockout: options.lockout ?? DEFAULTS.lockout,
  });
  const escrow: EscrowDeps = {
    store: repositories.escrow,
    blobs: repositories.blobs,
    users: repositories.users,
    alerts,
    audit,
    events,
    clock,
    keys,
    siteId,
    claimTtlMs: options.claimTtlMs ?? DEFAULTS.claimTtlMs,
    sha256Hex,
  };
  const volumes = new VolumeService(escrow);
  const releases = new ReleaseService(escrow);
  const pairs = new PairService(escrow, options.gapTimeoutMs ?? DEFAULTS.gapTimeoutMs);
  volumes.onNewPrimary = (pairId, userId) => pairs.acceptNewPrimary(pairId, userId);
  return {
    repositories,
    info,
    keys,
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
  };
}

function publicJwk(jwk: JsonWebKey): SiteInfo['escrowKey']['jwk'] {
  return { kty: 'EC', crv: 'P-256', x: jwk.x ?? '', y: jwk.y ?? '' };
}
