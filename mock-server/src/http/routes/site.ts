import { apiRoutes } from '../../../../src/core/contract';
import { type RouteContext, type Router } from '../router';

export function siteRoutes(router: Router, ctx: RouteContext): void {
  router.route(apiRoutes.health, async () => ({
    status: 'ok',
    version: ctx.info.version,
  }));
  router.route(apiRoutes.site, async () => ctx.info);
}
