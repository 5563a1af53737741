import type { FastifyInstance } from 'fastify';
import { apiRoutes, type ServerEvent } from '../../../../src/core/contract';
import { follow } from '../../domain/events';
import { contentSecurityPolicy } from '../security';
import {
  authorize,
  bearerToken,
  principalOf,
  SESSION_COOKIE,
  type ApiRequest,
  type RouteContext,
} from '../router';

/**
 * The one Server-Sent Events stream per tab (AL-2): alerts for
 * administrators, and whatever later features address to this user, with
 * heartbeats. Never compressed (no compression is installed). The session
 * and its roles are checked again before every event, and at once when the
 * account changes, so a revoked session or a removed role stops hearing.
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
        method: request.method,
        path: apiRoutes.events.path,
      };
      await authorize(apiRoutes.events, api, ctx);
      const principal = principalOf(api);
      const token = bearerToken(api) ?? request.cookies[SESSION_COOKIE];

      // Headers set before (CORS for a trusted site's console, MS-1) go out with the stream.
      const earlier = Object.fromEntries(
        Object.entries(reply.getHeaders()).filter(([name]) =>
          /^(access-control-|vary$)/.test(name),
        ),
      ) as Record<string, string>;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        ...earlier,
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

      const following = follow(ctx.events, {
        current: async () => {
          const now = await ctx.identity.authenticate(token);
          ctx.identity.requirePasswordChanged(now);
          return now.user;
        },
        send,
        end: () => end(),
      });
      // A sign-out, ended sessions or changed roles of this user are checked at once.
      const unwatch = ctx.identity.onAccountChange((userId) => {
        if (userId === principal.user.userId) following.deliver();
      });
      const heartbeat = setInterval(() => {
        following.deliver(() => ({ type: 'heartbeat', at: ctx.clock.now().toISOString() }));
      }, ctx.heartbeatMs);
      const end = (): void => {
        clearInterval(heartbeat);
        following.stop();
        unwatch();
        open.delete(end);
        res.end();
      };
      open.add(end);
      res.on('close', end);
    },
  });
}
