import SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { migrateToLatest } from './migrations';
import type { Database } from './schema';
import { withStatementCache } from './statement-cache';
import { sqliteKysely } from './transactions';

export interface InMemoryDatabase {
  readonly db: Kysely<Database>;
  readonly sqlite: SQLite.Database;
  close(): Promise<void>;
}

/**
 * A new SQLite database in memory with the site's schema: the site's own
 * repositories for tests that need no data directory (component tests in
 * jsdom, service-level tests).
 */
export async function openInMemoryDatabase(): Promise<InMemoryDatabase> {
  const sqlite = new SQLite(':memory:');
  sqlite.pragma('foreign_keys = ON');
  const db = sqliteKysely(withStatementCache(sqlite));
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return { db, sqlite, close: () => db.destroy() };
}
