import {
  apiRoutes,
  sitePreviewRequestSchema,
  trustedSitePathSchema,
  trustSiteRequestSchema,
  withdrawTrustRequestSchema,
  type SiteCheck,
  type SiteDirectory,
  type SiteList,
  type SitePreview,
} from '../../../../src/core/contract';
import type { SiteAdministrator } from '../../domain/sites/trust';
import { parseWith } from '../errors';
import { type ApiRequest, type RouteContext, type Router, principalOf } from '../router';

/** The signed-in administrator as the trust rules see them (from the session, ID-2). */
function administrator(request: ApiRequest): SiteAdministrator {
  const { user } = principalOf(request);
  return { userId: user.userId, roles: user.roles, clientAddress: request.ip };
}

function siteIdOf(request: ApiRequest): string {
  return parseWith(trustedSitePathSchema, request.params, 'site ID').siteId;
}

/** The Sites page (MS-1): this site, the sites it trusts, and trusting and withdrawing. */
export function siteTrustRoutes(router: Router, ctx: RouteContext): void {
  router.route(apiRoutes.siteDirectory, async (): Promise<SiteDirectory> => {
    const { trusted } = await ctx.sites.list();
    return {
      sites: trusted
        .filter((site) => site.refusedFingerprint === null)
        .map(({ siteId, name, url, fingerprint }) => ({ siteId, name, url, fingerprint })),
    };
  });
  router.route(apiRoutes.adminListSites, async (): Promise<SiteList> => ctx.sites.list());

  router.route(apiRoutes.adminPreviewSite, async (request): Promise<SitePreview> => {
    const { url } = parseWith(sitePreviewRequestSchema, request.body);
    return ctx.sites.preview(administrator(request), url);
  });

  router.route(apiRoutes.adminTrustSite, async (request, reply) => {
    const { url, fingerprint, reason } = parseWith(trustSiteRequestSchema, request.body);
    const site = await ctx.sites.trust(administrator(request), url, fingerprint, reason);
    void reply.status(201);
    return { site };
  });

  router.route(apiRoutes.adminWithdrawSite, async (request) => {
    const siteId = siteIdOf(request);
    const { reason } = parseWith(withdrawTrustRequestSchema, request.body);
    return { withdrawn: await ctx.sites.withdraw(administrator(request), siteId, reason) };
  });

  router.route(apiRoutes.adminCheckSite, async (request): Promise<SiteCheck> =>
    ctx.sites.check(siteIdOf(request)),
  );
}
