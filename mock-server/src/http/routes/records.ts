import { z } from 'zod';
import {
  apiRoutes,
  decideApprovalRequestSchema,
  importRegistrationRequestSchema,
  manualRegistrationRequestSchema,
  rearmRequestSchema,
  recordExportQuerySchema,
  recordQuerySchema,
  revokeRequestSchema,
  setExpiryRequestSchema,
  transferOwnershipRequestSchema,
} from '../../../../src/core/contract';
import { volumeIdSchema } from '../../../../src/core/crypto/format-schemas';
import { toCsv } from '../../domain/alerts';
import type { Caller } from '../../domain/escrow/context';
import { parseWith } from '../errors';
import {
  asDownload,
  type ApiRequest,
  type RouteContext,
  type Router,
  principalOf,
} from '../router';

const volumeParams = z.object({ volumeId: volumeIdSchema });
const approvalParams = z.object({ approvalId: z.string().max(200) });

/** Registration files carry a manifest: up to 8 MiB of JSON. */
const REGISTRATION_BODY_LIMIT = 8 * 1024 * 1024;

function callerOf(request: ApiRequest): Caller {
  const { user } = principalOf(request);
  return { userId: user.userId, roles: user.roles, clientAddress: request.ip };
}

/** The restorer DB for administrators (ES-1..ES-3). */
export function recordRoutes(router: Router, ctx: RouteContext): void {
  const volume = (request: ApiRequest) =>
    parseWith(volumeParams, request.params, 'volume ID').volumeId;

  router.route(apiRoutes.adminListRecords, async (request) =>
    ctx.records.list(parseWith(recordQuerySchema, request.query, 'query')),
  );
  // Before adminGetRecord, whose :volumeId would take "export" (the offline site matches in order).
  router.route(apiRoutes.adminExportRecords, async (request, reply) => {
    const { format, ...filter } = parseWith(recordExportQuerySchema, request.query, 'query');
    const records = await ctx.records.all(filter);
    await ctx.audit.append({
      event: 'records_exported',
      actor: principalOf(request).user.userId,
      clientAddress: request.ip,
      details: { format, records: records.length, ...filter },
    });
    if (format === 'json') {
      asDownload(reply, 'restorer-db', 'json');
      return { records };
    }
    asDownload(reply, 'restorer-db', 'csv');
    return toCsv(
      [
        'volume',
        'owner',
        'restorers',
        'policy',
        'state',
        'generations',
        'latest generation',
        'bytes',
        'releases',
        'created',
        'updated',
      ],
      records.map((r) => [
        r.volumeId,
        r.owner,
        r.restorers.join(' '),
        r.policy.kind,
        r.state,
        r.generations,
        r.latestGeneration,
        r.bytes,
        r.releases,
        r.createdAt,
        r.updatedAt,
      ]),
    );
  });
  router.route(apiRoutes.adminSummary, async () => ctx.records.summary());
  router.route(apiRoutes.adminRegisterManually, async (request) =>
    ctx.records.registerManually(
      callerOf(request),
      parseWith(manualRegistrationRequestSchema, request.body),
    ),
  );
  router.route(apiRoutes.adminGetRecord, async (request) => ctx.records.detail(volume(request)));
  router.route(apiRoutes.adminSetExpiry, async (request) => {
    const body = parseWith(setExpiryRequestSchema, request.body);
    return ctx.records.setExpiry(callerOf(request), volume(request), body.expiresAt, body.reason);
  });
  router.route(apiRoutes.adminRevoke, async (request) => {
    const body = parseWith(revokeRequestSchema, request.body);
    return ctx.records.revoke(callerOf(request), volume(request), body.reason);
  });
  router.route(apiRoutes.adminTransferOwnership, async (request) => {
    const body = parseWith(transferOwnershipRequestSchema, request.body);
    return ctx.records.transferOwnership(
      callerOf(request),
      volume(request),
      body.newOwner,
      body.reason,
      body.keepFormerOwnerAsRestorer,
    );
  });
  router.route(apiRoutes.adminRequestRearm, async (request) => {
    const body = parseWith(rearmRequestSchema, request.body);
    return ctx.records.requestRearm(callerOf(request), volume(request), body.reason);
  });
  router.route(apiRoutes.adminListApprovals, async () => ({
    approvals: await ctx.records.approvals(),
  }));
  router.route(apiRoutes.adminDecideApproval, async (request) => {
    const { approvalId } = parseWith(approvalParams, request.params, 'approval ID');
    const body = parseWith(decideApprovalRequestSchema, request.body);
    return ctx.records.decide(callerOf(request), approvalId, body.approve, body.reason);
  });
  router.route(
    apiRoutes.adminImportRegistration,
    async (request) => {
      const body = parseWith(importRegistrationRequestSchema, request.body);
      return ctx.records.importRegistration(callerOf(request), body.file, body.reason);
    },
    { bodyLimit: REGISTRATION_BODY_LIMIT },
  );
}
