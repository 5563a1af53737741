import type { Role } from './identity';

/**
 * Who may call a route, decided on the server from the session alone (ID-2).
 * `public`: anyone; `session`: any signed-in user; otherwise one of the roles.
 * The authorization matrix test walks this table: a route the site serves
 * without an entry here fails that test.
 */
export type RouteAccess = 'public' | 'session' | readonly Role[];

export interface RouteEntry {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  readonly path: string;
  readonly access: RouteAccess;
  /** State-changing calls need the CSRF header. */
  readonly csrf: boolean;
}

export const apiRoutes = {
  health: { method: 'GET', path: '/api/health', access: 'public', csrf: false },
  site: { method: 'GET', path: '/api/site', access: 'public', csrf: false },
  login: { method: 'POST', path: '/api/auth/login', access: 'public', csrf: true },
  logout: { method: 'POST', path: '/api/auth/logout', access: 'session', csrf: true },
  session: { method: 'GET', path: '/api/auth/session', access: 'session', csrf: false },
  changePassword: { method: 'POST', path: '/api/auth/password', access: 'session', csrf: true },
  adminListUsers: { method: 'GET', path: '/api/admin/users', access: ['admin'], csrf: false },
  listRestorers: { method: 'GET', path: '/api/users', access: 'session', csrf: false },
  events: { method: 'GET', path: '/api/events', access: 'session', csrf: false },
  reportIntegrity: { method: 'POST', path: '/api/alerts/integrity', access: 'session', csrf: true },
  adminListAlerts: { method: 'GET', path: '/api/admin/alerts', access: ['admin'], csrf: false },
  adminExportAlerts: {
    method: 'GET',
    path: '/api/admin/alerts/export',
    access: ['admin'],
    csrf: false,
  },
  adminAcknowledgeAlerts: {
    method: 'POST',
    path: '/api/admin/alerts/acknowledge',
    access: ['admin'],
    csrf: true,
  },
  adminListAudit: { method: 'GET', path: '/api/admin/audit', access: ['admin'], csrf: false },
  adminExportAudit: {
    method: 'GET',
    path: '/api/admin/audit/export',
    access: ['admin'],
    csrf: false,
  },
  adminVerifyAudit: {
    method: 'POST',
    path: '/api/admin/audit/verify',
    access: ['admin'],
    csrf: true,
  },
} as const satisfies Record<string, RouteEntry>;

export type ApiRouteName = keyof typeof apiRoutes;
