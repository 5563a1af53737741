import type { FastifyInstance } from 'fastify';
import { apiRoutes } from '../../../../src/core/contract';
import { registerRoute, type RouteContext } from '../access';

export function userRoutes(app: FastifyInstance, ctx: RouteContext): void {
  registerRoute(app, ctx, apiRoutes.adminListUsers, async () => ({
    users: await ctx.identity.listUsers(),
  }));
  registerRoute(app, ctx, apiRoutes.listRestorers, async () => ({
    users: await ctx.identity.restorers(),
  }));
}
