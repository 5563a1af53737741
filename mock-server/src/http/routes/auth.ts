import type { FastifyInstance } from 'fastify';
import {
  apiRoutes,
  changePasswordRequestSchema,
  loginRequestSchema,
} from '../../../../src/core/contract';
import { parseWith } from '../errors';
import { principalOf, registerRoute, SESSION_COOKIE, type RouteContext } from '../access';

export function authRoutes(
  app: FastifyInstance,
  ctx: RouteContext,
  cookie: { secure: boolean },
): void {
  registerRoute(app, ctx, apiRoutes.login, async (request, reply) => {
    const body = parseWith(loginRequestSchema, request.body);
    const { token, info } = await ctx.identity.signIn(body.userId, body.password, request.ip);
    void reply.setCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: cookie.secure,
      path: '/',
      expires: new Date(info.expiresAt),
    });
    return info;
  });

  registerRoute(app, ctx, apiRoutes.logout, async (request, reply) => {
    await ctx.identity.signOut(principalOf(request));
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  registerRoute(app, ctx, apiRoutes.session, async (request) =>
    ctx.identity.info(principalOf(request)),
  );

  registerRoute(app, ctx, apiRoutes.changePassword, async (request) => {
    const body = parseWith(changePasswordRequestSchema, request.body);
    await ctx.identity.changePassword(principalOf(request), body.currentPassword, body.newPassword);
    return { ok: true };
  });
}
