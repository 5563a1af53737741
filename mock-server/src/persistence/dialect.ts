import {
  PostgresAdapter,
  sql,
  type ColumnDataType,
  type ColumnDefinitionBuilder,
  type Expression,
  type QueryExecutorProvider,
  type RawBuilder,
  type SqlBool,
} from 'kysely';

/** The engines the site's database runs on: SQLite (the default) or PostgreSQL. */
export type DatabaseKind = 'sqlite' | 'postgresql';

/** A column type as a migration names it. */
export type ColumnType = ColumnDataType | Expression<unknown>;

/**
 * Everything the site's SQL says differently on SQLite and on PostgreSQL,
 * in one place: the migrations and the repositories build the same queries
 * on both engines and ask here only for what differs. Whatever is not here
 * (substr, coalesce, count, on conflict, returning, limit/offset, the
 * migrations' indexes) is written once for both.
 *
 * What the SQLite side returns is exactly what the site said before it ran
 * on PostgreSQL: a released migration's SQLite schema does not change.
 */
export interface SqlDialect {
  readonly kind: DatabaseKind;
  /**
   * Column types. SQLite's integer is 64-bit, so PostgreSQL's equivalent is
   * bigint (the pool parses int8 into numbers, see postgres-database.ts);
   * SQLite's real is a double; its text compares byte by byte (BINARY), as
   * PostgreSQL's text does under the "C" collation whatever the database's
   * locale, so orderings and key ranges agree. Flags (disabled, reachable,
   * approval_required…) stay integers 0/1 on both engines.
   */
  readonly types: {
    readonly text: ColumnType;
    readonly integer: ColumnType;
    readonly real: ColumnType;
    readonly blob: ColumnType;
  };
  /** An integer primary key the database numbers itself (SQLite's autoincrement, an identity). */
  autoIncrementKey(column: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
  /** The larger of two values: SQLite's two-argument max(), PostgreSQL's greatest(). */
  greatest<T>(a: Expression<T>, b: T): RawBuilder<T>;
  /** Whether `text` holds `part`, case-sensitively: instr() or strpos(). */
  contains(text: Expression<string>, part: string): RawBuilder<SqlBool>;
  /**
   * `text` matches the LIKE `pattern`, in which a backslash escapes % and _,
   * ignoring the case of ASCII letters only: SQLite's like, PostgreSQL's
   * ilike (under the "C" collation it folds ASCII letters only, as SQLite does).
   */
  likeEscaped(text: Expression<string>, pattern: string): RawBuilder<SqlBool>;
  /**
   * Run first in each transaction `transact` opens. SQLite's one connection
   * runs one transaction at a time, and the site's code relies on it (a
   * transaction reads, decides, then writes: the audit chain's head, the
   * receipt counter, sign-in attempts, a key released once). On PostgreSQL
   * `transact` already runs one process's transactions in turn; this
   * transaction-scoped advisory lock makes those of other site processes on
   * the same database wait too. Statements outside a transaction still run
   * side by side.
   */
  serialiseTransaction(trx: QueryExecutorProvider): Promise<void>;
}

const sqliteDialect: SqlDialect = {
  kind: 'sqlite',
  types: { text: 'text', integer: 'integer', real: 'real', blob: 'blob' },
  autoIncrementKey: (column) => column.primaryKey().autoIncrement(),
  greatest: (a, b) => sql`max(${a}, ${b})`,
  contains: (text, part) => sql<SqlBool>`instr(${text}, ${part}) > 0`,
  likeEscaped: (text, pattern) => sql<SqlBool>`${text} like ${pattern} escape '\\'`,
  serialiseTransaction: () => Promise.resolve(),
};

/** The advisory lock every PostgreSQL transaction of the site takes first ("custodi" in ASCII). */
export const TRANSACTION_LOCK_ID = 0x637573746f6469n;
/** How long a PostgreSQL transaction waits for that lock, or any other, before it fails. */
export const TRANSACTION_LOCK_TIMEOUT_MS = 60_000;

const postgresDialect: SqlDialect = {
  kind: 'postgresql',
  types: {
    text: sql`text collate "C"`,
    integer: 'bigint',
    real: 'double precision',
    blob: 'bytea',
  },
  autoIncrementKey: (column) => column.primaryKey().generatedByDefaultAsIdentity(),
  greatest: (a, b) => sql`greatest(${a}, ${b})`,
  contains: (text, part) => sql<SqlBool>`strpos(${text}, ${part}) > 0`,
  likeEscaped: (text, pattern) => sql<SqlBool>`${text} ilike ${pattern} escape '\\'`,
  serialiseTransaction: async (trx) => {
    // The wait is bounded for the whole transaction (its row locks too): another process's
    // transaction that stalls must not hold this one for ever.
    await sql`with bounded as (
      select set_config('lock_timeout', ${sql.lit(String(TRANSACTION_LOCK_TIMEOUT_MS))}, true)
    ) select pg_advisory_xact_lock(${sql.lit(TRANSACTION_LOCK_ID)}) from bounded`.execute(trx);
  },
};

/**
 * The dialect of the engine under `db` (a database, or a transaction on one).
 * Kysely's own Migrator tells the engines apart by the same adapter.
 */
export function dialectOf(db: QueryExecutorProvider): SqlDialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? postgresDialect : sqliteDialect;
}
