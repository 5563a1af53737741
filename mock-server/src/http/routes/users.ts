import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  apiRoutes,
  createUserRequestSchema,
  setRolesRequestSchema,
  userChangeRequestSchema,
  userPathSchema,
} from '../../../../src/core/contract';
import type { AdminAction } from '../../domain/identity';
import { parseWith } from '../errors';
import { principalOf, registerRoute, type RouteContext } from '../access';

/** The acting administrator, the reason they gave and where they are (ID-1, AL-4). */
function adminAction(request: FastifyRequest, reason: string): AdminAction {
  return { actor: principalOf(request), reason, clientAddress: request.ip };
}

function targetUser(request: FastifyRequest): string {
  return parseWith(userPathSchema, request.params, 'user ID').userId;
}

export function userRoutes(app: FastifyInstance, ctx: RouteContext): void {
  registerRoute(app, ctx, apiRoutes.adminListUsers, async () => ({
    users: await ctx.identity.listUsers(),
  }));
  registerRoute(app, ctx, apiRoutes.listRestorers, async () => ({
    users: await ctx.identity.restorers(),
  }));

  registerRoute(app, ctx, apiRoutes.adminCreateUser, async (request, reply) => {
    const { reason, ...input } = parseWith(createUserRequestSchema, request.body);
    const user = await ctx.identity.adminCreateUser(adminAction(request, reason), input);
    void reply.status(201);
    return { user };
  });

  registerRoute(app, ctx, apiRoutes.adminDisableUser, async (request) => {
    const userId = targetUser(request);
    const { reason } = parseWith(userChangeRequestSchema, request.body);
    return { user: await ctx.identity.setDisabled(adminAction(request, reason), userId, true) };
  });

  registerRoute(app, ctx, apiRoutes.adminEnableUser, async (request) => {
    const userId = targetUser(request);
    const { reason } = parseWith(userChangeRequestSchema, request.body);
    return { user: await ctx.identity.setDisabled(adminAction(request, reason), userId, false) };
  });

  registerRoute(app, ctx, apiRoutes.adminResetPassword, async (request) => {
    const userId = targetUser(request);
    const { reason } = parseWith(userChangeRequestSchema, request.body);
    return ctx.identity.resetPassword(adminAction(request, reason), userId);
  });

  registerRoute(app, ctx, apiRoutes.adminSetRoles, async (request) => {
    const userId = targetUser(request);
    const { roles, reason } = parseWith(setRolesRequestSchema, request.body);
    return { user: await ctx.identity.setRoles(adminAction(request, reason), userId, roles) };
  });

  registerRoute(app, ctx, apiRoutes.adminEndSessions, async (request) => {
    const userId = targetUser(request);
    const { reason } = parseWith(userChangeRequestSchema, request.body);
    return ctx.identity.endSessions(adminAction(request, reason), userId);
  });
}
