import {
  acknowledgeAlertsResponseSchema,
  alertPageSchema,
  apiRoutes,
  type AlertFilter,
  type AlertPage,
  type AlertQuery,
} from '@/core/contract';
import { buildUrl, request } from './request';

/** AL-2: one page of alerts, newest first, with the site-wide unacknowledged count. */
export function listAlerts(query: Partial<AlertQuery>, signal?: AbortSignal): Promise<AlertPage> {
  return request({ route: apiRoutes.adminListAlerts, query, schema: alertPageSchema, signal });
}

export async function acknowledgeAlerts(ids: readonly number[]): Promise<number> {
  const answer = await request({
    route: apiRoutes.adminAcknowledgeAlerts,
    body: { ids: [...ids] },
    schema: acknowledgeAlertsResponseSchema,
  });
  return answer.acknowledged;
}

/** The CSV export is a plain download link: the session cookie goes with it. */
export function alertExportUrl(filter: AlertFilter): string {
  return buildUrl(apiRoutes.adminExportAlerts.path, {}, filter);
}
