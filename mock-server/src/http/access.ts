import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CSRF_HEADER, CSRF_HEADER_VALUE, type RouteEntry } from '../../../src/core/contract';
import { DomainError } from '../domain/errors';
import type { Principal } from '../domain/identity';
import type { AlertMailer } from '../platform/alert-mailer';
import type { SiteServices } from '../services';

export const SESSION_COOKIE = 'custodian_session';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface RouteContext extends SiteServices {
  readonly mailer: AlertMailer | undefined;
  readonly heartbeatMs: number;
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** A signed-in principal, checked by the route's access rule. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new DomainError('not_signed_in', 'Sign in first.', 401);
  return request.principal;
}

/**
 * Registers a route from its contract entry, so the access rule and the CSRF
 * requirement come from the one route table (ID-2) rather than from each
 * handler; the authorization matrix test reads the same table.
 */
export function registerRoute(
  app: FastifyInstance,
  ctx: RouteContext,
  entry: RouteEntry,
  handler: Handler,
  options: { bodyLimit?: number } = {},
): void {
  app.route({
    method: entry.method,
    url: entry.path,
    ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
    preHandler: async (request) => {
      if (entry.csrf && request.headers[CSRF_HEADER] !== CSRF_HEADER_VALUE) {
        throw new DomainError(
          'csrf_required',
          `State-changing calls must carry the header ${CSRF_HEADER}: ${CSRF_HEADER_VALUE}.`,
          403,
        );
      }
      if (entry.access === 'public') return;
      const principal = await ctx.identity.authenticate(request.cookies[SESSION_COOKIE]);
      if (
        Array.isArray(entry.access) &&
        !entry.access.some((role) => principal.user.roles.includes(role))
      ) {
        throw new DomainError(
          'forbidden',
          'Your account does not have the role needed for this.',
          403,
        );
      }
      request.principal = principal;
    },
    handler,
  });
}
