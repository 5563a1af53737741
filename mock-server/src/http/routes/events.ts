import type { FastifyInstance } from 'fastify';
import { apiRoutes, type ServerEvent } from '../../../../src/core/contract';
import type { Audience } from '../../domain/events';
import { contentSecurityPolicy } from '../security';
import {
  authorize,
  principalOf,
  SESSION_COOKIE,
  type ApiRequest,
  type RouteContext,
} from '../router';

/**
 * The one Server-Sent Events stream per tab (AL-2): alerts for
 * administrators, and whatever later features address to this user, with
 * heartbeats. Never compressed (no compression is installed), and the
 * session is checked again at every heartbeat so a revoked session stops
 * hearing anything.
 */
export function eventRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const open = new Set<() => void>();
  // Streams never end by themselves: end them so the site can shut down.
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });

  app.route({
    method: apiRoutes.events.method,
    url: apiRoutes.events.path,
    handler: async (request, reply) => {
      const api: ApiRequest = {
        params: request.params,
        query: request.query,
        body: undefined,
        headers: request.headers,
        ip: request.ip,
        cookies: request.cookies,
      };
      await authorize(apiRoutes.events, api, ctx);
      const principal = principalOf(api);
      const isAdmin = principal.user.roles.includes('admin');
      const hears = (audience: Audience): boolean =>
        audience.kind === 'admins' ? isAdmin : isAdmin || audience.userId === principal.user.userId;

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
        'content-security-policy': contentSecurityPolicy(),
        'x-request-id': request.id,
      });
      const send = (event: ServerEvent): void => {
        res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      };
      send({ type: 'hello', userId: principal.user.userId, at: ctx.clock.now().toISOString() });

      const unsubscribe = ctx.events.subscribe((event, audience) => {
        if (hears(audience)) send(event);
      });
      const heartbeat = setInterval(() => {
        ctx.identity.authenticate(request.cookies[SESSION_COOKIE]).then(
          () => send({ type: 'heartbeat', at: ctx.clock.now().toISOString() }),
          () => res.end(),
        );
      }, ctx.heartbeatMs);
      const end = (): void => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(end);
        res.end();
      };
      open.add(end);
      res.on('close', end);
    },
  });
}
