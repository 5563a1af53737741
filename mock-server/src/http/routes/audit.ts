import { apiRoutes, auditExportQuerySchema, auditQuerySchema } from '../../../../src/core/contract';
import { toCsv } from '../../domain/alerts';
import { parseWith } from '../errors';
import { asDownload, type RouteContext, type Router, principalOf } from '../router';

export function auditRoutes(router: Router, ctx: RouteContext): void {
  router.route(apiRoutes.adminListAudit, async (request) =>
    ctx.audit.list(parseWith(auditQuerySchema, request.query, 'query')),
  );

  router.route(apiRoutes.adminExportAudit, async (request, reply) => {
    const { format, ...filter } = parseWith(auditExportQuerySchema, request.query, 'query');
    const entries = await ctx.audit.all(filter);
    if (format === 'json') {
      asDownload(reply, 'audit', 'json');
      return { entries };
    }
    asDownload(reply, 'audit', 'csv');
    return toCsv(
      [
        'seq',
        'time',
        'event',
        'actor',
        'volume',
        'client address',
        'details',
        'previous MAC',
        'MAC',
      ],
      entries.map((e) => [
        e.seq,
        e.at,
        e.event,
        e.actor,
        e.volumeId,
        e.clientAddress,
        JSON.stringify(e.details),
        e.prevMac,
        e.mac,
      ]),
    );
  });

  router.route(apiRoutes.adminVerifyAudit, async (request) => {
    const result = await ctx.audit.verify();
    await ctx.audit.append({
      event: 'audit_verified',
      actor: principalOf(request).user.userId,
      clientAddress: request.ip,
      details: result.intact
        ? { intact: true, entries: result.entries }
        : { intact: false, brokenAt: result.brokenAt },
    });
    return result;
  });
}
