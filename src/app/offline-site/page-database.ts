import type { Kysely } from 'kysely';
import initSqlJs from 'sql.js';
import wasmUrl from 'sql.js/dist/sql-wasm-browser.wasm?url';
import { migrateToLatest } from '../../../mock-server/src/persistence/migrations';
import type { Database } from '../../../mock-server/src/persistence/schema';
import { sqlJsDatabase } from '../../../mock-server/src/persistence/sql-js-database';
import { sqliteKysely } from '../../../mock-server/src/persistence/transactions';

/**
 * The offline demo's database: SQLite compiled to WebAssembly (sql.js), in
 * the page's memory, with the site's schema. Gone on reload, as the demo says.
 */
export async function openPageDatabase(): Promise<Kysely<Database>> {
  const SQL = await initSqlJs({ locateFile: () => wasmUrl });
  const database = new SQL.Database();
  database.run('pragma foreign_keys = on');
  const db = sqliteKysely(sqlJsDatabase(database));
  await migrateToLatest(db);
  return db;
}
