import {
  apiRoutes,
  changePasswordRequestSchema,
  loginRequestSchema,
} from '../../../../src/core/contract';
import { parseWith } from '../errors';
import { type RouteContext, type Router, SESSION_COOKIE, principalOf } from '../router';

export function authRoutes(router: Router, ctx: RouteContext): void {
  router.route(apiRoutes.login, async (request, reply) => {
    const body = parseWith(loginRequestSchema, request.body);
    const { token, info } = await ctx.identity.signIn(body.userId, body.credential, request.ip);
    // A trusted site's console keeps a bearer token for this site; it is sent no cookie (MS-2).
    if (request.trustedOrigin !== undefined) return { ...info, bearerToken: token };
    void reply.setCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: ctx.secureCookies,
      path: '/',
      expires: new Date(info.expiresAt),
    });
    return info;
  });

  router.route(apiRoutes.logout, async (request, reply) => {
    await ctx.identity.signOut(principalOf(request));
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  router.route(apiRoutes.session, async (request) => ctx.identity.info(principalOf(request)));

  router.route(apiRoutes.changePassword, async (request) => {
    const body = parseWith(changePasswordRequestSchema, request.body);
    await ctx.identity.changePassword(
      principalOf(request),
      body.currentCredential,
      body.newCredential,
    );
    return { ok: true };
  });
}
