import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema';

/**
 * Runs `work` in one transaction on `db`, handing it the transaction to query
 * with; if `db` already is an open transaction, `work` joins it. With
 * synchronous=FULL every commit is an fsync, so writes that belong together
 * cost one. Kysely holds the one connection for the transaction's length and
 * other calls wait for the commit, so everything `work` reads or writes goes
 * through the handle it is given: a query on the database itself would wait
 * for this very commit.
 */
export function transact<T>(
  db: Kysely<Database>,
  work: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  if (db.isTransaction) return work(db);
  let failure: { error: unknown } | undefined;
  return db
    .transaction()
    .execute(async (trx: Transaction<Database>) => {
      try {
        return await work(trx);
      } catch (error) {
        failure = { error };
        throw error;
      }
    })
    .catch((error: unknown) => {
      // SQLite rolls back by itself on some failures (SQLITE_FULL); Kysely's
      // ROLLBACK then fails too, and must not hide the cause.
      throw failure ? failure.error : error;
    });
}
