import { ConfigError } from '../config';
import { mkdirDurableSync } from '../platform/durable-fs';
import { openDatabase, type OpenDatabase, type OpenOptions } from './database';
import { openPostgres, type OpenPostgres } from './postgres-database';

/** The site's database: SQLite in the data directory, or PostgreSQL when CUSTODIAN_DATABASE_URL is set. */
export type SiteDatabase = OpenDatabase | OpenPostgres;

/**
 * Opens the database the configuration names and brings its schema up to
 * date. On PostgreSQL the data directory still holds the chunk blobs; the
 * SQLite-only steps (the directory's lock, quick_check, the copy before
 * migrating) do not apply there.
 */
export async function openSiteDatabase(
  config: { readonly dataDir: string; readonly databaseUrl: string | undefined },
  options: OpenOptions = {},
): Promise<SiteDatabase> {
  if (config.databaseUrl === undefined) return openDatabase(config.dataDir, options);
  mkdirDurableSync(config.dataDir, 0o700);
  return openPostgres(config.databaseUrl, {
    ...(options.log ? { log: options.log } : {}),
    ...(options.migrations ? { migrations: options.migrations } : {}),
  });
}

/**
 * Refuses a command that works on the SQLite file itself (`what`) when the
 * configuration puts the site's database on PostgreSQL: it would act on a
 * database the site does not use.
 */
export function requireSqlite(
  config: { readonly databaseUrl: string | undefined },
  what: string,
): void {
  if (config.databaseUrl === undefined) return;
  throw new ConfigError(
    `${what} works on the SQLite database in the data directory, but this site's database is on PostgreSQL (CUSTODIAN_DATABASE_URL is set). ` +
      'Use PostgreSQL’s own tools there (pg_dump for a copy), or unset CUSTODIAN_DATABASE_URL for a SQLite site.',
  );
}
