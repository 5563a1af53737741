import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RecordRow } from '../../src/domain/escrow/ports';
import { openDatabase } from '../../src/persistence/database';
import { SqliteAlertRepository } from '../../src/persistence/sqlite-alerts';
import { SqliteAuditRepository, SqliteSiteKeyRepository } from '../../src/persistence/sqlite-audit';
import { SqliteEscrowStore } from '../../src/persistence/sqlite-escrow';
import {
  SqliteSessionRepository,
  SqliteSignInFailureRepository,
  SqliteUserRepository,
} from '../../src/persistence/sqlite-identity';
import { FsBlobStore } from '../../src/platform/fs-blob-store';
import type { Implementation, OpenRepositories } from './contract';

const DATABASE_FILE = 'custodian.sqlite';

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
          blobs: await FsBlobStore.open(dataDir),
        },
        async seedRecords(records: readonly RecordRow[]) {
          // The rows upsertRecord writes, in one transaction instead of one per record.
          const insertRecord = database.sqlite.prepare(
            `insert into escrow_records (volume_id, owner, restorers, policy_kind, approval_required, expires_at, state, created_at, updated_at)
             values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          );
          const insertRestorer = database.sqlite.prepare(
            'insert into record_restorers (volume_id, user_id) values (?, ?)',
          );
          database.sqlite.transaction(() => {
            for (const r of records) {
              insertRecord.run(
                r.volumeId,
                r.owner,
                JSON.stringify(r.restorers),
                r.policy.kind,
                r.policy.approvalRequired ? 1 : 0,
                r.policy.expiresAt,
                r.state,
                r.createdAt,
                r.updatedAt,
              );
              for (const userId of r.restorers) insertRestorer.run(r.volumeId, userId);
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
