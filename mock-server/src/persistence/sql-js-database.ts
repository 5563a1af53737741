import type { SqliteDatabase, SqliteStatement } from 'kysely';
import type { BindParams, Database as SqlJsDatabase } from 'sql.js';

/**
 * A sql.js database (SQLite compiled to WebAssembly) with the interface
 * Kysely's SQLite dialect drives, the one better-sqlite3 has: the site's
 * repositories then run unchanged in the offline demo's page. sql.js runs
 * a statement synchronously on the page's thread, as better-sqlite3 does on
 * Node's.
 */
export function sqlJsDatabase(database: SqlJsDatabase): SqliteDatabase {
  return {
    close: () => database.close(),
    prepare(sql: string): SqliteStatement {
      const rowsOf = function* (parameters: ReadonlyArray<unknown>): Generator<unknown> {
        const statement = database.prepare(sql);
        try {
          statement.bind(parameters as BindParams);
          while (statement.step()) yield statement.getAsObject();
        } finally {
          statement.free();
        }
      };
      const probe = database.prepare(sql);
      // A statement that yields columns (a select, or a write with RETURNING) is read.
      const reader = probe.getColumnNames().length > 0;
      probe.free();
      return {
        reader,
        all: (parameters) => [...rowsOf(parameters)],
        iterate: (parameters) => rowsOf(parameters),
        run(parameters) {
          database.run(sql, parameters as BindParams);
          const changes = database.getRowsModified();
          const rowid = database.exec('select last_insert_rowid()')[0]?.values[0]?.[0];
          return { changes, lastInsertRowid: typeof rowid === 'number' ? rowid : 0 };
        },
      };
    },
  };
}
