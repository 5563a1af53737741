import { HttpResponse } from 'msw';
import {
  apiRoutes,
  changePasswordRequestSchema,
  loginRequestSchema,
  PASSWORD_MIN_LENGTH,
} from '@/core/contract';
import { demoSite } from './demo-site';
import { restoreHandlers } from './restore-handlers';
import { csrfMissing, jsonBody, notSignedIn, on, refuse } from './route-handler';

/** Handlers for the auth and site endpoints, answering per the contract. */
export const handlers = [
  ...restoreHandlers,

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
  // What the backup screen asks when it opens (BK-2 … BK-4); tests that run a
  // backup serve the rest of the protocol from their own site (backup-fake-site.ts).
  on(apiRoutes.listRestorers, () => {
    if (!demoSite.session) return notSignedIn();
    const users = [...demoSite.users.values()]
      .filter((user) => user.roles.includes('restorer'))
      .map(({ userId, displayName }) => ({ userId, displayName }));
    return HttpResponse.json({ users });
  }),
  on(apiRoutes.myVolumes, () =>
    demoSite.session ? HttpResponse.json({ records: [] }) : notSignedIn(),
  ),
  on(apiRoutes.volumeOwner, ({ params }) =>
    demoSite.session
      ? HttpResponse.json({
          volumeId: String(params['volumeId']),
          state: 'unregistered',
          owner: null,
          mine: false,
        })
      : notSignedIn(),
  ),
];
