import type { RouteContext, Router } from './router';
import { adminSiteRoutes } from './routes/admin-site';
import { alertRoutes } from './routes/alerts';
import { auditRoutes } from './routes/audit';
import { authRoutes } from './routes/auth';
import { pairRoutes } from './routes/pairs';
import { recordRoutes } from './routes/records';
import { siteRoutes } from './routes/site';
import { siteTrustRoutes } from './routes/sites';
import { userRoutes } from './routes/users';
import { volumeRoutes } from './routes/volumes';

/**
 * Every route of the API but the event stream, on any router: the site's
 * Fastify server and the in-browser demo site register the same handlers.
 */
export function registerApi(router: Router, ctx: RouteContext): void {
  siteRoutes(router, ctx);
  authRoutes(router, ctx);
  userRoutes(router, ctx);
  adminSiteRoutes(router, ctx);
  siteTrustRoutes(router, ctx);
  alertRoutes(router, ctx);
  auditRoutes(router, ctx);
  volumeRoutes(router, ctx);
  recordRoutes(router, ctx);
  pairRoutes(router, ctx);
}
