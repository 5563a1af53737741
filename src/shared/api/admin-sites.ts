import {
  apiRoutes,
  siteCheckSchema,
  siteListSchema,
  sitePreviewSchema,
  trustSiteResponseSchema,
  withdrawTrustResponseSchema,
  type SiteCheck,
  type SiteList,
  type SitePreview,
  type TrustedSite,
  type TrustSiteRequest,
} from '@/core/contract';
import { request } from './request';

/** MS-1: this site and the sites it trusts. */
export function listSites(): Promise<SiteList> {
  return request({ route: apiRoutes.adminListSites, schema: siteListSchema });
}

/** What the site at `url` says about itself, fetched by this site; nothing is stored. */
export function previewSite(url: string): Promise<SitePreview> {
  return request({ route: apiRoutes.adminPreviewSite, body: { url }, schema: sitePreviewSchema });
}

/** Trusts the site at `url` if it still presents `fingerprint`, the one the administrator saw. */
export async function trustSite(body: TrustSiteRequest): Promise<TrustedSite> {
  return (await request({ route: apiRoutes.adminTrustSite, body, schema: trustSiteResponseSchema }))
    .site;
}

export async function withdrawTrust(siteId: string, reason: string): Promise<TrustedSite> {
  const answer = await request({
    route: apiRoutes.adminWithdrawSite,
    params: { siteId },
    body: { reason },
    schema: withdrawTrustResponseSchema,
  });
  return answer.withdrawn;
}

/** Contacts a trusted site now. */
export function checkSite(siteId: string): Promise<SiteCheck> {
  return request({ route: apiRoutes.adminCheckSite, params: { siteId }, schema: siteCheckSchema });
}
