import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditEntry } from '../../../src/core/contract';
import { openInMemoryDatabase } from '../../src/persistence/in-memory-database';
import { migrateToLatest } from '../../src/persistence/migrations';
import { SqliteAuditRepository } from '../../src/persistence/sqlite-audit';
import { SqliteEscrowStore } from '../../src/persistence/sqlite-escrow';
import {
  STALL_LIMIT_MS,
  TransactionStalled,
  sqliteKysely,
  transact,
} from '../../src/persistence/transactions';

const entry = (seq: number): AuditEntry => ({
  seq,
  at: '2026-11-21T12:00:00.000Z',
  event: 'test',
  actor: null,
  volumeId: null,
  clientAddress: null,
  details: {},
  prevMac: '0'.repeat(64),
  mac: String(seq).padStart(64, '0'),
});

async function database(stallLimitMs: number) {
  const db = sqliteKysely(new SQLite(':memory:'), { stallLimitMs });
  await migrateToLatest(db);
  return db;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(() => {
  vi.useRealTimers();
});

describe('transactions on the one SQLite connection', () => {
  it('fails a query made on the database inside its own transaction, naming the mistake, instead of hanging', async () => {
    const db = await database(100);
    const store = new SqliteEscrowStore(db);
    const audit = new SqliteAuditRepository(db);
    await expect(
      store.atomically(async (tx) => {
        await tx.audit.append(entry(1));
        // The mistake: the store the work closed over, not the one it was handed.
        return store.volumes.find('iso9660:DEMO');
      }),
    ).rejects.toThrow(TransactionStalled);
    // The transaction was rolled back and the connection is free again.
    expect(await audit.head()).toBeUndefined();
    await audit.append(entry(1));
    expect((await audit.head())?.seq).toBe(1);
    await db.destroy();
  });

  it('fails a transaction opened on the database inside another one the same way', async () => {
    const db = await database(100);
    const audit = new SqliteAuditRepository(db);
    await expect(
      audit.atomically(async () => audit.atomically(async (inner) => inner.head())),
    ).rejects.toThrow(/query only through the handle it hands you/);
    expect(await audit.head()).toBeUndefined();
    await db.destroy();
  });

  it('lets a query wait for a transaction that keeps querying, however long it takes', async () => {
    const db = await database(100);
    const audit = new SqliteAuditRepository(db);
    let outside: Promise<AuditEntry | undefined> | undefined;
    await transact(db, async (trx) => {
      const inTx = new SqliteAuditRepository(trx);
      outside = audit.head();
      for (let seq = 1; seq <= 8; seq++) {
        await inTx.append(entry(seq));
        await pause(40);
      }
    });
    // 320 ms in all, over three times the limit, but never 100 ms without a query.
    expect((await outside!)?.seq).toBe(8);
    await db.destroy();
  });

  it('guards the site’s own databases, after STALL_LIMIT_MS of a stalled transaction', async () => {
    const { db, close } = await openInMemoryDatabase();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const audit = new SqliteAuditRepository(db);
    let failure: unknown;
    try {
      const stuck = transact(db, () => audit.head()).catch((error: unknown) => {
        failure = error;
      });
      await vi.advanceTimersByTimeAsync(STALL_LIMIT_MS - 1);
      expect(failure).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      await stuck;
      expect(failure).toBeInstanceOf(TransactionStalled);
    } finally {
      // Test files of this project share their worker's modules: the clock goes back in any case.
      vi.useRealTimers();
    }
    expect(await audit.head()).toBeUndefined();
    await close();
  });
});
