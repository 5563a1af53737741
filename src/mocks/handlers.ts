import { http, HttpResponse, type HttpResponseResolver } from 'msw';
import {
  apiRoutes,
  changePasswordRequestSchema,
  CSRF_HEADER,
  CSRF_HEADER_VALUE,
  loginRequestSchema,
  PASSWORD_MIN_LENGTH,
  type ApiErrorBody,
  type RouteEntry,
} from '@/core/contract';
import { demoSite } from './demo-site';

function refuse(status: number, body: ApiErrorBody): Response {
  return HttpResponse.json(body, { status });
}

const notSignedIn = (): Response =>
  refuse(401, { code: 'not_signed_in', message: 'Sign in first.' });

/** The route's path under any origin, so tests and the demo share handlers. */
function on(route: RouteEntry, resolver: HttpResponseResolver): ReturnType<typeof http.all> {
  const path = `*${route.path}`;
  switch (route.method) {
    case 'GET':
      return http.get(path, resolver);
    case 'POST':
      return http.post(path, resolver);
    case 'PUT':
      return http.put(path, resolver);
    case 'PATCH':
      return http.patch(path, resolver);
    case 'DELETE':
      return http.delete(path, resolver);
    case 'HEAD':
      return http.head(path, resolver);
  }
}

/** State-changing calls without the CSRF header are refused, as the site does. */
function csrfMissing(route: RouteEntry, request: Request): Response | undefined {
  if (route.csrf && request.headers.get(CSRF_HEADER) !== CSRF_HEADER_VALUE) {
    return refuse(403, { code: 'csrf_required', message: 'This request needs the CSRF header.' });
  }
  return undefined;
}

async function jsonBody(request: Request): Promise<unknown> {
  try {
    return await request.json();
  } catch {
    return undefined;
  }
}

/** Handlers for the auth and site endpoints, answering per the contract. */
export const handlers = [
  on(apiRoutes.health, () =>
    HttpResponse.json({ status: 'ok', version: demoSite.description.version }),
  ),

  on(apiRoutes.site, async () => HttpResponse.json(await demoSite.siteInfo())),

  on(apiRoutes.login, async ({ request }) => {
    const refused = csrfMissing(apiRoutes.login, request);
    if (refused) return refused;
    const body = loginRequestSchema.safeParse(await jsonBody(request));
    if (!body.success) {
      return refuse(400, {
        code: 'invalid_request',
        message: 'User ID and password are required.',
      });
    }
    const result = demoSite.signIn(body.data.userId, body.data.password);
    if (result === 'locked') {
      return refuse(429, {
        code: 'locked_out',
        message: 'Too many failed sign-ins for this user from this address; try again later.',
        details: { retryAfterSeconds: demoSite.lockSeconds() },
      });
    }
    if (result === 'refused') {
      return refuse(401, {
        code: 'unauthorized_user',
        message: 'unauthorized user: the user ID or password is not correct.',
      });
    }
    return HttpResponse.json(result);
  }),

  on(apiRoutes.logout, ({ request }) => {
    const refused = csrfMissing(apiRoutes.logout, request);
    if (refused) return refused;
    if (!demoSite.session) return notSignedIn();
    demoSite.endSession();
    return HttpResponse.json({ ok: true });
  }),

  on(apiRoutes.session, () => {
    const session = demoSite.session;
    return session ? HttpResponse.json(session) : notSignedIn();
  }),

  on(apiRoutes.changePassword, async ({ request }) => {
    const refused = csrfMissing(apiRoutes.changePassword, request);
    if (refused) return refused;
    if (!demoSite.session) return notSignedIn();
    const raw = await jsonBody(request);
    const body = changePasswordRequestSchema.safeParse(raw);
    if (!body.success) {
      const tooShort = changePasswordRequestSchema.shape.newPassword.safeParse(
        (raw as { newPassword?: unknown } | undefined)?.newPassword,
      );
      return tooShort.success
        ? refuse(400, { code: 'invalid_request', message: 'Both passwords are required.' })
        : refuse(400, {
            code: 'weak_password',
            message: `The new password needs at least ${PASSWORD_MIN_LENGTH} characters.`,
          });
    }
    const result = demoSite.changePassword(body.data.currentPassword, body.data.newPassword);
    if (result === 'wrong') {
      return refuse(400, {
        code: 'wrong_password',
        message: 'The current password is not correct.',
      });
    }
    if (result === 'weak') {
      return refuse(400, {
        code: 'weak_password',
        message:
          'Choose a new password that differs from the old one and does not contain your user ID.',
      });
    }
    return HttpResponse.json({ ok: true });
  }),
];
