import fs from 'node:fs';
import { publicOrigin, type SiteConfig } from './config';
import type { AlertNotifier } from './domain/alerts';
import type { Clock, PasswordHasher } from './domain/ports';
import type { OpenDatabase } from './persistence/database';
import { kyselyRepositories } from './persistence/repositories';
import { FsBlobStore } from './platform/fs-blob-store';
import { createMasterKeyFile, readMasterKey } from './platform/master-key';
import { nodeRandom, nodeSha256Hex } from './platform/node-random';
import { httpRemoteSites } from './platform/remote-sites';
import { scryptHasher } from './platform/scrypt-hasher';
import { SiteOperations } from './platform/site-operations';
import { composeSite, type SiteServices } from './site';
import { SITE_VERSION } from './version';

export type { SiteServices } from './site';

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
 * `publicUrl` is the origin of the site's own console; by default the one
 * the configuration names (the command line, which does not listen).
 * `hasher` makes the verifiers of site credentials (tests pass a cheaper one).
 */
export async function composeServices(
  config: SiteConfig,
  database: OpenDatabase,
  clock: Clock,
  notifiers: readonly AlertNotifier[],
  log: (message: string) => void,
  publicUrl: () => string = () => publicOrigin(config),
  hasher: PasswordHasher = scryptHasher,
): Promise<SiteServices> {
  if (config.demo && config.masterKeyFile && !fs.existsSync(config.masterKeyFile)) {
    createMasterKeyFile(config.masterKeyFile);
    log(
      `Demo mode: created a new master key in ${config.masterKeyFile} (mode 0600). Keep it apart from the data.`,
    );
  }
  const masterKey = readMasterKey(config.masterKeyFile, config.dataDir);
  return composeSite(
    kyselyRepositories(database.db),
    {
      blobs: await FsBlobStore.open(config.dataDir),
      hasher,
      random: nodeRandom,
      sha256Hex: nodeSha256Hex,
      clock,
      notifiers,
      remoteSites: httpRemoteSites(),
    },
    {
      siteId: await siteId(database, () => globalThis.crypto.randomUUID()),
      siteName: config.siteName,
      publicUrl,
      version: SITE_VERSION,
      demo: config.demo,
      masterKey,
      sealedAuditKey: await sealedAuditKey(database),
      sessionTtlMs: config.sessionTtlMs,
      lockout: config.lockout,
      claimTtlMs: config.claimTtlMs,
      gapTimeoutMs: config.gapTimeoutMs,
    },
  );
}

/** Health and metrics over the site's database and data directory. */
export function siteOperations(config: SiteConfig, database: OpenDatabase): SiteOperations {
  return new SiteOperations(database.sqlite, config.dataDir, SITE_VERSION, config.diskLowBytes);
}
