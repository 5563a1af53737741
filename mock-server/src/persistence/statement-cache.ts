import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** How many prepared statements a database keeps: the site's queries are far fewer. */
export const STATEMENT_CACHE_SIZE = 512;

/**
 * `database` preparing each SQL text once: Kysely's SQLite driver prepares
 * every query it runs again, which costs about a twentieth of the site's
 * time under load (key releases). Statements are kept by their text, the
 * least recently used dropped beyond `size`. Only for better-sqlite3, whose
 * statements stay valid until the database closes (SQLite prepares them
 * again by itself after a schema change) and run one at a time on the one
 * connection the driver serialises.
 */
export function withStatementCache(
  database: SqliteDatabase,
  size: number = STATEMENT_CACHE_SIZE,
): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    prepare(sql: string): SqliteStatement {
      let statement = statements.get(sql);
      if (statement) {
        // Most recently used last.
        statements.delete(sql);
      } else {
        statement = database.prepare(sql);
        if (statements.size >= size) statements.delete(statements.keys().next().value!);
      }
      statements.set(sql, statement);
      return statement;
    },
    close(): void {
      statements.clear();
      database.close();
    },
  };
}
