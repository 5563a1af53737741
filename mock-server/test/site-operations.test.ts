import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/core/contract';
import { CHUNK_SIZE } from '../../src/core/crypto/constants';
import { backUp, newOperator, randomImage, restore } from './support/backup-client';
import { Client, startTestSite } from './support/test-site';

const VOLUME = 'gpt:6b1f0a4e-2c3d-4e5f-8a9b-0c1d2e3f4a5b';

function runSite(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'mock-server/src/main.ts', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    input: '',
  });
}

// Each case starts the site's command line several times (a Node process each).
describe('site operations (ES-4)', { timeout: 180_000 }, () => {
  it("exports a volume's keys for an administrator, audited, and the independent decoder restores the same bytes", async () => {
    let site = await startTestSite();
    const client = new Client(site.site.url);
    await client.signIn('operator');
    const operator = await newOperator(client);
    const first = randomImage(2 * CHUNK_SIZE + 77, 21);
    await backUp(operator, site.site.info, VOLUME, first);
    const second = first.slice();
    second[5] = (second[5]! + 1) & 0xff; // a second generation, a second epoch
    await backUp(operator, site.site.info, VOLUME, second);
    await site.stop();

    const env = { CUSTODIAN_MASTER_KEY_FILE: site.config.masterKeyFile! };
    const out = fs.mkdtempSync(path.join(path.dirname(site.dataDir), 'export-'));
    const keys = path.join(out, 'keys.json');
    const manifest = path.join(out, 'manifest.json');
    const refused = runSite(
      [
        'export-key',
        '--volume',
        VOLUME,
        '--out',
        keys,
        '--user',
        'operator',
        '--data-dir',
        site.dataDir,
      ],
      {
        ...env,
        CUSTODIAN_ADMIN_PASSWORD: 'custodian-operator',
      },
    );
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('not an administrator');
    expect(fs.existsSync(keys)).toBe(false);
    const wrong = runSite(
      ['export-key', '--volume', VOLUME, '--out', keys, '--data-dir', site.dataDir],
      { ...env, CUSTODIAN_ADMIN_PASSWORD: 'nope' },
    );
    expect(wrong.stderr).toContain('unauthorized user');

    const exported = runSite(
      [
        'export-key',
        '--volume',
        VOLUME,
        '--out',
        keys,
        '--manifest',
        manifest,
        '--data-dir',
        site.dataDir,
      ],
      {
        ...env,
        CUSTODIAN_ADMIN_PASSWORD: 'custodian-admin',
      },
    );
    expect(exported.stderr).toBe('');
    expect(exported.status).toBe(0);
    expect(fs.statSync(keys).mode & 0o777).toBe(0o600);
    const chunksDir = /chunk blobs are in (\S+)/.exec(exported.stdout)![1]!;
    const image = path.join(out, 'restored.img');
    execFileSync(process.execPath, [
      '--import',
      'tsx',
      'tools/decode/main.ts',
      '--manifest',
      manifest,
      '--keys',
      keys,
      '--chunks',
      chunksDir,
      '--out',
      image,
    ]);
    expect(Buffer.compare(fs.readFileSync(image), Buffer.from(second))).toBe(0);

    site = await site.restart();
    const admin = new Client(site.site.url);
    await admin.signIn('admin');
    const audit = (await admin.request('GET', '/api/admin/audit?event=key_exported')).json as {
      entries: AuditEntry[];
    };
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]).toMatchObject({ actor: 'admin', volumeId: VOLUME });
    expect(
      ((await admin.request('POST', '/api/admin/audit/verify')).json as { intact: boolean }).intact,
    ).toBe(true);
    await site.stop();
  });

  it('makes a consistent copy of the data directory that a site can run from', async () => {
    const site = await startTestSite();
    const client = new Client(site.site.url);
    await client.signIn('operator');
    const image = randomImage(CHUNK_SIZE + 5, 4);
    await backUp(await newOperator(client), site.site.info, VOLUME, image, {
      restorers: ['restorer'],
    });
    const copy = path.join(path.dirname(site.dataDir), 'copy', 'data');
    const result = runSite(['backup', '--out', copy, '--data-dir', site.dataDir], {
      CUSTODIAN_MASTER_KEY_FILE: site.config.masterKeyFile!,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('2 chunk blob(s)');
    expect(runSite(['backup', '--out', copy, '--data-dir', site.dataDir], {}).stderr).toContain(
      'not empty',
    );
    expect(result.stdout).not.toContain('bucket');
    // With chunk blobs in an S3 bucket, the copy says it holds the database only.
    const withBucket = runSite(['backup', '--out', `${copy}-s3`, '--data-dir', site.dataDir], {
      CUSTODIAN_MASTER_KEY_FILE: site.config.masterKeyFile!,
      CUSTODIAN_S3_BUCKET: 'custodian-blobs',
      CUSTODIAN_S3_ENDPOINT: 'http://127.0.0.1:9',
      CUSTODIAN_S3_ACCESS_KEY_ID: 'id',
      CUSTODIAN_S3_SECRET_ACCESS_KEY: 'secret',
    });
    expect(withBucket.stderr).toBe('');
    expect(withBucket.stdout).toContain(
      'Chunk blobs are kept in bucket "custodian-blobs" at http://127.0.0.1:9, not in the data directory: this copy holds the database only.',
    );
    await site.stop();

    fs.copyFileSync(site.config.masterKeyFile!, path.join(path.dirname(copy), 'master.key'));
    const fromCopy = await startTestSite({
      dataDir: copy,
      env: { CUSTODIAN_MASTER_KEY_FILE: path.join(path.dirname(copy), 'master.key') },
    });
    const restorer = new Client(fromCopy.site.url);
    await restorer.signIn('restorer');
    expect(
      Buffer.compare(Buffer.from((await restore(restorer, VOLUME)).image), Buffer.from(image)),
    ).toBe(0);
    await fromCopy.stop();
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('site operations: refusals and upkeep', { timeout: 240_000 }, () => {
  it('site backup runs the full integrity check and fails, copying nothing, on a damaged database', async () => {
    const site = await startTestSite();
    await new Client(site.site.url).signIn('admin');
    await site.stop();
    // Damage quick_check does not see: an index entry that no longer matches its row.
    const file = path.join(site.dataDir, 'custodian.sqlite');
    const db = new SQLite(file, { readonly: true });
    const { rootpage } = db
      .prepare(`select rootpage from sqlite_schema where name = 'sessions_by_user'`)
      .get() as { rootpage: number };
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const bytes = fs.readFileSync(file);
    const page = bytes.subarray((rootpage - 1) * pageSize, rootpage * pageSize);
    const at = page.indexOf('admin');
    expect(at).toBeGreaterThan(0);
    page[at + 4] = 'o'.charCodeAt(0);
    fs.writeFileSync(file, bytes);
    const out = path.join(path.dirname(site.dataDir), 'damaged-copy');
    const result = runSite(['backup', '--out', out, '--data-dir', site.dataDir], {
      CUSTODIAN_MASTER_KEY_FILE: site.config.masterKeyFile!,
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/is damaged, so no backup was made/);
    expect(result.stderr).toMatch(/sessions_by_user/);
    expect(fs.existsSync(path.join(out, 'custodian.sqlite'))).toBe(false);
  });

  it('rotates the master key: the same site keys open under the new one, the audit chain still verifies, the old key no longer opens them', async () => {
    const site = await startTestSite();
    const admin = new Client(site.site.url);
    await admin.signIn('admin');
    const before = site.site.info;
    const oldKey = site.config.masterKeyFile!;
    const newKey = path.join(path.dirname(oldKey), 'master-2.key');
    const env = { CUSTODIAN_MASTER_KEY_FILE: oldKey };
    // Not while the site runs: it holds the data directory.
    const busy = runSite(
      ['rotate-master-key', '--new-key-file', newKey, '--data-dir', site.dataDir],
      env,
    );
    expect(busy.status).not.toBe(0);
    expect(busy.stderr).toMatch(/Another site is already running/);
    await site.stop();

    const rotated = runSite(
      ['rotate-master-key', '--new-key-file', newKey, '--data-dir', site.dataDir],
      env,
    );
    expect(rotated.stderr).toBe('');
    expect(rotated.status).toBe(0);
    expect(rotated.stdout).toMatch(
      /fingerprints are unchanged and the audit chain \(\d+ entries\) verifies/,
    );
    expect(fs.statSync(newKey).mode & 0o777).toBe(0o600);

    await expect(startTestSite({ dataDir: site.dataDir, env })).rejects.toThrow(
      /master key does not open this site's keys/,
    );
    const after = await startTestSite({
      dataDir: site.dataDir,
      env: { CUSTODIAN_MASTER_KEY_FILE: newKey },
    });
    expect(after.site.info.escrowKey).toEqual(before.escrowKey);
    expect(after.site.info.signingKey).toEqual(before.signingKey);
    const client = new Client(after.site.url);
    await client.signIn('admin');
    const verified = (await client.request('POST', '/api/admin/audit/verify')).json as {
      intact: boolean;
      entries: number;
    };
    expect(verified.intact).toBe(true);
    const log = (await client.request('GET', '/api/admin/audit?event=master_key_rotated')).json as {
      entries: AuditEntry[];
    };
    expect(log.entries).toHaveLength(1);
    await after.stop();
  });

  it('create-admin reads a piped password without echoing it and enforces the password rules', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-create-admin-'));
    const keyFile = path.join(root, 'master.key');
    expect(runSite(['init-master-key', '--out', keyFile], {}).status).toBe(0);
    const env = { CUSTODIAN_MASTER_KEY_FILE: keyFile, CUSTODIAN_ADMIN_PASSWORD: '' };
    const args = [
      'create-admin',
      '--user',
      'root',
      '--name',
      'Root',
      '--data-dir',
      path.join(root, 'data'),
    ];
    const run = (input: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'mock-server/src/main.ts', ...args], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
        input,
      });
    for (const weak of ['short-pw', 'root-is-my-password', 'aaaaaaaaaaaaaa']) {
      const refused = run(`${weak}\n`);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/Choose a password of at least 10 characters/);
    }
    const created = run('a-long-admin-password\n');
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);
    expect(created.stdout).toContain('Administrator "root" created');
    expect(created.stdout + created.stderr).not.toContain('a-long-admin-password');
    // The site's own cost, which the tests' sites lower: scrypt N = 2^15, r = 8, p = 1.
    const db = new SQLite(path.join(root, 'data', 'custodian.sqlite'), { readonly: true });
    const row = db.prepare("SELECT password_hash FROM users WHERE user_id = 'root'").get() as {
      password_hash: string;
    };
    db.close();
    expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
  });

  it('create-admin on a terminal does not echo what is typed', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-tty-'));
    const keyFile = path.join(root, 'master.key');
    expect(runSite(['init-master-key', '--out', keyFile], {}).status).toBe(0);
    const command = [
      process.execPath,
      '--import',
      'tsx',
      'mock-server/src/main.ts',
      'create-admin',
      '--user',
      'root',
      '--data-dir',
      path.join(root, 'data'),
    ].join(' ');
    // script(1) gives the command a terminal; the password is typed twice, each after its prompt.
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, CUSTODIAN_MASTER_KEY_FILE: keyFile, CUSTODIAN_ADMIN_PASSWORD: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const waitFor = async (text: RegExp) => {
      const deadline = Date.now() + 60_000;
      while (!text.test(stdout) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
    };
    await waitFor(/Password for the new administrator/);
    child.stdin.write('typed-secret-99\r');
    await waitFor(/Type it again/);
    child.stdin.write('typed-secret-99\r');
    await waitFor(/created|differ|password/i);
    await new Promise((resolve) => child.once('exit', resolve));
    const typed = { stdout };
    expect(typed.stdout).toContain('Password for the new administrator');
    expect(typed.stdout).toContain('Administrator "root" created');
    expect(typed.stdout).not.toContain('typed-secret-99');
  });

  it('stops when npm is stopped (the site is exec-ed, so the signal reaches it), and warns about plain HTTP beyond loopback', async () => {
    const scripts = (
      JSON.parse(fs.readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts.start).toMatch(/&& exec tsx mock-server\/src\/main\.ts start/);
    expect(scripts.site).toMatch(/^exec tsx /);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-npm-'));
    const port = await freePort();
    const npm = spawn(
      'npm',
      [
        'run',
        'site',
        '--',
        'start',
        '--demo',
        '--host',
        '0.0.0.0',
        '--port',
        String(port),
        '--data-dir',
        path.join(root, 'data'),
        '--log-level',
        'warn',
      ],
      {
        env: {
          ...process.env,
          CUSTODIAN_MASTER_KEY_FILE: path.join(root, 'master.key'),
          CUSTODIAN_CONSOLE_DIR: path.join(root, 'none'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    npm.stdout.on('data', (d: Buffer) => (output += d.toString()));
    npm.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 90_000;
    while (!/listening on/.test(output) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(output).toMatch(/listening on/);
    expect(output).toMatch(/Warning: serving 0\.0\.0\.0 over plain HTTP.*WebCrypto/);
    expect(await portOpen(port)).toBe(true);
    const exited = new Promise((resolve) => npm.once('exit', resolve));
    npm.kill('SIGTERM');
    await exited;
    const freedBy = Date.now() + 15_000;
    while ((await portOpen(port)) && Date.now() < freedBy)
      await new Promise((r) => setTimeout(r, 200));
    expect(await portOpen(port)).toBe(false);
  });
});
