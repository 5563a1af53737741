import { apiRoutes, type Health } from '../../../../src/core/contract';
import { type RouteContext, type Router } from '../router';

export function siteRoutes(router: Router, ctx: RouteContext): void {
  // Database, disk and blob store, so a monitor or a container's health check sees a site that cannot work.
  router.route(apiRoutes.health, async (_request, reply): Promise<Health> => {
    if (!ctx.operations) return { status: 'ok', version: ctx.info.version };
    const report = await ctx.operations.health();
    if (report.status === 'failing') reply.status(503);
    return report;
  });
  router.route(apiRoutes.site, async () => ctx.info);
}
