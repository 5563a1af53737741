import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { CHUNK_SIZE } from '../../src/core/crypto/constants';
import { startSite, type Site } from '../src/app';
import { ConfigError, loadConfig } from '../src/config';
import { migrationProvider } from '../src/persistence/migrations';
import { SqliteAuditRepository } from '../src/persistence/sqlite-audit';
import { DatabaseServerError, openPostgres } from '../src/persistence/postgres-database';
import { openSiteDatabase } from '../src/persistence/site-database';
import { createScryptHasher } from '../src/platform/scrypt-hasher';
import { backUp, newOperator, randomImage, restore } from './support/backup-client';
import { credentialFor } from './support/credentials';
import { createSiteDatabase, describeWithPostgres } from './support/postgres';
import { Client, startTestSite } from './support/test-site';

const VOLUME = 'gpt:5d1c2e3f-4a5b-4e5f-8a9b-6b1f0a4e2c3d';
const PASSWORD = 'not-for-any-message-7f3a';
const ENV = { CUSTODIAN_MASTER_KEY_FILE: '/k' };

const roots: string[] = [];
function tempRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-engine-'));
  roots.push(root);
  return root;
}
afterAll(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

/** A port of 127.0.0.1 that nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('it did not fail');
}

describe('CUSTODIAN_DATABASE_URL', () => {
  it('is unset by default (SQLite in the data directory), and taken from the flag before the variable', () => {
    expect(loadConfig([], ENV).databaseUrl).toBeUndefined();
    expect(loadConfig([], { ...ENV, CUSTODIAN_DATABASE_URL: '' }).databaseUrl).toBeUndefined();
    const fromEnv = `postgres://custodian:${PASSWORD}@db.example:6543/custodian`;
    expect(loadConfig([], { ...ENV, CUSTODIAN_DATABASE_URL: fromEnv }).databaseUrl).toBe(fromEnv);
    expect(
      loadConfig(['--database-url', 'postgresql://site@127.0.0.1/escrow'], {
        ...ENV,
        CUSTODIAN_DATABASE_URL: fromEnv,
      }).databaseUrl,
    ).toBe('postgresql://site@127.0.0.1/escrow');
  });

  it('is refused unless it is a PostgreSQL URL, saying why without quoting it', () => {
    for (const [url, why] of [
      [`mysql://custodian:${PASSWORD}@db.example/custodian`, /scheme is "mysql:"/],
      [`custodian:${PASSWORD}@db.example/custodian`, /scheme is "custodian:"/],
      ['postgres:///custodian', /names no host/],
      [`postgres://custodian:${PASSWORD}@db.example:99999/custodian`, /not a URL/],
      [`not a url ${PASSWORD}`, /not a URL/],
    ] as const) {
      const error = (() => {
        try {
          loadConfig([], { ...ENV, CUSTODIAN_DATABASE_URL: url });
        } catch (e) {
          return e as Error;
        }
        throw new Error(`${url} was taken`);
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/^CUSTODIAN_DATABASE_URL must be a PostgreSQL URL/);
      expect(error.message).toMatch(why);
      expect(error.message).not.toContain(PASSWORD);
    }
  });
});

describe('a site on a PostgreSQL server that does not answer', () => {
  it('refuses to start, naming the host, port and database but never the password', async () => {
    const port = await closedPort();
    const root = tempRoot();
    const config = loadConfig(
      [
        '--port',
        '0',
        '--data-dir',
        path.join(root, 'data'),
        '--database-url',
        `postgres://custodian:${PASSWORD}@127.0.0.1:${port}/escrow`,
      ],
      { CUSTODIAN_DEMO: '1', CUSTODIAN_MASTER_KEY_FILE: path.join(root, 'master.key') },
    );
    const error = await failure(startSite(config, { logger: false }));
    expect(error).toBeInstanceOf(DatabaseServerError);
    expect(error.message).toContain(`127.0.0.1:${port}, database "escrow"`);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).toMatch(/will not start/);
    expect(error.message).not.toContain(PASSWORD);
    // Nothing was made of the data directory but the directory itself.
    expect(fs.readdirSync(path.join(root, 'data'))).toEqual([]);
  });

  it('refuses a URL that is no PostgreSQL URL at all, without quoting it', async () => {
    const error = await failure(openPostgres(`http://custodian:${PASSWORD}@127.0.0.1/escrow`));
    expect(error).toBeInstanceOf(DatabaseServerError);
    expect(error.message).toMatch(/not a PostgreSQL URL/);
    expect(error.message).not.toContain(PASSWORD);
  });
});

describe('GET /api/health on SQLite', () => {
  it('names the engine', async () => {
    const site = await startTestSite();
    try {
      const answer = await new Client(site.site.url).request('GET', '/api/health');
      expect(answer.status).toBe(200);
      const { database } = answer.json as { database: Record<string, unknown> };
      expect(database).toEqual({ status: 'ok', kind: 'sqlite' });
    } finally {
      await site.stop();
    }
  });
});

describeWithPostgres('the site on PostgreSQL', (cluster) => {
  const testHasher = createScryptHasher(1 << 10);

  /** A site on a new database of the cluster, with the tests' site ID (cached credentials). */
  async function startPostgresSite(database: string): Promise<{ site: Site; dataDir: string }> {
    const url = await createSiteDatabase(cluster(), database);
    const root = tempRoot();
    const dataDir = path.join(root, 'data');
    const config = loadConfig(
      [
        '--port',
        '0',
        '--data-dir',
        dataDir,
        '--console-dir',
        path.join(root, 'no-console'),
        '--database-url',
        url,
      ],
      { CUSTODIAN_DEMO: '1', CUSTODIAN_MASTER_KEY_FILE: path.join(root, 'secrets', 'master.key') },
    );
    const site = await startSite(config, {
      logger: false,
      deriveCredential: credentialFor,
      hasher: testHasher,
    });
    return { site, dataDir };
  }

  it('backs up and restores through the API, with its state in PostgreSQL and nothing in SQLite', async () => {
    const { site, dataDir } = await startPostgresSite('site_roundtrip');
    try {
      expect(site.database.kind).toBe('postgresql');
      const owner = new Client(site.url);
      expect((await owner.signIn('operator')).status).toBe(200);
      const image = randomImage(CHUNK_SIZE + 1000, 3);
      await backUp(await newOperator(owner), site.info, VOLUME, image, {
        restorers: ['restorer'],
      });
      const restorer = new Client(site.url);
      expect((await restorer.signIn('restorer')).status).toBe(200);
      const restored = (await restore(restorer, VOLUME)).image;
      // Buffer.equals: a deep comparison of megabytes, element by element, takes seconds.
      expect(Buffer.from(restored).equals(Buffer.from(image))).toBe(true);
      // The audit chain, written by transactions that ran one at a time, holds.
      const admin = new Client(site.url);
      expect((await admin.signIn('admin')).status).toBe(200);
      const verified = await admin.request('POST', '/api/admin/audit/verify');
      expect(verified.json).toMatchObject({ intact: true });
      expect(fs.existsSync(path.join(dataDir, 'custodian.sqlite'))).toBe(false);

      const metrics = await owner.request('GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(/custodian_chunks 2/);
      expect(metrics.text).toMatch(/custodian_storage_bytes\{kind="database"\} [1-9]\d*/);
      expect(metrics.text).toMatch(/custodian_keys_released_total 1/);
    } finally {
      await site.close();
    }
  });

  it('says in GET /api/health whether the server answers, and fails when it does not', async () => {
    const { site } = await startPostgresSite('site_health');
    try {
      const client = new Client(site.url);
      const ok = await client.request('GET', '/api/health');
      expect(ok.status).toBe(200);
      expect(ok.json).toMatchObject({
        status: 'ok',
        database: { status: 'ok', kind: 'postgresql', reachable: true },
        disk: { status: 'ok' },
      });
      await cluster().kill();
      const down = await client.request('GET', '/api/health');
      expect(down.status).toBe(503);
      expect(down.json).toMatchObject({
        status: 'failing',
        database: {
          status: 'failing',
          kind: 'postgresql',
          reachable: false,
          reason: expect.stringMatching(
            /PostgreSQL server at 127\.0\.0\.1:\d+, database "site_health"/,
          ),
        },
      });
    } finally {
      await site.close();
    }
  });
});

describeWithPostgres('the database on PostgreSQL', (cluster) => {
  it('refuses a database the server does not have, naming it but never the password', async () => {
    const url = cluster().url('missing').replace('postgres@', `postgres:${PASSWORD}@`);
    const error = await failure(openSiteDatabase({ dataDir: tempRoot(), databaseUrl: url }));
    expect(error).toBeInstanceOf(DatabaseServerError);
    expect(error.message).toMatch(
      new RegExp(`127\\.0\\.0\\.1:${cluster().port}, database "missing".*does not exist`),
    );
    expect(error.message).not.toContain(PASSWORD);
  });

  it('migrates once when two sites start on one new database at the same time', async () => {
    const url = await cluster().createDatabase('two_at_once');
    const [a, b] = await Promise.all([openPostgres(url), openPostgres(url)]);
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(a.db);
    expect(rows.length).toBe(Object.keys(await migrationProvider.getMigrations()).length);
    await Promise.all([a.close(), b.close()]);
  });

  it('runs transactions one at a time, as SQLite does: audit appends that race never share a head', async () => {
    const url = await cluster().createDatabase('serialised');
    // Two pools, as two site processes on one database would have.
    const [a, b] = await Promise.all([openPostgres(url), openPostgres(url)]);
    const append = (db: typeof a.db, i: number) =>
      new SqliteAuditRepository(db).atomically(async (tx) => {
        const seq = ((await tx.head())?.seq ?? 0) + 1;
        // Time for another transaction to read the same head, if it could.
        await new Promise((resolve) => setTimeout(resolve, 5));
        await tx.append({
          seq,
          at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
          event: 'test',
          actor: null,
          volumeId: null,
          clientAddress: null,
          details: { i },
          prevMac: '0'.repeat(64),
          mac: String(seq).padStart(64, '0'),
        });
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => append(i % 2 ? a.db : b.db, i)));
    const entries = await new SqliteAuditRepository(a.db).all({});
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await Promise.all([a.close(), b.close()]);
  });
});
