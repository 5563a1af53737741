import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import { publicOrigin, type SiteConfig } from './config';
import { seedDemoAccounts, type DeriveCredential } from './demo';
import { armHoldPoint } from './domain/escrow/hold-points';
import type { Clock, PasswordHasher } from './domain/ports';
import { installErrorHandling } from './http/errors';
import { serveConsole } from './http/console';
import { installCrossOrigin } from './http/cross-origin';
import { installSecurityHeaders } from './http/security';
import { registerApi } from './http/api';
import { fastifyRouter } from './http/fastify-router';
import { eventRoutes } from './http/routes/events';
import { installMetrics } from './http/metrics';
import { startEventRelay, type EventRelay } from './persistence/event-relay';
import { openSiteDatabase, type SiteDatabase } from './persistence/site-database';
import { AlertMailer } from './platform/alert-mailer';
import { systemClock } from './platform/node-random';
import { composeServices, siteOperations, type SiteServices } from './services';

/** JSON bodies are small; chunk uploads get their own limit per route. */
export const JSON_BODY_LIMIT = 64 * 1024;

/**
 * A volume ID may be 1024 bytes of UTF-8 (docs/FORMAT.md §1), up to three
 * times that once percent-encoded in a path. The router allows as much as
 * Node's HTTP parser lets through, so the route's schema decides and a
 * too-long ID gets 400 {code, message} rather than the router's bare 414.
 */
export const MAX_PARAM_LENGTH = 16 * 1024;

export class StartupError extends Error {
  override readonly name = 'StartupError';
}

export interface Site extends SiteServices {
  readonly app: FastifyInstance;
  /** Where the site listens. */
  readonly url: string;
  /** The origin of its own console (CUSTODIAN_PUBLIC_URL, else its loopback address). */
  readonly publicUrl: string;
  /** SQLite in the data directory, or PostgreSQL (CUSTODIAN_DATABASE_URL). */
  readonly database: SiteDatabase;
  readonly mailer: AlertMailer | undefined;
  readonly demoAccountsCreated: readonly string[];
  readonly consoleServed: boolean;
  /** Every API route the site serves, for the authorization matrix test. */
  readonly apiRoutesServed: readonly { method: string; url: string }[];
  close(): Promise<void>;
}

export interface SiteOptions {
  readonly clock?: Clock;
  /** Tests pass false to keep their output readable. */
  readonly logger?: boolean;
  /** Interval of event-stream heartbeats. */
  readonly heartbeatMs?: number;
  /** Interval of the gap and claim checks. */
  readonly housekeepingMs?: number;
  /** Interval of the look for records whose expiry comes within the notice period. */
  readonly expiryNoticeMs?: number;
  /** Interval of the contacts with trusted sites (MS-1). */
  readonly siteContactMs?: number;
  /**
   * How demo accounts' credentials are derived (MS-2); tests pass one that
   * remembers them, so that each site they start does not spend seconds on it.
   */
  readonly deriveCredential?: DeriveCredential;
  /** How credentials' verifiers are made; tests pass a cheaper scrypt than the site's. */
  readonly hasher?: PasswordHasher;
}

/** How often the site looks for records whose expiry comes within the notice period. */
export const EXPIRY_NOTICE_MS = 10 * 60_000;

/** How often the site contacts the sites it trusts, to see that they answer with their pinned keys. */
export const SITE_CONTACT_MS = 60_000;

/** Opens the data directory, builds the HTTP API and starts listening. */
export async function startSite(config: SiteConfig, options: SiteOptions = {}): Promise<Site> {
  const database = await openSiteDatabase(config, { lock: true });
  let app: FastifyInstance | undefined;
  let mailer: AlertMailer | undefined;
  let relay: EventRelay | undefined;
  try {
    const clock = options.clock ?? systemClock;
    const tls = Boolean(config.tlsCert && config.tlsKey);
    app = Fastify({
      logger:
        options.logger === false
          ? false
          : { level: config.logLevel, redact: ['req.headers.cookie'] },
      genReqId: () => randomUUID(),
      bodyLimit: JSON_BODY_LIMIT,
      trustProxy: false,
      routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
      // HEAD routes are declared where they mean something (chunk presence).
      exposeHeadRoutes: false,
      // Requests Node's HTTP parser cannot read still get {code, message}.
      clientErrorHandler: (error, socket) => {
        if (!socket.writable) return socket.destroy(error);
        const body = JSON.stringify({
          code: 'invalid_request',
          message: 'The request could not be read as HTTP.',
        });
        socket.end(
          `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      },
      ...(tls
        ? {
            https: { cert: fs.readFileSync(config.tlsCert!), key: fs.readFileSync(config.tlsKey!) },
          }
        : {}),
    });
    const log = app.log;
    mailer = config.mail
      ? new AlertMailer(
          config.mail,
          (message, error) => log.warn({ err: error }, message),
          config.siteName,
        )
      : undefined;
    // A port of 0 is chosen when the site listens; until then the configured one stands.
    let publicUrl = publicOrigin(config);
    const services = await composeServices(
      config,
      database,
      clock,
      mailer ? [mailer] : [],
      (m) => log.info(m),
      () => publicUrl,
      options.hasher,
    );

    // SX-2: on PostgreSQL, several instances may serve the site; their events reach each other's streams.
    if (database.kind === 'postgresql' && config.databaseUrl !== undefined)
      relay = await startEventRelay(config.databaseUrl, database.db, services.events, {
        log: (m) => log.warn(m),
        accounts: services.identity,
      });

    // Crash tests hold the site inside a decision (hold-points.ts); unset, nothing is armed.
    armHoldPoint(process.env['CUSTODIAN_HOLD_AT'], (line) => process.stdout.write(line));
    // Transfers stored but not applied when the site last stopped are applied now.
    await services.transfers.applyStored();

    const demoAccountsCreated = config.demo
      ? await seedDemoAccounts(services, {
          onExisting: config.demoOnExisting,
          deriveCredential: options.deriveCredential,
        })
      : [];
    if (!config.demo && (await services.users.countWithRole('admin')) === 0) {
      throw new StartupError(
        'This site has no administrator yet. Create one with:\n  npm run site -- create-admin --user <id> --name "<display name>"\n(or start in demo mode with CUSTODIAN_DEMO=1).',
      );
    }

    // The API speaks JSON only; other bodies are refused with 415, not guessed at.
    app.removeContentTypeParser('text/plain');
    installErrorHandling(app);
    installSecurityHeaders(app, tls);
    // Before the cookie parser: a trusted site's page gets no cookies read (MS-1).
    installCrossOrigin(app, { ...services, publicUrl: () => publicUrl });
    await app.register(fastifyCookie);
    const apiRoutesServed: { method: string; url: string }[] = [];
    app.addHook('onRoute', (route) => {
      if (!route.url.startsWith('/api/')) return;
      for (const method of [route.method].flat()) apiRoutesServed.push({ method, url: route.url });
    });
    const ctx = {
      ...services,
      mailer,
      heartbeatMs: options.heartbeatMs ?? 15_000,
      secureCookies: tls,
      operations: siteOperations(config, database, services.blobStorage),
    };
    registerApi(fastifyRouter(app, ctx), ctx);
    eventRoutes(app, ctx);
    installMetrics(app, ctx.operations, config.metricsToken);
    const consoleServed = await serveConsole(app, config.consoleDir, () =>
      services.sites.consoleOrigins(),
    );

    // Housekeeping: gaps that waited too long (RC-3) and claims past their time-to-live (BK-8).
    const housekeeping = setInterval(() => {
      void services.pairs
        .checkGaps()
        .catch((error: unknown) => log.warn({ err: error }, 'gap check failed'));
      void services.volumes
        .collectExpiredClaims()
        .catch((error: unknown) => log.warn({ err: error }, 'claim collection failed'));
    }, options.housekeepingMs ?? 5_000);
    housekeeping.unref();
    // The one notice before a record's expiry: looked for at start and then now and then.
    const noticeExpiring = () =>
      void services.records
        .noticeExpiring(config.expiryNoticeDays)
        .catch((error: unknown) => log.warn({ err: error }, 'expiry notice failed'));
    const expiryNotices = setInterval(noticeExpiring, options.expiryNoticeMs ?? EXPIRY_NOTICE_MS);
    expiryNotices.unref();
    // MS-1: trusted sites are contacted now and then; a changed key is refused and alerted.
    const contacts = setInterval(() => {
      void services.sites
        .contactAll()
        .catch((error: unknown) => log.warn({ err: error }, 'contact with trusted sites failed'));
    }, options.siteContactMs ?? SITE_CONTACT_MS);
    contacts.unref();
    app.addHook('onClose', async () => {
      clearInterval(housekeeping);
      clearInterval(contacts);
      clearInterval(expiryNotices);
    });

    await app.listen({ port: config.port, host: config.host });
    noticeExpiring();
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
    publicUrl = publicOrigin(config, port);
    const started = app;
    return {
      ...services,
      app: started,
      url,
      publicUrl,
      database,
      mailer,
      demoAccountsCreated,
      consoleServed,
      apiRoutesServed,
      async close() {
        await started.close();
        await relay?.close();
        await mailer?.close();
        services.blobStorage.close();
        await database.close();
      },
    };
  } catch (error) {
    await app?.close();
    await relay?.close();
    await mailer?.close();
    await database.close();
    throw error;
  }
}
