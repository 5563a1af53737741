import {
  acknowledgeAlertsRequestSchema,
  alertFilterSchema,
  alertQuerySchema,
  apiRoutes,
  integrityReportSchema,
} from '../../../../src/core/contract';
import { toCsv } from '../../domain/alerts';
import { parseWith } from '../errors';
import { type RouteContext, type Router, principalOf } from '../router';

export function alertRoutes(router: Router, ctx: RouteContext): void {
  router.route(apiRoutes.adminListAlerts, async (request) =>
    ctx.alerts.list(parseWith(alertQuerySchema, request.query, 'query')),
  );

  router.route(apiRoutes.adminExportAlerts, async (request, reply) => {
    const alerts = await ctx.alerts.all(parseWith(alertFilterSchema, request.query, 'query'));
    const csv = toCsv(
      [
        'id',
        'time',
        'kind',
        'user',
        'volume',
        'site',
        'client address',
        'sentence',
        'acknowledged at',
        'acknowledged by',
      ],
      alerts.map((a) => [
        a.id,
        a.at,
        a.kind,
        a.userId,
        a.volumeId,
        a.siteId,
        a.clientAddress,
        a.sentence,
        a.acknowledgedAt,
        a.acknowledgedBy,
      ]),
    );
    void reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="custodian-alerts.csv"');
    return csv;
  });

  router.route(apiRoutes.adminAcknowledgeAlerts, async (request) => {
    const { ids } = parseWith(acknowledgeAlertsRequestSchema, request.body);
    const principal = principalOf(request);
    const acknowledged = await ctx.alerts.acknowledge(ids, principal.user.userId);
    await ctx.audit.append({
      event: 'alerts_acknowledged',
      actor: principal.user.userId,
      clientAddress: request.ip,
      details: { ids: [...ids], acknowledged },
    });
    return { acknowledged };
  });

  // RS-5: a client that found a tampered chunk or manifest tells the site.
  router.route(apiRoutes.reportIntegrity, async (request) => {
    const report = parseWith(integrityReportSchema, request.body);
    const principal = principalOf(request);
    const where = [
      report.generation !== undefined ? `generation ${report.generation}` : undefined,
      report.chunkIndex !== undefined ? `chunk #${report.chunkIndex}` : undefined,
      report.chunkId ? `(${report.chunkId.slice(0, 16)}…)` : undefined,
    ]
      .filter(Boolean)
      .join(' ');
    await ctx.audit.append({
      event: 'integrity_failure_reported',
      actor: principal.user.userId,
      volumeId: report.volumeId,
      clientAddress: request.ip,
      details: { ...report },
    });
    await ctx.alerts.raise({
      kind: 'integrity_failure',
      userId: principal.user.userId,
      volumeId: report.volumeId,
      clientAddress: request.ip,
      sentence: `${principal.user.userId} found volume ${report.volumeId}${where ? ` ${where}` : ''} tampered: ${report.what}`,
    });
    return { ok: true };
  });
}
