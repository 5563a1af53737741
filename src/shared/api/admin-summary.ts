import { apiRoutes, siteSummarySchema, type SiteSummary } from '@/core/contract';
import { request } from './request';

export function fetchSiteSummary(signal?: AbortSignal): Promise<SiteSummary> {
  return request({ route: apiRoutes.adminSummary, schema: siteSummarySchema, signal });
}
