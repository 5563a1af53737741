import { CSRF_HEADER, CSRF_HEADER_VALUE, type RouteEntry } from '../../../src/core/contract';
import { DomainError } from '../domain/errors';
import type { Principal } from '../domain/identity';
import type { AlertMailer } from '../platform/alert-mailer';
import type { SiteOperations } from '../platform/site-operations';
import type { SiteServices } from '../site';

export const SESSION_COOKIE = 'custodian_session';

/**
 * The HTTP surface the API's handlers see, whatever carries it: Fastify for
 * the site, MSW for the in-browser demo. Handlers are written once against
 * these few members.
 */
export interface ApiRequest {
  readonly params: unknown;
  readonly query: unknown;
  readonly body: unknown;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly ip: string;
  readonly cookies: Record<string, string | undefined>;
  /** The method and path asked for, for the audit of a refusal. */
  readonly method: string;
  readonly path: string;
  /**
   * The origin of a trusted site's console calling across origins (MS-1),
   * set once the cross-origin check has let it through; undefined for the
   * site's own console. Such a console holds a bearer token, never a cookie.
   */
  readonly trustedOrigin?: string;
  principal?: Principal;
}

export interface CookieOptions {
  readonly httpOnly: boolean;
  readonly sameSite: 'strict';
  readonly secure: boolean;
  readonly path: string;
  readonly expires: Date;
}

/** Marks the answer as a file to save: `custodian-<name>.<format>`, CSV or JSON. */
export function asDownload(reply: ApiReply, name: string, format: 'csv' | 'json'): void {
  void reply
    .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
    .header('content-disposition', `attachment; filename="custodian-${name}.${format}"`);
}

export interface ApiReply {
  status(code: number): ApiReply;
  type(contentType: string): ApiReply;
  header(name: string, value: string): ApiReply;
  setCookie(name: string, value: string, options: CookieOptions): ApiReply;
  clearCookie(name: string, options: { path: string }): ApiReply;
  /** Sends a body now (binary, empty); otherwise the handler's return value is the JSON body. */
  send(payload?: Uint8Array | string): ApiReply;
}

export type Handler = (request: ApiRequest, reply: ApiReply) => Promise<unknown>;

export interface RouteOptions {
  readonly bodyLimit?: number;
  /** The body is raw application/octet-stream bytes (transfers). */
  readonly binaryBody?: boolean;
}

export interface Router {
  route(entry: RouteEntry, handler: Handler, options?: RouteOptions): void;
}

export interface RouteContext extends SiteServices {
  readonly mailer: AlertMailer | undefined;
  readonly heartbeatMs: number;
  /** Whether cookies must be Secure (the site serves HTTPS). */
  readonly secureCookies: boolean;
  /** Health and metrics of the data directory (absent on the in-browser site). */
  readonly operations?: SiteOperations;
}

/** A signed-in principal, checked by the route's access rule. */
export function principalOf(request: ApiRequest): Principal {
  if (!request.principal) throw new DomainError('not_signed_in', 'Sign in first.', 401);
  return request.principal;
}

/**
 * The route table decides, not the handler: the CSRF header for
 * state-changing calls, then the session, then whether its user still has to
 * change their password, then the role (ID-2). Sets
 * `request.principal` for the handler.
 */
export async function authorize(
  entry: RouteEntry,
  request: ApiRequest,
  ctx: RouteContext,
): Promise<void> {
  if (entry.csrf && request.headers[CSRF_HEADER] !== CSRF_HEADER_VALUE) {
    throw new DomainError(
      'csrf_required',
      `State-changing calls must carry the header ${CSRF_HEADER}: ${CSRF_HEADER_VALUE}.`,
      403,
    );
  }
  if (entry.access === 'public') return;
  const principal = await authenticate(request, ctx);
  if (!entry.beforePasswordChange) ctx.identity.requirePasswordChanged(principal);
  if (
    Array.isArray(entry.access) &&
    !entry.access.some((role) => principal.user.roles.includes(role))
  ) {
    throw new DomainError('forbidden', 'Your account does not have the role needed for this.', 403);
  }
  request.principal = principal;
}

/** The token of `Authorization: Bearer …`, if the request carries one. */
export function bearerToken(request: ApiRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return undefined;
  return header.slice('Bearer '.length).trim() || undefined;
}

/**
 * The session of a bearer token (a trusted site's console, MS-2) or of the
 * session cookie (this site's own console). A bearer token this site
 * refuses is audited, and alerted unless it merely expired: it was issued
 * by another site, forged, or replayed after its session ended.
 */
async function authenticate(request: ApiRequest, ctx: RouteContext): Promise<Principal> {
  const bearer = bearerToken(request);
  if (bearer === undefined) return ctx.identity.authenticate(request.cookies[SESSION_COOKIE]);
  try {
    return await ctx.identity.authenticate(bearer);
  } catch (error) {
    if (error instanceof DomainError) {
      const origin = request.headers.origin;
      await ctx.tokenRefusals.refused({
        origin: typeof origin === 'string' ? origin : undefined,
        method: request.method,
        path: request.path,
        clientAddress: request.ip,
        expired: error.code === 'session_expired',
      });
    }
    throw error;
  }
}
