import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import type { MigrationProvider } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CHUNK_SIZE } from '../../src/core/crypto/constants';
import {
  ConfigError,
  insecureHostWarning,
  loadConfig,
  publicOrigin,
  publicUrlWarning,
} from '../src/config';
import { openDatabase } from '../src/persistence/database';
import { migrationProvider } from '../src/persistence/migrations';
import { FsBlobStore } from '../src/platform/fs-blob-store';
import { createMasterKeyFile, readMasterKey } from '../src/platform/master-key';
import { assessHealth, DISK_FAILING_BYTES } from '../src/platform/site-operations';
import { systemClock } from '../src/platform/node-random';
import { composeServices } from '../src/services';
import { backUp, newOperator, randomImage } from './support/backup-client';
import { credentialFor } from './support/credentials';
import { Client, startTestSite } from './support/test-site';

const VOLUME = 'gpt:0c1d2e3f-4a5b-4e5f-8a9b-6b1f0a4e2c3d';

function tempRoot(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `custodian-${prefix}-`));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the master key on disk', () => {
  it('is fsynced with its directory and is 0600 whatever the umask', () => {
    const root = tempRoot('mk');
    const file = path.join(root, 'secrets', 'master.key');
    const synced = vi.spyOn(fs, 'fsyncSync');
    const previous = process.umask(0);
    try {
      createMasterKeyFile(file);
    } finally {
      process.umask(previous);
    }
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // The file, then the directory holding its name (and the new secrets/ in root).
    expect(synced.mock.calls.length).toBeGreaterThanOrEqual(3);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['master.key']);
    expect(() => createMasterKeyFile(file)).toThrow(/EEXIST/);
  });

  it('is refused when others may read it, or when it sits in the data directory under a name starting with ".."', () => {
    const root = tempRoot('mk');
    const dataDir = path.join(root, 'data');
    fs.mkdirSync(dataDir);
    const file = path.join(root, 'master.key');
    createMasterKeyFile(file);
    expect(readMasterKey(file, dataDir)).toHaveLength(32);
    fs.chmodSync(file, 0o644);
    expect(() => readMasterKey(file, dataDir)).toThrow(/can be read by others.*chmod 600/);
    fs.chmodSync(file, 0o600);
    const dotted = path.join(dataDir, '..master.key');
    fs.copyFileSync(file, dotted);
    expect(() => readMasterKey(dotted, dataDir)).toThrow(/inside the data directory/);
    // Also through a symbolic link that points into the data directory.
    const link = path.join(root, 'link.key');
    fs.symlinkSync(dotted, link);
    expect(() => readMasterKey(link, dataDir)).toThrow(/inside the data directory/);
  });
});

describe('the blob store', () => {
  it("fsyncs a new volume folder's parents, not only the folder", async () => {
    const root = tempRoot('blobs');
    const store = await FsBlobStore.open(root);
    const opened: string[] = [];
    const open = fsp.open.bind(fsp);
    vi.spyOn(fsp, 'open').mockImplementation(async (file, flags, mode) => {
      if (flags === 'r') opened.push(String(file));
      return open(file, flags, mode);
    });
    const target = store.pathOf(VOLUME, 'a'.repeat(64));
    expect(await store.put(VOLUME, 'a'.repeat(64), new Uint8Array([1, 2, 3]))).toBe('stored');
    const volumeDir = path.dirname(target);
    expect(opened).toEqual(
      expect.arrayContaining([path.join(root, 'blobs'), path.dirname(volumeDir), volumeDir]),
    );
  });
});

describe('the database at start-up', () => {
  it('is created 0600 whatever the umask, and one left readable by others is tightened with a warning', async () => {
    const dataDir = path.join(tempRoot('db'), 'data');
    const previous = process.umask(0);
    try {
      await (await openDatabase(dataDir)).close();
    } finally {
      process.umask(previous);
    }
    const file = path.join(dataDir, 'custodian.sqlite');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    fs.chmodSync(file, 0o644);
    const notices: string[] = [];
    await (await openDatabase(dataDir, { log: (m) => notices.push(m) })).close();
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(notices.join('\n')).toMatch(/readable by others \(mode 0644\); it is now 0600/);
  });

  it('refuses a 0-byte database file instead of minting new site keys over it', async () => {
    const dataDir = path.join(tempRoot('db'), 'data');
    fs.mkdirSync(dataDir);
    fs.writeFileSync(path.join(dataDir, 'custodian.sqlite'), '');
    await expect(startTestSite({ dataDir })).rejects.toThrow(
      /is empty \(0 bytes\).*will not create a new database/s,
    );
    expect(fs.statSync(path.join(dataDir, 'custodian.sqlite')).size).toBe(0);
  });

  it('refuses to create a database beside chunk blobs whose database is gone', async () => {
    const site = await startTestSite();
    const client = new Client(site.site.url);
    await client.signIn('operator');
    await backUp(await newOperator(client), site.site.info, VOLUME, randomImage(CHUNK_SIZE, 3));
    await site.stop();
    for (const f of ['custodian.sqlite', 'custodian.sqlite-wal', 'custodian.sqlite-shm'])
      fs.rmSync(path.join(site.dataDir, f), { force: true });
    await expect(startTestSite({ dataDir: site.dataDir })).rejects.toThrow(
      /no database .* but 1 chunk blob\(s\) are there/,
    );
    expect(fs.existsSync(path.join(site.dataDir, 'custodian.sqlite'))).toBe(false);
  });

  it('refuses a database whose pages are damaged (quick_check)', async () => {
    const site = await startTestSite();
    await site.stop();
    const file = path.join(site.dataDir, 'custodian.sqlite');
    const pageSize = 4096;
    const pages = fs.statSync(file).size / pageSize;
    expect(pages).toBeGreaterThan(6);
    // Garbage over inner pages, the header page intact: SQLite still opens the file.
    const fd = fs.openSync(file, 'r+');
    for (const page of [3, 4, 5]) {
      fs.writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, page * pageSize);
    }
    fs.closeSync(fd);
    await expect(startTestSite({ dataDir: site.dataDir })).rejects.toThrow(
      /is damaged .*restore the data directory from a "site backup" copy/s,
    );
  });

  it('refuses a second site on the same data directory while the first runs, and allows it after', async () => {
    const first = await startTestSite();
    await expect(startTestSite({ dataDir: first.dataDir })).rejects.toThrow(
      /Another site is already running on/,
    );
    // The first still answers.
    expect((await new Client(first.site.url).request('GET', '/api/health')).status).toBe(200);
    await first.stop();
    const second = await startTestSite({ dataDir: first.dataDir });
    await second.stop();
  });

  it('takes a copy with the backup API before running pending migrations on an existing database', async () => {
    const dataDir = path.join(tempRoot('migrate'), 'data');
    const all = await migrationProvider.getMigrations();
    const names = Object.keys(all).sort();
    const older: MigrationProvider = {
      getMigrations: async () => Object.fromEntries(names.slice(0, -1).map((n) => [n, all[n]!])),
    };
    const first = await openDatabase(dataDir, { migrations: older });
    expect(first.preMigrationBackup).toBeUndefined();
    await first.close();
    const notices: string[] = [];
    const upgraded = await openDatabase(dataDir, { log: (m) => notices.push(m) });
    const copy = upgraded.preMigrationBackup!;
    await upgraded.close();
    expect(path.basename(copy)).toMatch(new RegExp(`^custodian\\.before-${names.at(-1)}\\.`));
    expect(notices.join('\n')).toContain(copy);
    expect(fs.statSync(copy).mode & 0o777).toBe(0o600);
    const old = new SQLite(copy, { readonly: true });
    const applied = old.prepare('select name from kysely_migration order by name').all() as {
      name: string;
    }[];
    old.close();
    expect(applied.map((r) => r.name)).toEqual(names.slice(0, -1));
    // Nothing pending: no copy.
    const again = await openDatabase(dataDir);
    expect(again.preMigrationBackup).toBeUndefined();
    await again.close();
  });
});

describe('demo mode on an existing site', () => {
  it('is refused where it would add public-password accounts beside users of its own, unless asked for on purpose', async () => {
    const root = tempRoot('demo');
    const dataDir = path.join(root, 'data');
    const keyFile = path.join(root, 'secrets', 'master.key');
    createMasterKeyFile(keyFile);
    const config = loadConfig(['--data-dir', dataDir], { CUSTODIAN_MASTER_KEY_FILE: keyFile });
    const database = await openDatabase(dataDir);
    const { identity, info } = await composeServices(
      config,
      database,
      systemClock,
      [],
      () => undefined,
    );
    await identity.createUser({
      userId: 'root',
      displayName: 'Root',
      roles: ['admin'],
      credential: await credentialFor('a-long-admin-password', info.siteId),
    });
    await database.close();

    await expect(
      startTestSite({ dataDir, env: { CUSTODIAN_MASTER_KEY_FILE: keyFile } }),
    ).rejects.toThrow(
      /Demo mode refused: this site already has 1 user\(s\) \(root\).*--demo-on-existing/s,
    );
    const check = await openDatabase(dataDir);
    expect((check.sqlite.prepare('select count(*) as n from users').get() as { n: number }).n).toBe(
      1,
    );
    await check.close();

    const site = await startTestSite({
      dataDir,
      env: { CUSTODIAN_MASTER_KEY_FILE: keyFile, CUSTODIAN_DEMO_ON_EXISTING: '1' },
    });
    expect(site.site.demoAccountsCreated).toContain('admin');
    await site.stop();
    // A demo site restarted adds nothing and is not refused.
    const again = await startTestSite({ dataDir, env: { CUSTODIAN_MASTER_KEY_FILE: keyFile } });
    expect(again.site.demoAccountsCreated).toEqual([]);
    await again.stop();
  });
});

describe('plain HTTP beyond this machine', () => {
  it('is warned about (WebCrypto needs HTTPS or localhost); loopback and TLS are not', () => {
    const env = { CUSTODIAN_MASTER_KEY_FILE: '/k' };
    for (const host of ['0.0.0.0', '192.168.1.20', '::', 'backup.example.org']) {
      expect(insecureHostWarning(loadConfig(['--host', host], env))).toMatch(
        /plain HTTP.*WebCrypto.*CUSTODIAN_TLS_CERT/s,
      );
    }
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.5']) {
      expect(insecureHostWarning(loadConfig(['--host', host], env))).toBeUndefined();
    }
    expect(
      insecureHostWarning(
        loadConfig(['--host', '0.0.0.0', '--tls-cert', 'c.pem', '--tls-key', 'k.pem'], env),
      ),
    ).toBeUndefined();
  });
});

describe('the public URL of the console (MS-1)', () => {
  const env = { CUSTODIAN_MASTER_KEY_FILE: '/k' };

  it('is the loopback address at the port unless set, and then an origin', () => {
    expect(publicOrigin(loadConfig(['--port', '8790'], env))).toBe('http://127.0.0.1:8790');
    expect(
      publicOrigin(
        loadConfig(['--port', '8790', '--tls-cert', 'c.pem', '--tls-key', 'k.pem'], env),
      ),
    ).toBe('https://127.0.0.1:8790');
    expect(
      publicOrigin(loadConfig([], { ...env, CUSTODIAN_PUBLIC_URL: 'https://Custodian.Example/' })),
    ).toBe('https://custodian.example');
    expect(publicOrigin(loadConfig(['--public-url', 'http://10.0.0.5:9000'], env))).toBe(
      'http://10.0.0.5:9000',
    );
    for (const wrong of ['custodian.example', 'https://custodian.example/console']) {
      expect(() => loadConfig(['--public-url', wrong], env)).toThrow(ConfigError);
    }
  });

  it('is warned about when the site listens beyond this machine without one', () => {
    expect(publicUrlWarning(loadConfig(['--host', '0.0.0.0'], env))).toMatch(
      /CUSTODIAN_PUBLIC_URL/,
    );
    expect(publicUrlWarning(loadConfig(['--host', '127.0.0.1'], env))).toBeUndefined();
    expect(
      publicUrlWarning(
        loadConfig(['--host', '0.0.0.0', '--public-url', 'https://custodian.example'], env),
      ),
    ).toBeUndefined();
  });
});

describe('health and metrics', () => {
  it('reports database and disk, degraded below the configured free space', async () => {
    const site = await startTestSite();
    const client = new Client(site.site.url);
    const ok = await client.request('GET', '/api/health');
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({
      status: 'ok',
      database: { status: 'ok' },
      disk: { status: 'ok' },
    });
    await site.stop();
    const low = await startTestSite({
      dataDir: site.dataDir,
      env: { CUSTODIAN_DISK_LOW_MB: String(1024 * 1024 * 1024) },
    });
    const degraded = await new Client(low.site.url).request('GET', '/api/health');
    expect(degraded.status).toBe(200);
    expect(degraded.json).toMatchObject({
      status: 'degraded',
      database: { status: 'ok' },
      disk: { status: 'degraded', reason: expect.stringMatching(/MiB free in the data directory/) },
    });
    await low.stop();
  });

  it('says failing, with the reason, when the database cannot be read or the disk is nearly full', () => {
    const broken = assessHealth({
      version: '1',
      database: () => {
        throw new Error('disk I/O error');
      },
      freeBytes: () => 10 * 1024 ** 3,
      lowBytes: 1024 ** 3,
    });
    expect(broken).toMatchObject({
      status: 'failing',
      database: { status: 'failing', reason: expect.stringContaining('disk I/O error') },
      disk: { status: 'ok' },
    });
    const full = assessHealth({
      version: '1',
      database: () => undefined,
      freeBytes: () => DISK_FAILING_BYTES - 1,
      lowBytes: 1024 ** 3,
    });
    expect(full).toMatchObject({ status: 'failing', disk: { status: 'failing' } });
  });

  it('serves Prometheus metrics to loopback, or elsewhere only with the metrics token', async () => {
    const site = await startTestSite({ env: { CUSTODIAN_METRICS_TOKEN: 'scrape-secret-1' } });
    const client = new Client(site.site.url);
    await client.signIn('operator');
    await backUp(await newOperator(client), site.site.info, VOLUME, randomImage(CHUNK_SIZE, 9));
    const answer = await client.request('GET', '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(answer.text).toMatch(
      /custodian_http_requests_total\{method="POST",route="\/api\/auth\/login",status="200"\} 1/,
    );
    expect(answer.text).toMatch(/custodian_storage_bytes\{kind="chunks"\} [1-9]\d*/);
    expect(answer.text).toMatch(/# TYPE custodian_key_releases gauge/);
    expect(answer.text).toMatch(/# TYPE custodian_alerts gauge/);
    expect(answer.text).toMatch(/custodian_chunks 1/);

    const remote = (headers: Record<string, string> = {}) =>
      site.site.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.1.2.3', headers });
    const refused = await remote();
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'forbidden' });
    expect((await remote({ authorization: 'Bearer wrong-secret-1' })).statusCode).toBe(403);
    const allowed = await remote({ authorization: 'Bearer scrape-secret-1' });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.body).toContain('custodian_healthy 1');
    await site.stop();
  });
});

describe('full storage', () => {
  it('answers an upload that hits ENOSPC with 507 storage_full', async () => {
    const site = await startTestSite();
    const client = new Client(site.site.url);
    await client.signIn('operator');
    const operator = await newOperator(client);
    const open = fsp.open.bind(fsp);
    vi.spyOn(fsp, 'open').mockImplementation(async (file, flags, mode) => {
      if (flags === 'wx' && String(file).includes(`${path.sep}.tmp${path.sep}`))
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
          code: 'ENOSPC',
        });
      return open(file, flags, mode);
    });
    const refused = await backUp(operator, site.site.info, VOLUME, randomImage(CHUNK_SIZE, 5)).then(
      () => undefined,
      (error: { answer?: { status: number; json: unknown } }) => error.answer,
    );
    expect(refused?.status).toBe(507);
    expect(refused?.json).toMatchObject({
      code: 'storage_full',
      message: expect.stringMatching(/storage is full.*more free disk space/),
    });
    await site.stop();
  });

  it('answers a sign-in on a full database with 507 storage_full, not a misleading 503', async () => {
    const site = await startTestSite();
    const { sqlite } = site.site.database;
    const pages = sqlite.pragma('page_count', { simple: true }) as number;
    // The database may not grow: SQLite answers SQLITE_FULL, as on a full disk.
    sqlite.pragma(`max_page_count = ${pages}`);
    let last: { status: number; json: unknown } | undefined;
    for (let i = 0; i < 400; i++) {
      last = await new Client(site.site.url).signIn('operator');
      if (last.status !== 200) break;
    }
    expect(last?.status).toBe(507);
    expect(last?.json).toMatchObject({ code: 'storage_full' });
    sqlite.pragma('max_page_count = 1073741823');
    await site.stop();
  });
});
