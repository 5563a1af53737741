import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  BODY_SHA256_HEADER,
  CHUNK_EPOCH_HEADER,
  CIPHERTEXT_SHA256_HEADER,
  CSRF_HEADER,
  type ApiErrorBody,
} from '../../../src/core/contract';
import type { CrossOriginRefusals } from '../domain/sites/cross-origin';
import type { SiteTrust } from '../domain/sites/trust';

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
// Bearer tokens and JSON across sites; never cookies (MS-1), so no allow-credentials.
// A copy's transfers carry their body's hash (MS-3).
const ALLOWED_HEADERS = `authorization, content-type, ${CSRF_HEADER}, ${BODY_SHA256_HEADER}`;
/** What a copy's HEAD of a chunk reads from the answer: which blob the site holds. */
const EXPOSED_HEADERS = `${CIPHERTEXT_SHA256_HEADER}, ${CHUNK_EPOCH_HEADER}`;
const PREFLIGHT_MAX_AGE_S = 600;

/** The trusted site's origin a request was let through for (MS-1), kept on the request. */
const trustedOrigins = new WeakMap<FastifyRequest, string>();

/** The origin of the trusted site's console this request comes from; undefined for the site's own. */
export function trustedOriginOf(request: FastifyRequest): string | undefined {
  return trustedOrigins.get(request);
}

/** Host names by which a browser on the site's own machine reaches it. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether a browser's Origin is the site's own console: its public URL, or
 * that URL's port on this machine by any loopback name (localhost and
 * 127.0.0.1 are one site to the person at the keyboard, two origins to the browser).
 */
export function isOwnOrigin(origin: string, publicUrl: string): boolean {
  if (origin === publicUrl) return true;
  let asked: URL;
  let own: URL;
  try {
    asked = new URL(origin);
    own = new URL(publicUrl);
  } catch {
    return false;
  }
  return (
    asked.protocol === own.protocol &&
    asked.port === own.port &&
    LOOPBACK_NAMES.has(asked.hostname) &&
    LOOPBACK_NAMES.has(own.hostname)
  );
}

/**
 * CORS for exactly the consoles of the sites this site trusts (MS-1). A
 * call to the API from another origin's page is answered only when that
 * origin is a trusted site's address: with that exact origin allowed, never
 * `*` and never credentials, and with any cookie it carries ignored, so a
 * session of this site is never used from another site's page. Calls from
 * any other origin are refused (403), audited and alerted. Calls with no
 * Origin, or with the site's own, are left as they are.
 */
export function installCrossOrigin(
  app: FastifyInstance,
  ctx: {
    readonly publicUrl: () => string;
    readonly sites: Pick<SiteTrust, 'isTrustedOrigin'>;
    readonly crossOrigin: CrossOriginRefusals;
  },
): void {
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined || !request.url.startsWith('/api/')) return;
    if (isOwnOrigin(origin, ctx.publicUrl())) return;
    if (await ctx.sites.isTrustedOrigin(origin)) {
      void reply
        .header('access-control-allow-origin', origin)
        .header('access-control-expose-headers', EXPOSED_HEADERS)
        .header('vary', 'origin');
      delete request.headers.cookie;
      trustedOrigins.set(request, origin);
      if (request.method !== 'OPTIONS') return;
      return reply
        .status(204)
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_S))
        .send();
    }
    const path = request.url.split('?')[0] ?? request.url;
    await ctx.crossOrigin.refused({
      origin,
      method: request.method,
      path,
      clientAddress: request.ip,
    });
    const body: ApiErrorBody = {
      code: 'cross_origin_refused',
      message: `This site does not answer pages of ${origin.slice(0, 200)}: only its own console and those of the sites it trusts.`,
    };
    return reply.status(403).type('application/json; charset=utf-8').send(body);
  });
}
