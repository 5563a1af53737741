import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { SiteInfo } from '../../../src/core/contract';
import { startSite, type Site } from '../../src/app';
import { loadConfig, type SiteConfig } from '../../src/config';
import type { Clock } from '../../src/domain/ports';
import { openDatabase, type OpenDatabase } from '../../src/persistence/database';
import { createScryptHasher } from '../../src/platform/scrypt-hasher';
import { credentialFor, TEST_SITE_ID } from './credentials';

/**
 * Credentials' verifiers at scrypt N = 2^10 instead of the site's 2^15: each
 * site a test starts makes seven of them, and each sign-in checks one, which
 * at the site's cost is over a second per site started. The site's own cost
 * is held by site-credentials.test.ts.
 */
const testHasher = createScryptHasher(1 << 10);

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(private current = new Date('2026-11-21T12:00:00Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/** A site on SQLite in its data directory: the site every test starts with startTestSite. */
export type SqliteSite = Site & { readonly database: OpenDatabase };

function onSqlite(site: Site): site is SqliteSite {
  return site.database.kind === 'sqlite';
}

export interface TestSite {
  readonly site: SqliteSite;
  readonly dataDir: string;
  readonly config: SiteConfig;
  restart(): Promise<TestSite>;
  stop(): Promise<void>;
}

/**
 * A real site on a random loopback port with a fresh data directory. A fresh
 * directory's site gets the ID `siteId` (default TEST_SITE_ID) rather than a
 * random one, and its demo accounts' credentials come from the test process's
 * cache, so that starting a site does not derive them again.
 */
export async function startTestSite(
  options: {
    clock?: Clock;
    demo?: boolean;
    dataDir?: string;
    env?: NodeJS.ProcessEnv;
    heartbeatMs?: number;
    /** A fixed port, so that a restarted site answers at the same address; default: any free one. */
    port?: number;
    /** Interval of the contacts with trusted sites (MS-1). */
    siteContactMs?: number;
    /** A built console to serve; default: none, the API only. */
    consoleDir?: string;
    siteId?: string;
  } = {},
): Promise<TestSite> {
  // The master key sits beside, not inside, the data directory (ES-4).
  const root = options.dataDir
    ? path.dirname(options.dataDir)
    : fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-site-'));
  const dataDir = options.dataDir ?? path.join(root, 'data');
  if (!options.dataDir) await giveSiteId(dataDir, options.siteId ?? TEST_SITE_ID);
  const config = loadConfig(
    [
      '--port',
      String(options.port ?? 0),
      '--data-dir',
      dataDir,
      '--console-dir',
      options.consoleDir ?? path.join(root, 'no-console'),
    ],
    {
      CUSTODIAN_DEMO: options.demo === false ? '0' : '1',
      CUSTODIAN_MASTER_KEY_FILE: path.join(root, 'secrets', 'master.key'),
      ...options.env,
    },
  );
  const site = await startSite(config, {
    clock: options.clock,
    logger: false,
    deriveCredential: credentialFor,
    hasher: testHasher,
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.siteContactMs ? { siteContactMs: options.siteContactMs } : {}),
  });
  if (!onSqlite(site)) {
    await site.close();
    throw new Error(
      'startTestSite starts sites on SQLite; start a PostgreSQL site with startSite.',
    );
  }
  const handle: TestSite = {
    site,
    dataDir,
    config,
    async restart() {
      await site.close();
      return startTestSite({ ...options, dataDir });
    },
    stop: () => site.close(),
  };
  return handle;
}

/** Creates the site's database with this ID, as the site would have made it on its first start. */
async function giveSiteId(dataDir: string, siteId: string): Promise<void> {
  const database = await openDatabase(dataDir, { log: () => undefined });
  try {
    await database.db.insertInto('site_meta').values({ key: 'site_id', value: siteId }).execute();
  } finally {
    await database.close();
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  readonly json: unknown;
  readonly body: Buffer;
}

/**
 * A small HTTP client with a cookie jar that can choose its source address
 * on loopback (127.0.0.2, …), so lockout per address can be tested for real.
 */
export class Client {
  private cookies = new Map<string, string>();
  private siteIdAsked: Promise<string> | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly localAddress = '127.0.0.1',
  ) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  setCookie(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  request(
    method: string,
    urlPath: string,
    options: {
      json?: unknown;
      raw?: string | Buffer;
      headers?: Record<string, string>;
      csrf?: boolean;
    } = {},
  ): Promise<HttpAnswer> {
    const url = new URL(urlPath, this.baseUrl);
    const headers: Record<string, string> = { ...options.headers };
    let body: string | Buffer | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    } else if (options.raw !== undefined) {
      body = options.raw;
    }
    if (options.csrf !== false && method !== 'GET' && method !== 'HEAD')
      headers['x-custodian-csrf'] ??= '1';
    if (this.cookies.size) headers.cookie = this.cookieHeader;
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method, headers, localAddress: this.localAddress }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          for (const line of res.headers['set-cookie'] ?? []) {
            const [pair] = line.split(';');
            const [name, ...value] = (pair ?? '').split('=');
            if (!name) continue;
            const v = value.join('=');
            if (v === '' || /expires=thu, 01 jan 1970/i.test(line))
              this.cookies.delete(name.trim());
            else this.cookies.set(name.trim(), v);
          }
          const raw = Buffer.concat(parts);
          const text = raw.toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, body: raw });
        });
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /**
   * Signs in as a console does (MS-2): the site's ID from `GET /api/site`,
   * the password's credential for that site, and only the credential sent;
   * `headers` as a browser adds them, e.g. the Origin of another site's console.
   */
  async signIn(
    userId: string,
    password = `custodian-${userId}`,
    headers: Record<string, string> = {},
  ): Promise<HttpAnswer> {
    const credential = await this.credential(password);
    return this.request('POST', '/api/auth/login', { json: { userId, credential }, headers });
  }

  /** Changes the signed-in user's password as a console does: both as credentials (MS-2). */
  async changePassword(currentPassword: string, newPassword: string): Promise<HttpAnswer> {
    return this.request('POST', '/api/auth/password', {
      json: {
        currentCredential: await this.credential(currentPassword),
        newCredential: await this.credential(newPassword),
      },
    });
  }

  /** The credential a console derives from `password` for this site (MS-2, FORMAT.md §15). */
  async credential(password: string): Promise<string> {
    return credentialFor(password, await this.siteId());
  }

  /** The ID the site at this address gives (GET /api/site), asked once. */
  siteId(): Promise<string> {
    this.siteIdAsked ??= this.request('GET', '/api/site').then((answer) => {
      if (answer.status !== 200) {
        this.siteIdAsked = undefined;
        throw new Error(`the site did not say its ID (${answer.status}): ${answer.text}`);
      }
      return (answer.json as SiteInfo).siteId;
    });
    return this.siteIdAsked;
  }
}
