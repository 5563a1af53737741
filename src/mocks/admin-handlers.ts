import { HttpResponse } from 'msw';
import type { z } from 'zod';
import {
  acknowledgeAlertsRequestSchema,
  alertFilterSchema,
  alertQuerySchema,
  apiRoutes,
  auditExportQuerySchema,
  auditQuerySchema,
  createUserRequestSchema,
  setRolesRequestSchema,
  userChangeRequestSchema,
  type RouteEntry,
} from '@/core/contract';
import { demoSite } from './demo-site';
import { adminView, DemoRefusal, DemoUserAdmin } from './demo-user-admin';
import { csrfMissing, jsonBody, notSignedIn, on, refuse } from './route-handler';

type Resolver = (info: { request: Request; params: Record<string, unknown> }) => Promise<Response>;

/**
 * Handlers of the administrators' endpoints on the demo site: the session
 * must be an administrator's, the CSRF header is checked, inputs are parsed
 * with the contract's schemas and refusals carry the site's codes.
 */
function asAdmin(
  route: RouteEntry,
  handle: (input: {
    request: Request;
    params: Record<string, string>;
    admin: string;
  }) => Response | Promise<Response>,
) {
  const resolver: Resolver = async ({ request, params }) => {
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
      if (error instanceof DemoRefusal) {
        return refuse(error.status, { code: error.code, message: error.message });
      }
      throw error;
    }
  };
  return on(route, resolver);
}

function parsed<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new DemoRefusal(
      'invalid_request',
      `The request is not valid: ${result.error.message}`,
      400,
    );
  }
  return result.data;
}

function queryOf(request: Request): Record<string, string> {
  return Object.fromEntries(new URL(request.url).searchParams);
}

export const adminHandlers = [
  // The dashboard's restorer DB figures; component tests set their own when they need them.
  asAdmin(apiRoutes.adminSummary, () => {
    const today = Date.parse(new Date().toISOString().slice(0, 10));
    return HttpResponse.json({
      volumes: 0,
      recordsByState: { active: 0, burned: 0, revoked: 0 },
      pendingApprovals: 0,
      bytesPerDay: Array.from({ length: 14 }, (_, i) => ({
        day: new Date(today - (13 - i) * 86_400_000).toISOString().slice(0, 10),
        bytes: 0,
      })),
    });
  }),
  asAdmin(apiRoutes.adminListAlerts, ({ request }) =>
    HttpResponse.json(demoSite.alerts.list(parsed(alertQuerySchema, queryOf(request)))),
  ),
  asAdmin(apiRoutes.adminExportAlerts, ({ request }) => {
    const alerts = demoSite.alerts.all(parsed(alertFilterSchema, queryOf(request)));
    const rows = alerts.map((a) => [a.id, a.at, a.kind, a.userId ?? '', a.sentence].join(','));
    return new HttpResponse(['id,time,kind,user,sentence', ...rows].join('\r\n'), {
      headers: { 'content-type': 'text/csv; charset=utf-8' },
    });
  }),
  asAdmin(apiRoutes.adminAcknowledgeAlerts, async ({ request, admin }) => {
    const { ids } = parsed(acknowledgeAlertsRequestSchema, await jsonBody(request));
    const acknowledged = demoSite.alerts.acknowledge(ids, admin);
    demoSite.audit.append({ event: 'alerts_acknowledged', actor: admin, details: { ids } });
    return HttpResponse.json({ acknowledged });
  }),

  asAdmin(apiRoutes.adminListAudit, ({ request }) =>
    HttpResponse.json(demoSite.audit.list(parsed(auditQuerySchema, queryOf(request)))),
  ),
  asAdmin(apiRoutes.adminExportAudit, ({ request }) => {
    const { format, ...filter } = parsed(auditExportQuerySchema, queryOf(request));
    const entries = demoSite.audit.all(filter);
    return format === 'json'
      ? HttpResponse.json({ entries })
      : new HttpResponse(entries.map((e) => `${e.seq},${e.event}`).join('\r\n'), {
          headers: { 'content-type': 'text/csv; charset=utf-8' },
        });
  }),
  asAdmin(apiRoutes.adminVerifyAudit, () => HttpResponse.json(demoSite.audit.verify())),

  asAdmin(apiRoutes.adminListUsers, () =>
    HttpResponse.json({ users: [...demoSite.users.values()].map(adminView) }),
  ),
  asAdmin(apiRoutes.adminCreateUser, async ({ request, admin }) => {
    const body = parsed(createUserRequestSchema, await jsonBody(request));
    const user = new DemoUserAdmin(demoSite, admin).create(body);
    return HttpResponse.json({ user }, { status: 201 });
  }),
  asAdmin(apiRoutes.adminDisableUser, async ({ request, params, admin }) => {
    const { reason } = parsed(userChangeRequestSchema, await jsonBody(request));
    const users = new DemoUserAdmin(demoSite, admin);
    return HttpResponse.json({ user: users.setDisabled(params['userId']!, true, reason) });
  }),
  asAdmin(apiRoutes.adminEnableUser, async ({ request, params, admin }) => {
    const { reason } = parsed(userChangeRequestSchema, await jsonBody(request));
    const users = new DemoUserAdmin(demoSite, admin);
    return HttpResponse.json({ user: users.setDisabled(params['userId']!, false, reason) });
  }),
  asAdmin(apiRoutes.adminResetPassword, async ({ request, params, admin }) => {
    const { reason } = parsed(userChangeRequestSchema, await jsonBody(request));
    return HttpResponse.json(
      new DemoUserAdmin(demoSite, admin).resetPassword(params['userId']!, reason),
    );
  }),
  asAdmin(apiRoutes.adminSetRoles, async ({ request, params, admin }) => {
    const { roles, reason } = parsed(setRolesRequestSchema, await jsonBody(request));
    const users = new DemoUserAdmin(demoSite, admin);
    return HttpResponse.json({ user: users.setRoles(params['userId']!, roles, reason) });
  }),
  asAdmin(apiRoutes.adminEndSessions, async ({ request, params, admin }) => {
    const { reason } = parsed(userChangeRequestSchema, await jsonBody(request));
    return HttpResponse.json(
      new DemoUserAdmin(demoSite, admin).endSessions(params['userId']!, reason),
    );
  }),

  asAdmin(apiRoutes.adminMailSettings, () => HttpResponse.json(demoSite.mail)),
  asAdmin(apiRoutes.adminSendTestMail, ({ admin }) => {
    const mail = demoSite.mail;
    if (!mail.configured) {
      throw new DemoRefusal(
        'mail_not_configured',
        'Alert mail is not configured on this site: set CUSTODIAN_SMTP_URL and CUSTODIAN_ALERT_MAIL_TO, then restart it.',
        409,
      );
    }
    if (demoSite.mailFails) {
      throw new DemoRefusal(
        'mail_failed',
        'The test mail could not be sent: connect ECONNREFUSED 127.0.0.1:2525.',
        502,
      );
    }
    demoSite.audit.append({ event: 'test_mail_sent', actor: admin, details: { to: mail.to } });
    demoSite.mailsSent.push([...mail.to]);
    return HttpResponse.json({ sent: true, to: mail.to });
  }),
];
