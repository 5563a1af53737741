import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { migrationProvider } from './migrations';
import type { Database } from './schema';

export interface OpenDatabase {
  readonly db: Kysely<Database>;
  readonly sqlite: SQLite.Database;
  close(): Promise<void>;
}

/**
 * Opens (creating if needed) the site's SQLite database under the data
 * directory and brings its schema up to date. WAL with synchronous=FULL: a
 * committed record survives a crash of the process or the machine.
 */
export async function openDatabase(dataDir: string): Promise<OpenDatabase> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const sqlite = new SQLite(path.join(dataDir, 'custodian.sqlite'));
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const { error, results } = await new Migrator({
    db,
    provider: migrationProvider,
  }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    await db.destroy();
    throw new Error(
      `The database in ${dataDir} could not be brought up to date (${failed?.migrationName ?? 'migrations'}): ${String(error)}`,
    );
  }
  return { db, sqlite, close: () => db.destroy() };
}
