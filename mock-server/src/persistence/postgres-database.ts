import { Kysely, Migrator, PostgresDialect, sql, type MigrationProvider } from 'kysely';
import { Pool, TypeOverrides, types } from 'pg';
import { describeDatabaseUrl, parseDatabaseUrl, withoutPassword } from './database-url';
import { migrationProvider } from './migrations';
import { AdvisoryLocks } from './advisory-locks';
import type { Database } from './schema';

/** The site's database on a PostgreSQL server (CUSTODIAN_DATABASE_URL). */
export interface OpenPostgres {
  readonly kind: 'postgresql';
  readonly db: Kysely<Database>;
  /** Where the database is, for messages: host, port and database, never the password. */
  readonly location: string;
  /** Locks that hold across every process on this database (SX-2: several instances of the site). */
  readonly locks: AdvisoryLocks;
  /** Whether the server answers a query within `timeoutMs`; the error when it does not. */
  ping(timeoutMs?: number): Promise<{ readonly reachable: true } | { readonly error: Error }>;
  close(): Promise<void>;
}

export interface PostgresOptions {
  /** Where notices go (a connection the server dropped). */
  readonly log?: (message: string) => void;
  /** Tests give an older schema here. */
  readonly migrations?: MigrationProvider;
  /** How long connecting may take before the server counts as not answering. */
  readonly connectTimeoutMs?: number;
}

/** The PostgreSQL server cannot be used as configured; the message says where and what to check. */
export class DatabaseServerError extends Error {
  override readonly name = 'DatabaseServerError';
}

/** How long connecting may take by default. */
export const CONNECT_TIMEOUT_MS = 5_000;

/** int8 (count(*), bigint columns) as a number, as SQLite gives it; never rounded. */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n))
    throw new RangeError(`${text} is beyond the integers JavaScript holds exactly.`);
  return n;
}

/**
 * Connects to the site's database on a PostgreSQL server through a pool of
 * connections and brings its schema up to date with the same migrations as
 * SQLite's. Kysely's Migrator holds an advisory lock while it migrates, so
 * two sites starting at once on the same database do not both migrate it.
 * The pool parses int8 into numbers on its own connections only, not for
 * the process. A server that does not answer, or refuses the user, is a
 * `DatabaseServerError` naming the host, port and database (never the
 * password).
 */
export async function openPostgres(
  url: string,
  options: PostgresOptions = {},
): Promise<OpenPostgres> {
  const parts = parseDatabaseUrl(url);
  if ('problem' in parts)
    throw new DatabaseServerError(
      `CUSTODIAN_DATABASE_URL is not a PostgreSQL URL (${parts.problem}): write it as postgres://user:password@host:5432/database.`,
    );
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const location = describeDatabaseUrl(url);
  const parsers = new TypeOverrides();
  parsers.setTypeParser(types.builtins.INT8, parseInt8);
  const pool = new Pool({
    connectionString: url,
    types: parsers,
    connectionTimeoutMillis: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    // One connection serves the transactions (they run one at a time), the rest the reads beside them.
    max: 10,
    application_name: 'custodian',
  });
  // A connection the server drops must not end the process: the pool's idle ones are
  // reported here, and the ones in use fail the query or transaction on them.
  const dropped = (error: Error): void =>
    log(
      `The PostgreSQL server at ${location} dropped a connection: ${withoutPassword(error.message, url)}`,
    );
  pool.on('error', dropped);
  pool.on('connect', (client) => {
    client.on('error', dropped);
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const fail = async (message: string): Promise<never> => {
    await db.destroy();
    throw new DatabaseServerError(withoutPassword(message, url));
  };
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    return fail(
      `The site's PostgreSQL database at ${location} (CUSTODIAN_DATABASE_URL) cannot be used: ${reasonOf(error)}. ` +
        'The site will not start without it. Check that the server runs and answers there, and that the user, password and database are right.',
    );
  }
  const migrator = new Migrator({ db, provider: options.migrations ?? migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed)
    return fail(
      `The PostgreSQL database at ${location} could not be brought up to date (${failed?.migrationName ?? 'migrations'}): ${reasonOf(error)}`,
    );
  const locks = new AdvisoryLocks(url, dropped);
  return {
    kind: 'postgresql',
    db,
    location,
    locks,
    async ping(timeoutMs = 3_000) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          sql`select 1`.execute(db),
          new Promise((_resolve, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]);
        return { reachable: true };
      } catch (error) {
        return { error: new Error(withoutPassword(reasonOf(error), url)) };
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await locks.close();
      await db.destroy();
    },
  };
}

/** What went wrong, in one line: pg's message, or the code of a connection error. */
function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0)
    return error.errors.map(reasonOf).join('; ');
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message.split('\n')[0] || String(code ?? error.name);
    return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
  }
  return String(error);
}
