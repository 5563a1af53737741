import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { openPostgres } from '../../src/persistence/postgres-database';
import { TEST_SITE_ID } from './credentials';

/**
 * Throwaway PostgreSQL clusters for the tests: Debian's initdb and pg_ctl
 * (installed with apt-get when missing and the tests run as root), a fresh
 * cluster in a temporary directory on a free port of 127.0.0.1 only, trust
 * authentication (nothing else can reach it), no fsync. As root the server
 * runs as the `postgres` user, which PostgreSQL requires.
 *
 * Without PostgreSQL the suites that need it are skipped with a loud
 * message, unless CUSTODIAN_REQUIRE_POSTGRES=1 (CI): then they fail.
 */

export const REQUIRE_POSTGRES = process.env['CUSTODIAN_REQUIRE_POSTGRES'] === '1';

type Found = { readonly binDir: string } | { readonly missing: string };

let found: Found | undefined;

/** The newest installed PostgreSQL's bin directory, if any. */
function installedBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = path.join(root, version, 'bin');
    if (fs.existsSync(path.join(bin, 'initdb')) && fs.existsSync(path.join(bin, 'pg_ctl')))
      return bin;
  }
  return undefined;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** The postgres user's uid and gid, if the system has one. */
function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name === 'postgres') return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // No /etc/passwd: no postgres user.
  }
  return undefined;
}

function aptGet(...args: string[]): boolean {
  const result = spawnSync('apt-get', args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return result.status === 0;
}

/**
 * Where initdb and pg_ctl are, or why there are none. Run once per process:
 * as root with apt-get, a missing PostgreSQL is installed first (apt-get
 * update only if the install fails without it).
 */
export function findPostgres(): Found {
  if (found) return found;
  let binDir = installedBinDir();
  if (!binDir && isRoot() && spawnSync('apt-get', ['--version']).status === 0) {
    process.stderr.write(
      'PostgreSQL is not installed: installing Debian’s postgresql for the tests…\n',
    );
    if (!aptGet('install', '-y', '-qq', 'postgresql')) {
      if (aptGet('update', '-qq')) aptGet('install', '-y', '-qq', 'postgresql');
    }
    binDir = installedBinDir();
  }
  if (!binDir) {
    found = {
      missing: isRoot()
        ? 'PostgreSQL is not installed under /usr/lib/postgresql and apt-get could not install it'
        : 'PostgreSQL is not installed under /usr/lib/postgresql, and the tests do not run as root to install it (sudo apt-get install -y postgresql)',
    };
  } else if (isRoot() && !postgresUser()) {
    found = {
      missing: `there is no "postgres" user to run ${binDir}/postgres as (it refuses root)`,
    };
  } else {
    found = { binDir };
  }
  return found;
}

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** One throwaway PostgreSQL server, and databases on it. */
export interface PostgresCluster {
  readonly port: number;
  /** The URL of `database` on this cluster. */
  url(database: string): string;
  /** Creates `name`, empty or as a copy of `template`; returns its URL. */
  createDatabase(name: string, template?: string): Promise<string>;
  /** Drops `name`, ending the connections still open to it. */
  dropDatabase(name: string): Promise<void>;
  /** Stops the server at once (it is never started again) and removes its directory. */
  stop(): Promise<void>;
  /** Stops the server but keeps its directory, as a server going away would. */
  kill(): Promise<void>;
}

/** Starts a fresh cluster; `binDir` from findPostgres. */
export async function startPostgresCluster(binDir: string): Promise<PostgresCluster> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-postgres-'));
  const user = isRoot() ? postgresUser() : undefined;
  if (user) fs.chownSync(root, user.uid, user.gid);
  const data = path.join(root, 'data');
  const run = (tool: string, args: string[]): void => {
    const command = path.join(binDir, tool);
    const result = user
      ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8' })
      : spawnSync(command, args, { encoding: 'utf8' });
    if (result.status !== 0) {
      const log = path.join(root, 'server.log');
      throw new Error(
        `${tool} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}` +
          (fs.existsSync(log) ? `\n${fs.readFileSync(log, 'utf8').slice(-2000)}` : ''),
      );
    }
  };
  run('initdb', [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'postgres',
    '-E',
    'UTF8',
    '--no-locale',
    '--no-sync',
  ]);
  const port = await freePort();
  const settings = [
    `-c listen_addresses=127.0.0.1`,
    `-p ${port}`,
    `-k ${root}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
  ].join(' ');
  let running = false;
  const halt = (): void => {
    if (!running) return;
    running = false;
    try {
      run('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w']);
    } catch {
      // Already gone.
    }
  };
  const onExit = (): void => {
    halt();
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    run('pg_ctl', ['start', '-D', data, '-l', path.join(root, 'server.log'), '-w', '-o', settings]);
    running = true;
    // A test process that ends without afterAll (a crash) still takes its server down.
    process.once('exit', onExit);
  } catch (error) {
    fs.rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const admin = async <T>(work: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ connectionString: url('postgres') });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  const quoted = (name: string): string => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
    return `"${name}"`;
  };
  return {
    port,
    url,
    async createDatabase(name, template) {
      await admin((c) =>
        c.query(
          `create database ${quoted(name)}${template ? ` template ${quoted(template)}` : ''}`,
        ),
      );
      return url(name);
    },
    async dropDatabase(name) {
      await admin((c) => c.query(`drop database if exists ${quoted(name)} with (force)`));
    },
    async kill() {
      halt();
    },
    async stop() {
      process.removeListener('exit', onExit);
      onExit();
    },
  };
}

/**
 * Declares `suite` under `title` with a cluster of its own, started before
 * its first case and removed after its last; `cluster()` gives it to the
 * cases. Without PostgreSQL the suite is skipped, saying why, or fails when
 * CUSTODIAN_REQUIRE_POSTGRES=1.
 */
export function describeWithPostgres(
  title: string,
  suite: (cluster: () => PostgresCluster) => void,
): void {
  const where = findPostgres();
  if ('missing' in where) {
    if (REQUIRE_POSTGRES) {
      describe(title, () => {
        it('has PostgreSQL to run on (CUSTODIAN_REQUIRE_POSTGRES=1)', () => {
          throw new Error(`CUSTODIAN_REQUIRE_POSTGRES=1, but ${where.missing}.`);
        });
      });
      return;
    }
    console.warn(
      `\n*** SKIPPED: ${title}: ${where.missing}. ` +
        'These PostgreSQL tests did not run; set CUSTODIAN_REQUIRE_POSTGRES=1 to make this a failure. ***\n',
    );
    describe.skip(`${title} (SKIPPED: ${where.missing})`, () => {
      suite(() => {
        throw new Error(where.missing);
      });
    });
    return;
  }
  describe(title, () => {
    let cluster: PostgresCluster | undefined;
    beforeAll(async () => {
      cluster = await startPostgresCluster(where.binDir);
    }, 120_000);
    afterAll(async () => {
      await cluster?.stop();
    });
    suite(() => {
      if (!cluster) throw new Error('the PostgreSQL cluster has not started');
      return cluster;
    });
  });
}

/**
 * A new database of `cluster`, migrated and carrying the tests' site ID, so
 * that the credentials the tests derive for that ID fit a site started on it.
 */
export async function createSiteDatabase(
  cluster: Pick<PostgresCluster, 'createDatabase'>,
  name: string,
): Promise<string> {
  const url = await cluster.createDatabase(name);
  const given = await openPostgres(url, { log: () => undefined });
  await given.db.insertInto('site_meta').values({ key: 'site_id', value: TEST_SITE_ID }).execute();
  await given.close();
  return url;
}
