import type { FastifyInstance } from 'fastify';
import { apiRoutes, type SiteInfo } from '../../../../src/core/contract';
import { registerRoute, type RouteContext } from '../access';

export function siteRoutes(app: FastifyInstance, ctx: RouteContext, site: SiteInfo): void {
  registerRoute(app, ctx, apiRoutes.health, async () => ({ status: 'ok', version: site.version }));
  registerRoute(app, ctx, apiRoutes.site, async () => site);
}
