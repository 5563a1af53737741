import type { RouteEntry } from './routes';

/**
 * Routes of the administrators' console for users, the site itself and the
 * sites it trusts (ID-1, AL-3, ES-4 site page, MS-1). Kept apart from the
 * volume routes in routes.ts.
 */
export const adminConsoleRoutes = {
  adminListUsers: { method: 'GET', path: '/api/admin/users', access: ['admin'], csrf: false },
  adminCreateUser: { method: 'POST', path: '/api/admin/users', access: ['admin'], csrf: true },
  adminDisableUser: {
    method: 'POST',
    path: '/api/admin/users/:userId/disable',
    access: ['admin'],
    csrf: true,
  },
  adminEnableUser: {
    method: 'POST',
    path: '/api/admin/users/:userId/enable',
    access: ['admin'],
    csrf: true,
  },
  adminResetPassword: {
    method: 'POST',
    path: '/api/admin/users/:userId/password-reset',
    access: ['admin'],
    csrf: true,
  },
  adminSetRoles: {
    method: 'PUT',
    path: '/api/admin/users/:userId/roles',
    access: ['admin'],
    csrf: true,
  },
  adminEndSessions: {
    method: 'POST',
    path: '/api/admin/users/:userId/end-sessions',
    access: ['admin'],
    csrf: true,
  },
  // A new administrator waits for a second one (ID-1, ES-2)
  adminListRoleGrants: {
    method: 'GET',
    path: '/api/admin/role-grants',
    access: ['admin'],
    csrf: false,
  },
  adminDecideRoleGrant: {
    method: 'POST',
    path: '/api/admin/role-grants/:grantId/decide',
    access: ['admin'],
    csrf: true,
  },
  adminMailSettings: {
    method: 'GET',
    path: '/api/admin/site/mail',
    access: ['admin'],
    csrf: false,
  },
  adminSendTestMail: {
    method: 'POST',
    path: '/api/admin/site/test-mail',
    access: ['admin'],
    csrf: true,
  },
  // Sites this site trusts (MS-1)
  adminListSites: { method: 'GET', path: '/api/admin/sites', access: ['admin'], csrf: false },
  adminPreviewSite: {
    method: 'POST',
    path: '/api/admin/sites/preview',
    access: ['admin'],
    csrf: true,
  },
  adminTrustSite: { method: 'POST', path: '/api/admin/sites', access: ['admin'], csrf: true },
  adminWithdrawSite: {
    method: 'POST',
    path: '/api/admin/sites/:siteId/withdraw',
    access: ['admin'],
    csrf: true,
  },
  adminCheckSite: {
    method: 'POST',
    path: '/api/admin/sites/:siteId/check',
    access: ['admin'],
    csrf: true,
  },
} as const satisfies Record<string, RouteEntry>;
