import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openInMemoryDatabase } from '../../src/persistence/in-memory-database';
import { withStatementCache } from '../../src/persistence/statement-cache';

/** A database that counts what it prepares, each statement a new object. */
function countingDatabase() {
  const prepared: string[] = [];
  let closed = false;
  const database: SqliteDatabase = {
    prepare(sql) {
      prepared.push(sql);
      return {
        reader: true,
        all: () => [],
        run: () => ({ changes: 0, lastInsertRowid: 0 }),
        iterate: () => [][Symbol.iterator](),
      } as unknown as SqliteStatement;
    },
    close() {
      closed = true;
    },
  };
  return { database, prepared, isClosed: () => closed };
}

describe('statement cache', () => {
  it('prepares each SQL text once and hands back the same statement', () => {
    const { database, prepared } = countingDatabase();
    const cached = withStatementCache(database);
    const first = cached.prepare('select 1');
    expect(cached.prepare('select 1')).toBe(first);
    cached.prepare('select 2');
    expect(prepared).toEqual(['select 1', 'select 2']);
  });

  it('drops the least recently used statement beyond its size, and closes the database', () => {
    const { database, prepared, isClosed } = countingDatabase();
    const cached = withStatementCache(database, 2);
    cached.prepare('a');
    cached.prepare('b');
    cached.prepare('a'); // b is now the least recently used
    cached.prepare('c');
    cached.prepare('a');
    cached.prepare('b');
    expect(prepared).toEqual(['a', 'b', 'c', 'b']);
    cached.close();
    expect(isClosed()).toBe(true);
  });

  it('keeps the site database answering the same statement with new parameters and after a schema change', async () => {
    const { db, close } = await openInMemoryDatabase();
    try {
      const ask = (id: string) =>
        db.selectFrom('users').select('user_id').where('user_id', '=', id).execute();
      expect(await ask('nobody')).toEqual([]);
      await db.schema.alterTable('users').addColumn('extra', 'text').execute();
      expect(await ask('still-nobody')).toEqual([]);
    } finally {
      await close();
    }
  });
});
