import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import type { SiteInfo } from '../../src/core/contract';
import type { SiteConfig } from './config';
import { seedDemoAccounts } from './demo';
import { IdentityService } from './domain/identity';
import type { Clock } from './domain/ports';
import { installErrorHandling } from './http/errors';
import { serveConsole } from './http/console';
import { installSecurityHeaders } from './http/security';
import { authRoutes } from './http/routes/auth';
import { siteRoutes } from './http/routes/site';
import { userRoutes } from './http/routes/users';
import { openDatabase, type OpenDatabase } from './persistence/database';
import {
  SqliteAlertRepository,
  SqliteSessionRepository,
  SqliteSignInFailureRepository,
  SqliteUserRepository,
} from './persistence/sqlite-identity';
import { nodeRandom, systemClock } from './platform/node-random';
import { scryptHasher } from './platform/scrypt-hasher';
import { SITE_VERSION } from './version';

/** JSON bodies are small; chunk uploads get their own limit per route. */
export const JSON_BODY_LIMIT = 64 * 1024;

export class StartupError extends Error {
  override readonly name = 'StartupError';
}

export interface Site {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly info: SiteInfo;
  readonly identity: IdentityService;
  readonly database: OpenDatabase;
  readonly demoAccountsCreated: readonly string[];
  readonly consoleServed: boolean;
  close(): Promise<void>;
}

export interface SiteOptions {
  readonly clock?: Clock;
  /** Tests pass false to keep their output readable. */
  readonly logger?: boolean;
}

async function siteId(database: OpenDatabase): Promise<string> {
  const row = await database.db
    .selectFrom('site_meta')
    .select('value')
    .where('key', '=', 'site_id')
    .executeTakeFirst();
  if (row) return row.value;
  const id = randomUUID();
  await database.db.insertInto('site_meta').values({ key: 'site_id', value: id }).execute();
  return id;
}

/** Opens the data directory, builds the HTTP API and starts listening. */
export async function startSite(config: SiteConfig, options: SiteOptions = {}): Promise<Site> {
  const database = await openDatabase(config.dataDir);
  try {
    const clock = options.clock ?? systemClock;
    const info: SiteInfo = {
      siteId: await siteId(database),
      name: config.siteName,
      version: SITE_VERSION,
      demo: config.demo,
    };
    const users = new SqliteUserRepository(database.db);
    const identity = new IdentityService({
      users,
      sessions: new SqliteSessionRepository(database.db),
      failures: new SqliteSignInFailureRepository(database.db),
      alerts: new SqliteAlertRepository(database.db),
      hasher: scryptHasher,
      clock,
      random: nodeRandom,
      siteId: info.siteId,
      sessionTtlMs: config.sessionTtlMs,
      lockout: config.lockout,
    });

    const demoAccountsCreated = config.demo ? await seedDemoAccounts(identity, users) : [];
    if (!config.demo && (await users.countWithRole('admin')) === 0) {
      throw new StartupError(
        'This site has no administrator yet. Create one with:\n  npm run site -- create-admin --user <id> --name "<display name>"\n(or start in demo mode with CUSTODIAN_DEMO=1).',
      );
    }

    const tls = Boolean(config.tlsCert && config.tlsKey);
    const app = Fastify({
      logger:
        options.logger === false
          ? false
          : { level: config.logLevel, redact: ['req.headers.cookie'] },
      genReqId: () => randomUUID(),
      bodyLimit: JSON_BODY_LIMIT,
      trustProxy: false,
      ...(tls
        ? {
            https: { cert: fs.readFileSync(config.tlsCert!), key: fs.readFileSync(config.tlsKey!) },
          }
        : {}),
    });
    // The API speaks JSON only; other bodies are refused with 415, not guessed at.
    app.removeContentTypeParser('text/plain');
    installErrorHandling(app);
    installSecurityHeaders(app, tls);
    await app.register(fastifyCookie);
    const ctx = { identity };
    siteRoutes(app, ctx, info);
    authRoutes(app, ctx, { secure: tls });
    userRoutes(app, ctx);
    const consoleServed = await serveConsole(app, config.consoleDir);

    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
    return {
      app,
      url,
      info,
      identity,
      database,
      demoAccountsCreated,
      consoleServed,
      async close() {
        await app.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}
