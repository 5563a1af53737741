import type { RouteAccess, SessionInfo } from '@/core/contract';

/**
 * Whether a session may open a page. Pages use the same vocabulary as the
 * API route table: `public`, `session` (anyone signed in) or a list of roles
 * of which one suffices. The site still authorizes every call (ID-2); this
 * only decides what the console shows.
 */
export function canOpen(access: RouteAccess | undefined, session: SessionInfo | null): boolean {
  if (access === undefined || access === 'public') return true;
  if (session === null) return false;
  if (access === 'session') return true;
  return access.some((role) => session.roles.includes(role));
}
