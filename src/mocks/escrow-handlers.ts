import { HttpResponse } from 'msw';
import type { z } from 'zod';
import {
  apiRoutes,
  changeRestorersRequestSchema,
  decideApprovalRequestSchema,
  importRegistrationRequestSchema,
  manualRegistrationRequestSchema,
  pairActionRequestSchema,
  rearmRequestSchema,
  recordQuerySchema,
  reasonSchema,
  revokeRequestSchema,
  setExpiryRequestSchema,
  transferOwnershipRequestSchema,
  type RouteEntry,
} from '@/core/contract';
import { demoSite } from './demo-site';
import { EscrowRefusal } from './escrow-refusal';
import { csrfMissing, jsonBody, notSignedIn, on, refuse } from './route-handler';

interface AdminInput {
  readonly request: Request;
  readonly params: Record<string, string>;
  readonly admin: string;
}

/**
 * Administrators' endpoints of the restorer DB, approvals and remote copy on
 * the demo site (ES-1..ES-3, BK-5, RC-3, RC-7): administrator sessions only,
 * CSRF checked, inputs parsed with the contract's schemas, refusals with the
 * site's codes, every change audited.
 */
function asAdmin(route: RouteEntry, handle: (input: AdminInput) => Response | Promise<Response>) {
  return on(route, async ({ request, params }) => {
    const refused = csrfMissing(route, request);
    if (refused) return refused;
    const session = demoSite.session;
    if (!session) return notSignedIn();
    if (!session.roles.includes('admin')) {
      return refuse(403, { code: 'forbidden', message: 'Administrators only.' });
    }
    try {
      return await handle({
        request,
        params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
        admin: session.userId,
      });
    } catch (error) {
      if (error instanceof EscrowRefusal) {
        return refuse(error.status, { code: error.code, message: error.message });
      }
      throw error;
    }
  });
}

function parsed<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const first = result.error.issues[0];
    throw new EscrowRefusal(
      'invalid_request',
      `${first?.path.join('.') || 'request'}: ${first?.message ?? 'not valid'}`,
      400,
    );
  }
  return result.data;
}

function audit(event: string, admin: string, volumeId: string | null, details: object): void {
  demoSite.audit.append({ event, actor: admin, volumeId, details: { ...details } });
}

export const escrowHandlers = [
  asAdmin(apiRoutes.adminListRecords, ({ request }) => {
    const query = Object.fromEntries(new URL(request.url).searchParams);
    return HttpResponse.json(demoSite.escrow.search(parsed(recordQuerySchema, query)));
  }),
  asAdmin(apiRoutes.adminGetRecord, ({ params }) =>
    HttpResponse.json(demoSite.escrow.detail(params['volumeId']!)),
  ),
  // The owner's own changes are the backup screen's; an administrator's are made here (ES-2).
  on(apiRoutes.changeRestorers, async ({ request, params }) => {
    if (!demoSite.session?.roles.includes('admin')) return undefined;
    const refused = csrfMissing(apiRoutes.changeRestorers, request);
    if (refused) return refused;
    try {
      const body = parsed(changeRestorersRequestSchema, await jsonBody(request));
      const volumeId = String(params['volumeId']);
      const record = demoSite.escrow.changeRestorers(volumeId, body.add, body.remove);
      audit('restorers_changed', demoSite.session.userId, volumeId, body);
      return HttpResponse.json(record);
    } catch (error) {
      if (error instanceof EscrowRefusal)
        return refuse(error.status, { code: error.code, message: error.message });
      throw error;
    }
  }),
  asAdmin(apiRoutes.adminSetExpiry, async ({ request, params, admin }) => {
    const body = parsed(setExpiryRequestSchema, await jsonBody(request));
    const record = demoSite.escrow.setExpiry(params['volumeId']!, body.expiresAt);
    audit('expiry_changed', admin, record.volumeId, body);
    return HttpResponse.json(record);
  }),
  asAdmin(apiRoutes.adminRevoke, async ({ request, params, admin }) => {
    const body = parsed(revokeRequestSchema, await jsonBody(request));
    const record = demoSite.escrow.revoke(params['volumeId']!);
    audit('record_revoked', admin, record.volumeId, body);
    return HttpResponse.json(record);
  }),
  asAdmin(apiRoutes.adminTransferOwnership, async ({ request, params, admin }) => {
    const body = parsed(transferOwnershipRequestSchema, await jsonBody(request));
    const record = demoSite.escrow.transfer(params['volumeId']!, body.newOwner);
    audit('ownership_transferred', admin, record.volumeId, body);
    return HttpResponse.json(record);
  }),
  asAdmin(apiRoutes.adminRequestRearm, async ({ request, params, admin }) => {
    const body = parsed(rearmRequestSchema, await jsonBody(request));
    const approval = demoSite.escrow.requestRearm(admin, params['volumeId']!, body.reason);
    audit('rearm_requested', admin, approval.volumeId, body);
    return HttpResponse.json(approval);
  }),
  asAdmin(apiRoutes.adminRegisterManually, async ({ request, admin }) => {
    const body = parsed(manualRegistrationRequestSchema, await jsonBody(request));
    const record = demoSite.escrow.registerManually(body);
    audit('record_registered_manually', admin, record.volumeId, { reason: body.reason });
    return HttpResponse.json(record);
  }),
  asAdmin(apiRoutes.adminImportRegistration, async ({ request, admin }) => {
    const body = parsed(importRegistrationRequestSchema, await jsonBody(request));
    const imported = await demoSite.escrow.importRegistration(body.file);
    audit('registration_imported', admin, imported.record.volumeId, { reason: body.reason });
    return HttpResponse.json(imported);
  }),
  asAdmin(apiRoutes.adminListApprovals, () =>
    HttpResponse.json({ approvals: demoSite.escrow.approvals() }),
  ),
  asAdmin(apiRoutes.adminDecideApproval, async ({ request, params, admin }) => {
    const body = parsed(decideApprovalRequestSchema, await jsonBody(request));
    const decision = demoSite.escrow.decide(
      admin,
      params['approvalId']!,
      body.approve,
      body.reason,
    );
    audit(
      decision.state === 'approved' ? 'approval_granted' : 'approval_denied',
      admin,
      null,
      body,
    );
    return HttpResponse.json(decision);
  }),

  asAdmin(apiRoutes.adminListPairs, () => HttpResponse.json({ pairs: demoSite.pairs.list() })),
  asAdmin(apiRoutes.adminGetPair, ({ params }) =>
    HttpResponse.json(demoSite.pairs.detail(params['pairId']!)),
  ),
  asAdmin(apiRoutes.adminPairAction, async ({ request, admin }) => {
    const body = parsed(pairActionRequestSchema, await jsonBody(request));
    parsed(reasonSchema, body.reason);
    const instructions = demoSite.pairs.act(admin, body.pairIds, body.action, body.reason);
    audit('pair_action_requested', admin, null, body);
    return HttpResponse.json({ instructions });
  }),
];
