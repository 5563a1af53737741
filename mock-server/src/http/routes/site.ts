import type { FastifyInstance } from 'fastify';
import { apiRoutes } from '../../../../src/core/contract';
import { registerRoute, type RouteContext } from '../access';

export function siteRoutes(app: FastifyInstance, ctx: RouteContext): void {
  registerRoute(app, ctx, apiRoutes.health, async () => ({
    status: 'ok',
    version: ctx.info.version,
  }));
  registerRoute(app, ctx, apiRoutes.site, async () => ctx.info);
}
