import type { RouteEntry } from './routes';

/**
 * Routes of the administrators' console for users and the site itself
 * (ID-1, ES-4 site page). Kept apart from the volume routes in routes.ts.
 */
export const adminConsoleRoutes = {
  adminListUsers: { method: 'GET', path: '/api/admin/users', access: ['admin'], csrf: false },
} as const satisfies Record<string, RouteEntry>;
