import {
  apiRoutes,
  healthSchema,
  siteInfoSchema,
  type Health,
  type SiteInfo,
} from '@/core/contract';
import { request } from './request';

export function fetchHealth(): Promise<Health> {
  return request({ route: apiRoutes.health, schema: healthSchema });
}

export function fetchSiteInfo(): Promise<SiteInfo> {
  return request({ route: apiRoutes.site, schema: siteInfoSchema });
}
