import { AsyncLocalStorage } from 'node:async_hooks';
import type { Kysely } from 'kysely';
import type { Database } from './schema';

interface OpenTransaction {
  readonly base: Kysely<Database>;
  readonly trx: Kysely<Database>;
  /** Work started inside may outlive the transaction; it then uses the database. */
  ended: boolean;
}

const open = new AsyncLocalStorage<OpenTransaction>();

/**
 * The handle a repository should query with: the transaction that
 * `atomically` opened on this database for the current call, if any, so the
 * writes of several repositories land in one commit.
 */
export function scopedDb(base: Kysely<Database>): Kysely<Database> {
  const current = open.getStore();
  return current && current.base === base && !current.ended ? current.trx : base;
}

/** Whether the current call runs inside a transaction `atomically` opened on `base`. */
export function inTransaction(base: Kysely<Database>): boolean {
  return scopedDb(base) !== base;
}

/**
 * Runs `work` in one SQLite transaction on `base` (joining the one already
 * open for this call): with synchronous=FULL every commit is an fsync, so
 * writes that belong together cost one. Kysely holds the one connection for
 * the transaction's length; other calls wait for the commit, so `work` must
 * not wait for anything that itself needs the database (the audit log's
 * queue, for one): that would wait for this very commit. An audit append
 * made inside joins the transaction instead (`AuditLog.append`).
 */
export function atomically<T>(
  base: Kysely<Database>,
  work: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  const current = open.getStore();
  if (current && current.base === base && !current.ended) return work(current.trx);
  let failure: { error: unknown } | undefined;
  return base
    .transaction()
    .execute(async (trx) => {
      const scope: OpenTransaction = { base, trx, ended: false };
      try {
        return await open.run(scope, () => work(trx));
      } catch (error) {
        failure = { error };
        throw error;
      } finally {
        scope.ended = true;
      }
    })
    .catch((error: unknown) => {
      // SQLite rolls back by itself on some failures (SQLITE_FULL); Kysely's
      // ROLLBACK then fails too, and must not hide the cause.
      throw failure ? failure.error : error;
    });
}
