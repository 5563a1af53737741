import fs from 'node:fs';
import type { ObjectStoreHealth } from '../../src/core/contract';
import { publicOrigin, type SiteConfig } from './config';
import type { AlertNotifier } from './domain/alerts';
import type { BlobStore } from './domain/escrow/ports';
import type { Clock, PasswordHasher } from './domain/ports';
import type { SiteDatabase } from './persistence/site-database';
import { kyselyRepositories } from './persistence/repositories';
import { FsBlobStore } from './platform/fs-blob-store';
import { createMasterKeyFile, readMasterKey } from './platform/master-key';
import { nodeRandom, nodeSha256Hex } from './platform/node-random';
import { httpRemoteSites } from './platform/remote-sites';
import { ObjectStoreError, S3BlobStore } from './platform/s3-blob-store';
import { scryptHasher } from './platform/scrypt-hasher';
import { SiteOperations } from './platform/site-operations';
import { composeSite, type SiteServices } from './site';
import { SITE_VERSION } from './version';

export type { SiteServices } from './site';

/** Where the audit chain key is kept, sealed, once the master key has been rotated. */
export const SEALED_AUDIT_KEY = 'audit_key_sealed';

export async function sealedAuditKey(database: SiteDatabase): Promise<string | undefined> {
  const row = await database.db
    .selectFrom('site_meta')
    .select('value')
    .where('key', '=', SEALED_AUDIT_KEY)
    .executeTakeFirst();
  return row?.value;
}

async function siteId(database: SiteDatabase, newId: () => string): Promise<string> {
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

/** The site's chunk blobs, and where they are as /api/health tells it. */
export interface BlobStorage {
  readonly blobs: BlobStore;
  health(): Promise<ObjectStoreHealth>;
  close(): void;
}

/**
 * The blobs folder of the data directory, or the S3 bucket when one is
 * configured. A bucket that does not answer stops the site before it
 * starts: it could take no chunk and give none back.
 */
export async function openBlobStorage(
  config: SiteConfig,
  log: (message: string) => void,
): Promise<BlobStorage> {
  if (!config.s3) {
    return {
      blobs: await FsBlobStore.open(config.dataDir),
      health: async () => ({ kind: 'filesystem' }),
      close: () => undefined,
    };
  }
  const store = new S3BlobStore(config.s3);
  const answer = await store.check();
  if (!answer.reachable) {
    store.close();
    throw new ObjectStoreError(
      `The object store at ${store.endpoint} does not answer for bucket "${store.bucket}": ${answer.reason}. ` +
        'The site keeps its chunk blobs there and does not start without it: check that the store runs, and CUSTODIAN_S3_ENDPOINT, CUSTODIAN_S3_BUCKET and the access key.',
    );
  }
  try {
    if (!(await store.conditionalWrites()))
      log(
        `The object store at ${store.endpoint} has no conditional writes (If-None-Match): the first writer of a chunk blob wins within one instance of the site only, so run one instance on bucket "${store.bucket}".`,
      );
  } catch (error) {
    store.close();
    throw error;
  }
  return {
    blobs: store,
    health: async () => {
      const now = await store.check();
      return {
        kind: 's3',
        endpoint: store.endpoint,
        bucket: store.bucket,
        reachable: now.reachable,
        ...(now.reachable ? {} : { reason: `The bucket does not answer: ${now.reason}` }),
      };
    },
    close: () => store.close(),
  };
}

/**
 * Reads the master key (creating it in demo mode only, and saying so), opens
 * or creates the site's key pairs, opens the blob storage, and wires the
 * services together.
 * `publicUrl` is the origin of the site's own console; by default the one
 * the configuration names (the command line, which does not listen).
 * `hasher` makes the verifiers of site credentials (tests pass a cheaper one).
 */
export async function composeServices(
  config: SiteConfig,
  database: SiteDatabase,
  clock: Clock,
  notifiers: readonly AlertNotifier[],
  log: (message: string) => void,
  publicUrl: () => string = () => publicOrigin(config),
  hasher: PasswordHasher = scryptHasher,
): Promise<SiteServices & { readonly blobStorage: BlobStorage }> {
  if (config.demo && config.masterKeyFile && !fs.existsSync(config.masterKeyFile)) {
    createMasterKeyFile(config.masterKeyFile);
    log(
      `Demo mode: created a new master key in ${config.masterKeyFile} (mode 0600). Keep it apart from the data.`,
    );
  }
  const masterKey = readMasterKey(config.masterKeyFile, config.dataDir);
  const blobStorage = await openBlobStorage(config, log);
  const services = await composeSite(
    kyselyRepositories(database.db),
    {
      blobs: blobStorage.blobs,
      hasher,
      random: nodeRandom,
      sha256Hex: nodeSha256Hex,
      clock,
      notifiers,
      remoteSites: httpRemoteSites(),
      ...(database.kind === 'postgresql' ? { locks: database.locks } : {}),
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
  ).catch((error: unknown) => {
    blobStorage.close();
    throw error;
  });
  return { ...services, blobStorage };
}

/** Health and metrics over the site's database, data directory and blob storage. */
export function siteOperations(
  config: SiteConfig,
  database: SiteDatabase,
  blobStorage: BlobStorage,
): SiteOperations {
  return new SiteOperations(database, config.dataDir, SITE_VERSION, config.diskLowBytes, () =>
    blobStorage.health(),
  );
}
