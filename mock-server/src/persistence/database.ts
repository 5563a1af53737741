import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Migrator, type Kysely, type MigrationProvider } from 'kysely';
import { mkdirDurableSync, syncDirectorySync } from '../platform/durable-fs';
import { migrationProvider } from './migrations';
import type { Database } from './schema';
import { withStatementCache } from './statement-cache';
import { sqliteKysely } from './transactions';

export const DATABASE_FILE = 'custodian.sqlite';
const LOCK_FILE = 'custodian.lock';

/** The site's database in SQLite under the data directory (the default). */
export interface OpenDatabase {
  readonly kind: 'sqlite';
  readonly db: Kysely<Database>;
  readonly sqlite: SQLite.Database;
  /** The copy taken before schema migrations ran on this start, if any. */
  readonly preMigrationBackup: string | undefined;
  close(): Promise<void>;
}

export interface OpenOptions {
  /**
   * Hold the data directory's lock while open: a second site on the same
   * directory is refused. Off for commands that may run beside the site
   * (backup, create-admin).
   */
  readonly lock?: boolean;
  /** Where notices go (a tightened file mode, a pre-migration copy). */
  readonly log?: (message: string) => void;
  /** Tests give an older schema here to exercise an upgrade. */
  readonly migrations?: MigrationProvider;
}

/** The data directory cannot be opened as it is; the message says what to do. */
export class DataDirectoryError extends Error {
  override readonly name = 'DataDirectoryError';
}

/**
 * Opens (creating if needed) the site's SQLite database under the data
 * directory and brings its schema up to date. WAL with synchronous=FULL: a
 * committed record survives a crash of the process or the machine.
 *
 * It refuses rather than guess: a 0-byte database file or chunk blobs with no
 * database mean lost data, and a new database there would mint new site keys
 * beside blobs nothing could then open; a database that fails SQLite's
 * quick_check is damaged.
 */
export async function openDatabase(
  dataDir: string,
  options: OpenOptions = {},
): Promise<OpenDatabase> {
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  mkdirDurableSync(dataDir, 0o700);
  const lock = options.lock ? lockDataDirectory(dataDir) : undefined;
  let sqlite: SQLite.Database | undefined;
  try {
    const file = path.join(dataDir, DATABASE_FILE);
    const existed = prepareDatabaseFile(dataDir, file, log);
    try {
      sqlite = new SQLite(file);
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = FULL');
      sqlite.pragma('foreign_keys = ON');
      sqlite.pragma('busy_timeout = 5000');
      if (existed) {
        const check = sqlite.pragma('quick_check', { simple: true }) as string;
        if (check !== 'ok') throw new Error(check);
      }
    } catch (error) {
      if (error instanceof DataDirectoryError) throw error;
      throw damaged(file, error);
    }
    const db = sqliteKysely(withStatementCache(sqlite));
    const migrator = new Migrator({ db, provider: options.migrations ?? migrationProvider });
    let preMigrationBackup: string | undefined;
    try {
      preMigrationBackup = await backUpBeforeMigrating(migrator, sqlite, dataDir);
      if (preMigrationBackup)
        log(`Schema upgrade: the database as it was is kept in ${preMigrationBackup}.`);
    } catch (error) {
      await db.destroy();
      throw new DataDirectoryError(
        `The database in ${dataDir} needs a schema upgrade, but the copy taken first failed (${error instanceof Error ? error.message : String(error)}); nothing was changed. Free some disk space and start again.`,
      );
    }
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) {
      await db.destroy();
      throw new Error(
        `The database in ${dataDir} could not be brought up to date (${failed?.migrationName ?? 'migrations'}): ${String(error)}` +
          (preMigrationBackup ? `. The database as it was is in ${preMigrationBackup}.` : ''),
      );
    }
    return {
      kind: 'sqlite',
      db,
      sqlite,
      preMigrationBackup,
      close: async () => {
        await db.destroy();
        lock?.close();
      },
    };
  } catch (error) {
    if (sqlite?.open) sqlite.close();
    lock?.close();
    throw error;
  }
}

/**
 * Refuses a database file that cannot be the site's, creates a new one with
 * mode 0600 whatever the umask, and tightens an existing one readable by
 * others. Returns whether the database existed.
 */
function prepareDatabaseFile(dataDir: string, file: string, log: (m: string) => void): boolean {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (stat && stat.size === 0) {
    throw new DataDirectoryError(
      `The database file ${file} is empty (0 bytes): the site's data was lost or the copy was cut short. ` +
        'The site will not create a new database over it (that would make new site keys). ' +
        `Restore the data directory from a "site backup" copy (see the README), or, to start an empty site on purpose, remove ${file} and the blobs folder.`,
    );
  }
  if (!stat) {
    const blobs = chunkBlobCount(path.join(dataDir, 'blobs'));
    if (blobs > 0) {
      throw new DataDirectoryError(
        `There is no database in ${dataDir} but ${blobs} chunk blob(s) are there: the database was lost or moved. ` +
          'The site will not create a new one beside them (new site keys could not open them). ' +
          'Restore the data directory from a "site backup" copy (see the README), or point CUSTODIAN_DATA_DIR at the right directory.',
      );
    }
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      fs.fchmodSync(fd, 0o600);
    } finally {
      fs.closeSync(fd);
    }
    syncDirectorySync(dataDir);
    return false;
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    let mode: number;
    try {
      mode = fs.statSync(f).mode & 0o777;
    } catch {
      continue;
    }
    if (mode & 0o077) {
      fs.chmodSync(f, 0o600);
      log(
        `Warning: ${f} was readable by others (mode 0${mode.toString(8)}); it is now 0600. Check who copied it that way.`,
      );
    }
  }
  return true;
}

function chunkBlobCount(root: string): number {
  if (!fs.existsSync(root)) return 0;
  return fs
    .readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !path.relative(root, e.parentPath).startsWith('.tmp')).length;
}

function damaged(file: string, cause: unknown): DataDirectoryError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new DataDirectoryError(
    `The database ${file} is damaged (${why.split('\n')[0]}). The site will not start on it. ` +
      'Stop here, keep the files as they are, and restore the data directory from a "site backup" copy (see the README).',
  );
}

/**
 * Before pending migrations run on an existing database, a copy of it is
 * taken with SQLite's online backup beside it, so a failed or unwanted
 * upgrade can be undone by putting the copy back.
 */
async function backUpBeforeMigrating(
  migrator: Migrator,
  sqlite: SQLite.Database,
  dataDir: string,
): Promise<string | undefined> {
  const migrations = await migrator.getMigrations();
  const applied = migrations.filter((m) => m.executedAt !== undefined);
  const pending = migrations.filter((m) => m.executedAt === undefined);
  if (applied.length === 0 || pending.length === 0) return undefined;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const copy = path.join(dataDir, `custodian.before-${pending[0]!.name}.${stamp}.sqlite`);
  await sqlite.backup(copy);
  fs.chmodSync(copy, 0o600);
  syncDirectorySync(dataDir);
  return copy;
}

/**
 * The data directory's lock: an exclusive SQLite (POSIX) lock on a file of its
 * own, held while the site runs. The kernel drops it when the process dies,
 * so a killed site never leaves a stale lock behind.
 */
function lockDataDirectory(dataDir: string): SQLite.Database {
  const file = path.join(dataDir, LOCK_FILE);
  const lock = new SQLite(file, { timeout: 0 });
  try {
    fs.chmodSync(file, 0o600);
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    lock.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      throw new DataDirectoryError(
        `Another site is already running on ${dataDir} (it holds ${file}). Stop it first, or give this one its own CUSTODIAN_DATA_DIR.`,
      );
    }
    throw error;
  }
  return lock;
}
