import {
  apiRoutes,
  createUserRequestSchema,
  decideRoleGrantRequestSchema,
  roleGrantPathSchema,
  setRolesRequestSchema,
  userChangeRequestSchema,
  userPathSchema,
} from '../../../../src/core/contract';
import type { AdminAction } from '../../domain/identity';
import { parseWith } from '../errors';
import { type ApiRequest, type RouteContext, type Router, principalOf } from '../router';

/** The acting administrator, the reason they gave and where they are (ID-1, AL-4). */
function adminAction(request: ApiRequest, reason: string): AdminAction {
  return { actor: principalOf(request), reason, clientAddress: request.ip };
}

function targetUser(request: ApiRequest): string {
  return parseWith(userPathSchema, request.params, 'user ID').userId;
}

export function userRoutes(router: Router, ctx: RouteContext): void {
  router.route(apiRoutes.adminListUsers, async () => ({
    users: await ctx.identity.listUsers(),
  }));
  router.route(apiRoutes.listRestorers, async () => ({
    users: await ctx.identity.restorers(),
  }));

  router.route(apiRoutes.adminCreateUser, async (request, reply) => {
    const { reason, ...input } = parseWith(createUserRequestSchema, request.body);
    const created = await ctx.identity.adminCreateUser(adminAction(request, reason), input);
    void reply.status(201);
    return created;
  });

  router.route(apiRoutes.adminDisableUser, async (request) => {
    const userId = targetUser(request);
    const { reason } = parseWith(userChangeRequestSchema, request.body);
    return { user: await ctx.identity.setDisabled(adminAction(request, reason), userId, true) };
  });

  router.route(apiRoutes.adminEnableUser, async (request) => {
    const userId = targetUser(request);
    const { reason } = parseWith(userChangeRequestSchema, request.body);
    return { user: await ctx.identity.setDisabled(adminAction(request, reason), userId, false) };
  });

  router.route(apiRoutes.adminResetPassword, async (request) => {
    const userId = targetUser(request);
    const { reason } = parseWith(userChangeRequestSchema, request.body);
    return ctx.identity.resetPassword(adminAction(request, reason), userId);
  });

  router.route(apiRoutes.adminSetRoles, async (request) => {
    const userId = targetUser(request);
    const { roles, reason } = parseWith(setRolesRequestSchema, request.body);
    return ctx.identity.setRoles(adminAction(request, reason), userId, roles);
  });

  router.route(apiRoutes.adminListRoleGrants, async () => ({
    grants: await ctx.identity.roleGrants(),
  }));

  router.route(apiRoutes.adminDecideRoleGrant, async (request) => {
    const { grantId } = parseWith(roleGrantPathSchema, request.params, 'grant ID');
    const { approve, reason } = parseWith(decideRoleGrantRequestSchema, request.body);
    return ctx.identity.decideRoleGrant(adminAction(request, reason), grantId, approve);
  });

  router.route(apiRoutes.adminEndSessions, async (request) => {
    const userId = targetUser(request);
    const { reason } = parseWith(userChangeRequestSchema, request.body);
    return ctx.identity.endSessions(adminAction(request, reason), userId);
  });
}
