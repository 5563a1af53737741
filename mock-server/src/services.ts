import fs from 'node:fs';
import type { SiteInfo } from '../../src/core/contract';
import type { SiteConfig } from './config';
import { AlertService, type AlertNotifier } from './domain/alerts';
import { AuditLog } from './domain/audit';
import { EventBus } from './domain/events';
import { IdentityService } from './domain/identity';
import type { Clock, UserRepository } from './domain/ports';
import type { EscrowDeps } from './domain/escrow/context';
import { PairService } from './domain/escrow/pairs';
import { RecordAdminService } from './domain/escrow/records';
import { ReleaseService } from './domain/escrow/release';
import { TransferService } from './domain/escrow/transfers';
import { VolumeService } from './domain/escrow/volumes';
import { loadSiteKeys, type SiteKeys } from './domain/site-keys';
import { SqliteEscrowStore } from './persistence/sqlite-escrow';
import { FsBlobStore } from './platform/fs-blob-store';
import type { OpenDatabase } from './persistence/database';
import { SqliteAlertRepository } from './persistence/sqlite-alerts';
import { SqliteAuditRepository, SqliteSiteKeyRepository } from './persistence/sqlite-audit';
import {
  SqliteSessionRepository,
  SqliteSignInFailureRepository,
  SqliteUserRepository,
} from './persistence/sqlite-identity';
import { createMasterKeyFile, readMasterKey } from './platform/master-key';
import { nodeRandom, nodeSha256Hex } from './platform/node-random';
import { scryptHasher } from './platform/scrypt-hasher';
import { SiteOperations } from './platform/site-operations';
import { SITE_VERSION } from './version';

/** The site's domain services, composed over one open database. */
export interface SiteServices {
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

/** Where the audit chain key is kept, sealed, once the master key has been rotated. */
export const SEALED_AUDIT_KEY = 'audit_key_sealed';

export async function sealedAuditKey(database: OpenDatabase): Promise<string | undefined> {
  const row = await database.db
    .selectFrom('site_meta')
    .select('value')
    .where('key', '=', SEALED_AUDIT_KEY)
    .executeTakeFirst();
  return row?.value;
}

async function siteId(database: OpenDatabase, newId: () => string): Promise<string> {
  const row = await database.db
    .selectFrom('site_meta')
    .select('value')
    .where('key', '=', 'site_id')
    .executeTakeFirst();
  if (row) return row.value;
  const id = newId();
  await database.db.insertInto('site_meta').values({ key: 'site_id', value: id }).execute();
  return id;
}

/**
 * Reads the master key (creating it in demo mode only, and saying so), opens
 * or creates the site's key pairs, and wires the services together.
 */
export async function composeServices(
  config: SiteConfig,
  database: OpenDatabase,
  clock: Clock,
  notifiers: readonly AlertNotifier[],
  log: (message: string) => void,
): Promise<SiteServices> {
  if (config.demo && config.masterKeyFile && !fs.existsSync(config.masterKeyFile)) {
    createMasterKeyFile(config.masterKeyFile);
    log(
      `Demo mode: created a new master key in ${config.masterKeyFile} (mode 0600). Keep it apart from the data.`,
    );
  }
  const masterKey = readMasterKey(config.masterKeyFile, config.dataDir);
  let keys: SiteKeys;
  try {
    keys = await loadSiteKeys(
      new SqliteSiteKeyRepository(database.db),
      masterKey,
      () => clock.now().toISOString(),
      await sealedAuditKey(database),
    );
  } finally {
    masterKey.fill(0);
  }
  const id = await siteId(database, () => globalThis.crypto.randomUUID());
  const info: SiteInfo = {
    siteId: id,
    name: config.siteName,
    version: SITE_VERSION,
    demo: config.demo,
    escrowKey: { jwk: publicJwk(keys.escrow.publicJwk), fingerprint: keys.escrow.fingerprint },
    signingKey: { jwk: publicJwk(keys.signing.publicJwk), fingerprint: keys.signing.fingerprint },
  };
  const events = new EventBus();
  const audit = new AuditLog({
    repo: new SqliteAuditRepository(database.db),
    key: keys.auditKey,
    clock,
  });
  const alerts = new AlertService({
    alerts: new SqliteAlertRepository(database.db),
    events,
    clock,
    siteId: id,
    notifiers,
  });
  const users = new SqliteUserRepository(database.db);
  const identity = new IdentityService({
    users,
    sessions: new SqliteSessionRepository(database.db),
    failures: new SqliteSignInFailureRepository(database.db),
    alerts,
    audit,
    hasher: scryptHasher,
    clock,
    random: nodeRandom,
    sessionTtlMs: config.sessionTtlMs,
    lockout: config.lockout,
  });
  const escrow: EscrowDeps = {
    store: new SqliteEscrowStore(database.db),
    blobs: await FsBlobStore.open(config.dataDir),
    users,
    alerts,
    audit,
    events,
    clock,
    keys,
    siteId: id,
    claimTtlMs: config.claimTtlMs,
    sha256Hex: nodeSha256Hex,
  };
  const volumes = new VolumeService(escrow);
  const releases = new ReleaseService(escrow);
  const pairs = new PairService(escrow, config.gapTimeoutMs);
  volumes.onNewPrimary = (pairId, userId) => pairs.acceptNewPrimary(pairId, userId);
  return {
    info,
    keys,
    users,
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

/** Health and metrics over the site's database and data directory. */
export function siteOperations(config: SiteConfig, database: OpenDatabase): SiteOperations {
  return new SiteOperations(database.sqlite, config.dataDir, SITE_VERSION, config.diskLowBytes);
}

function publicJwk(jwk: JsonWebKey): SiteInfo['escrowKey']['jwk'] {
  return { kty: 'EC', crv: 'P-256', x: jwk.x ?? '', y: jwk.y ?? '' };
}
