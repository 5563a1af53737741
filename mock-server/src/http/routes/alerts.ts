import {
  acknowledgeAlertsRequestSchema,
  alertFilterSchema,
  alertQuerySchema,
  apiRoutes,
  integrityReportSchema,
} from '../../../../src/core/contract';
import { IntegrityReportService, toCsv } from '../../domain/alerts';
import { parseWith } from '../errors';
import { asDownload, type RouteContext, type Router, principalOf } from '../router';

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
        'message code',
        'message parameters',
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
        a.message?.code ?? '',
        a.message ? JSON.stringify(a.message.params) : '',
        a.sentence,
        a.acknowledgedAt,
        a.acknowledgedBy,
      ]),
    );
    asDownload(reply, 'alerts', 'csv');
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
  const integrity = new IntegrityReportService({
    store: ctx.escrow.store,
    audit: ctx.audit,
    alerts: ctx.alerts,
    clock: ctx.escrow.clock,
    siteId: ctx.escrow.siteId,
  });
  router.route(apiRoutes.reportIntegrity, async (request) => {
    const report = parseWith(integrityReportSchema, request.body);
    const { user } = principalOf(request);
    await integrity.report(
      { userId: user.userId, roles: user.roles, clientAddress: request.ip },
      report,
    );
    return { ok: true };
  });
}
