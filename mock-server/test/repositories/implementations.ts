import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import initSqlJs, { type Database as SqlJsDatabase, type SqlJsStatic } from 'sql.js';
import type { RecordRow } from '../../src/domain/escrow/ports';
import { openDatabase } from '../../src/persistence/database';
import { openPostgres } from '../../src/persistence/postgres-database';
import { migrateToLatest } from '../../src/persistence/migrations';
import { kyselyRepositories } from '../../src/persistence/repositories';
import { sqlJsDatabase } from '../../src/persistence/sql-js-database';
import { SqliteAlertRepository } from '../../src/persistence/sqlite-alerts';
import { SqliteAuditRepository, SqliteSiteKeyRepository } from '../../src/persistence/sqlite-audit';
import { SqliteEscrowStore } from '../../src/persistence/sqlite-escrow';
import {
  SqliteSessionRepository,
  SqliteSignInFailureRepository,
  SqliteUserRepository,
} from '../../src/persistence/sqlite-identity';
import { SqliteTrustedSiteRepository } from '../../src/persistence/sqlite-sites';
import { sqliteKysely } from '../../src/persistence/transactions';
import { FsBlobStore } from '../../src/platform/fs-blob-store';
import { MemoryBlobStore } from '../../src/platform/memory-blob-store';
import type { PostgresCluster } from '../support/postgres';
import type { Implementation, OpenRepositories } from './contract';

const DATABASE_FILE = 'custodian.sqlite';

/** The rows `records.upsert` writes for each record, for `seedRecords`. */
function recordRows(records: readonly RecordRow[]) {
  return records.map((r) => ({
    record: [
      r.volumeId,
      r.owner,
      JSON.stringify(r.restorers),
      r.policy.kind,
      r.policy.approvalRequired ? 1 : 0,
      r.policy.expiresAt,
      r.state,
      r.createdAt,
      r.updatedAt,
    ],
    restorers: r.restorers.map((userId) => [r.volumeId, userId]),
  }));
}
const INSERT_RECORD = `insert into escrow_records (volume_id, owner, restorers, policy_kind, approval_required, expires_at, state, created_at, updated_at)
             values (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const INSERT_RESTORER = 'insert into record_restorers (volume_id, user_id) values (?, ?)';

/**
 * The site's repositories on a fresh SQLite database and blob folder in a
 * temporary directory, removed afterwards. Each database starts as a copy
 * of one migrated once, so a case does not pay for the migrations.
 */
export function sqliteImplementation(
  knownDiscrepancies: ReadonlyMap<string, string>,
): Implementation {
  let template: Promise<string> | undefined;
  const migrated = async (): Promise<string> => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'custodian-repositories-template-'));
    await (await openDatabase(dir)).close();
    return dir;
  };
  return {
    name: 'SQLite',
    knownDiscrepancies,
    async open(): Promise<OpenRepositories> {
      const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'custodian-repositories-'));
      await fs.copyFile(
        path.join(await (template ??= migrated()), DATABASE_FILE),
        path.join(dataDir, DATABASE_FILE),
      );
      const database = await openDatabase(dataDir);
      // Durability is not under test here; skipping fsync keeps a case fast.
      database.sqlite.pragma('synchronous = OFF');
      const { db } = database;
      return {
        repos: {
          users: new SqliteUserRepository(db),
          sessions: new SqliteSessionRepository(db),
          failures: new SqliteSignInFailureRepository(db),
          alerts: new SqliteAlertRepository(db),
          audit: new SqliteAuditRepository(db),
          siteKeys: new SqliteSiteKeyRepository(db),
          escrow: new SqliteEscrowStore(db),
          trustedSites: new SqliteTrustedSiteRepository(db),
          blobs: await FsBlobStore.open(dataDir),
        },
        async seedRecords(records: readonly RecordRow[]) {
          // The rows records.upsert writes, in one transaction instead of one per record.
          const insertRecord = database.sqlite.prepare(INSERT_RECORD);
          const insertRestorer = database.sqlite.prepare(INSERT_RESTORER);
          database.sqlite.transaction(() => {
            for (const rows of recordRows(records)) {
              insertRecord.run(...rows.record);
              for (const restorer of rows.restorers) insertRestorer.run(...restorer);
            }
          })();
        },
        async close() {
          await database.close();
          await fs.rm(dataDir, { recursive: true, force: true });
        },
      };
    },
    async dispose() {
      if (template) await fs.rm(await template, { recursive: true, force: true });
    },
  };
}

/**
 * The same repositories on sql.js, the SQLite compiled to WebAssembly that
 * the offline demo runs in the page (src/app/offline-site/page-database.ts):
 * a fresh database in memory per store, blobs in memory.
 */
export function sqlJsImplementation(
  knownDiscrepancies: ReadonlyMap<string, string>,
): Implementation {
  let engine: Promise<{ SQL: SqlJsStatic; migrated: Uint8Array }> | undefined;
  const migrated = async () => {
    const SQL = await initSqlJs();
    const database = new SQL.Database();
    const db = sqliteKysely(sqlJsDatabase(database));
    await migrateToLatest(db);
    const image = database.export();
    await db.destroy();
    return { SQL, migrated: image };
  };
  return {
    name: 'sql.js',
    knownDiscrepancies,
    async open(): Promise<OpenRepositories> {
      const { SQL, migrated: image } = await (engine ??= migrated());
      const database: SqlJsDatabase = new SQL.Database(image);
      database.run('pragma foreign_keys = on');
      const db = sqliteKysely(sqlJsDatabase(database));
      return {
        repos: { ...kyselyRepositories(db), blobs: new MemoryBlobStore() },
        async seedRecords(records: readonly RecordRow[]) {
          database.run('begin');
          for (const rows of recordRows(records)) {
            database.run(INSERT_RECORD, rows.record);
            for (const restorer of rows.restorers) database.run(INSERT_RESTORER, restorer);
          }
          database.run('commit');
        },
        close: () => db.destroy(),
      };
    },
    async dispose() {},
  };
}

/**
 * The same repositories on PostgreSQL (CUSTODIAN_DATABASE_URL), through the
 * site's own openPostgres: each store is a database of its own on the
 * cluster, a copy of one migrated once, dropped afterwards; blobs in memory.
 */
export function postgresImplementation(
  cluster: () => PostgresCluster,
  knownDiscrepancies: ReadonlyMap<string, string>,
): Implementation {
  const TEMPLATE = 'custodian_template';
  let template: Promise<string> | undefined;
  let stores = 0;
  const migrated = async (): Promise<string> => {
    const url = await cluster().createDatabase(TEMPLATE);
    // A template must have no connection open when it is copied.
    await (await openPostgres(url, { log: () => undefined })).close();
    return TEMPLATE;
  };
  return {
    name: 'PostgreSQL',
    knownDiscrepancies,
    async open(): Promise<OpenRepositories> {
      const name = `custodian_store_${++stores}`;
      const url = await cluster().createDatabase(name, await (template ??= migrated()));
      const database = await openPostgres(url, { log: () => undefined });
      const { db } = database;
      return {
        repos: { ...kyselyRepositories(db), blobs: new MemoryBlobStore() },
        async seedRecords(records: readonly RecordRow[]) {
          // The rows records.upsert writes, in one transaction instead of one per record.
          await db.transaction().execute(async (trx) => {
            for (let i = 0; i < records.length; i += 1000) {
              const batch = records.slice(i, i + 1000);
              await trx
                .insertInto('escrow_records')
                .values(
                  batch.map((r) => ({
                    volume_id: r.volumeId,
                    owner: r.owner,
                    restorers: JSON.stringify(r.restorers),
                    policy_kind: r.policy.kind,
                    approval_required: r.policy.approvalRequired ? 1 : 0,
                    expires_at: r.policy.expiresAt,
                    state: r.state,
                    created_at: r.createdAt,
                    updated_at: r.updatedAt,
                  })),
                )
                .execute();
              const restorers = batch.flatMap((r) =>
                r.restorers.map((userId) => ({ volume_id: r.volumeId, user_id: userId })),
              );
              if (restorers.length)
                await trx.insertInto('record_restorers').values(restorers).execute();
            }
          });
        },
        async close() {
          await database.close();
          await cluster().dropDatabase(name);
        },
      };
    },
    async dispose() {
      if (template) await cluster().dropDatabase(await template);
      template = undefined;
    },
  };
}
