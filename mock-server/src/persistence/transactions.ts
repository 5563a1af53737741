import {
  Kysely,
  SqliteDialect,
  SqliteDriver,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDatabase,
  type Transaction,
} from 'kysely';
import { dialectOf } from './dialect';
import type { Database } from './schema';

/**
 * Runs `work` in one transaction on `db`, handing it the transaction to query
 * with; if `db` already is an open transaction, `work` joins it. With
 * synchronous=FULL every commit is an fsync, so writes that belong together
 * cost one. Kysely holds the one connection for the transaction's length and
 * other calls wait for the commit, so everything `work` reads or writes goes
 * through the handle it is given: a query on the database itself would wait
 * for this very commit (see `sqliteKysely`, which turns that wait into an error).
 *
 * On PostgreSQL the site's transactions run one at a time too, as the code
 * expects: this process's in the order they were asked for (`inTurn`), and
 * with other processes' on the same database through an advisory lock
 * (`SqlDialect.serialiseTransaction`).
 */
export function transact<T>(
  db: Kysely<Database>,
  work: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  if (db.isTransaction) return work(db);
  const dialect = dialectOf(db);
  if (dialect.kind === 'sqlite') return inTransaction(db, work);
  return inTurn(db, () =>
    inTransaction(db, async (trx) => {
      await dialect.serialiseTransaction(trx);
      return work(trx);
    }),
  );
}

function inTransaction<T>(
  db: Kysely<Database>,
  work: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
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

/** How long a PostgreSQL transaction waits for this process's earlier ones before it fails. */
export const TURN_LIMIT_MS = 60_000;

/** The end of the last transaction asked for on each PostgreSQL database of this process. */
const lastTurn = new WeakMap<Kysely<Database>, Promise<void>>();

/**
 * Runs `transaction` once the ones asked for before it on `db` have ended,
 * as SQLite's one connection would: a pool connection is taken only when
 * its turn comes, and a transaction waits no longer than `TURN_LIMIT_MS`
 * (work that opens a transaction on the database inside its own would
 * otherwise wait for ever).
 */
function inTurn<T>(db: Kysely<Database>, transaction: () => Promise<T>): Promise<T> {
  const previous = lastTurn.get(db) ?? Promise.resolve();
  let ended!: () => void;
  const mine = new Promise<void>((resolve) => (ended = resolve));
  lastTurn.set(
    db,
    previous.then(() => mine),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<void>((resolve, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TransactionStalled(
            `A transaction waited ${TURN_LIMIT_MS} ms for the transactions before it. ` +
              'Inside a transaction, query only through the handle it hands you ' +
              '(tx.store, tx.audit): a transaction opened on the database itself waits for that commit, ' +
              'which waits for it.',
          ),
        ),
      TURN_LIMIT_MS,
    );
    void previous.then(resolve);
  });
  return waited.then(transaction).finally(() => {
    clearTimeout(timer);
    ended();
  });
}

/** How long an open transaction may go without a query while another query waits for it. */
export const STALL_LIMIT_MS = 10_000;

/**
 * A query waited for a transaction that had stopped querying: almost always
 * a query that the transaction's own work made on the database instead of
 * through the handle it was given, which would otherwise wait for ever.
 */
export class TransactionStalled extends Error {
  override readonly name = 'TransactionStalled';
}

/**
 * The site's Kysely database on one SQLite connection: better-sqlite3 on the
 * site and in tests, sql.js in the offline demo's page. A transaction holds
 * that connection until it ends and every other query waits for it, so a
 * query that the transaction's work makes on the database itself waits for a
 * commit that waits for it. Such a wait fails with `TransactionStalled` once
 * the open transaction has run no query for `stallLimitMs`, instead of
 * hanging: the query's caller, and so the transaction, get an error naming
 * the mistake. A transaction that keeps querying is waited for however long
 * it takes.
 */
export function sqliteKysely(
  database: SqliteDatabase,
  options: { readonly stallLimitMs?: number } = {},
): Kysely<Database> {
  const stallLimitMs = options.stallLimitMs ?? STALL_LIMIT_MS;
  class GuardedDialect extends SqliteDialect {
    override createDriver(): Driver {
      return new StallGuardedDriver(database, stallLimitMs);
    }
  }
  return new Kysely<Database>({ dialect: new GuardedDialect({ database }) });
}

/** Kysely's SQLite driver, which notes when the open transaction last queried. */
class StallGuardedDriver extends SqliteDriver {
  /** When the open transaction last ran a query; undefined while none is open. */
  private transactionActiveAt: number | undefined;

  constructor(
    database: SqliteDatabase,
    private readonly stallLimitMs: number,
  ) {
    super({ database });
  }

  override acquireConnection(): Promise<DatabaseConnection> {
    const acquiring = super.acquireConnection().then((c) => this.watched(c));
    if (this.transactionActiveAt === undefined) return acquiring;
    return new Promise((resolve, reject) => {
      let settled = false;
      const check = (): void => {
        const since = this.transactionActiveAt;
        const idle = since === undefined ? 0 : Date.now() - since;
        if (idle < this.stallLimitMs) {
          timer = setTimeout(check, this.stallLimitMs - idle);
          return;
        }
        settled = true;
        // Once the transaction lets the connection go, it is handed back at once.
        void acquiring.then(() => this.releaseConnection());
        reject(
          new TransactionStalled(
            `A query waited for a transaction that had run no query for ${idle} ms. ` +
              'Inside a transaction, query only through the handle it hands you ' +
              '(tx.store, tx.audit): a query on the database itself waits for that commit, ' +
              'which waits for the query.',
          ),
        );
      };
      let timer = setTimeout(check, this.stallLimitMs);
      acquiring.then(
        (connection) => {
          clearTimeout(timer);
          if (!settled) resolve(connection);
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (!settled) reject(error);
        },
      );
    });
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await super.beginTransaction(connection);
    this.transactionActiveAt = Date.now();
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.commitTransaction(connection);
    } finally {
      this.transactionActiveAt = undefined;
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection);
    } finally {
      this.transactionActiveAt = undefined;
    }
  }

  /** The connection, noting each query an open transaction runs on it. */
  private watched(connection: DatabaseConnection): DatabaseConnection {
    const touch = (): void => {
      if (this.transactionActiveAt !== undefined) this.transactionActiveAt = Date.now();
    };
    return {
      executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
        touch();
        return connection.executeQuery<R>(query).finally(touch);
      },
      streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
    };
  }
}
