import type { Pinia } from 'pinia';
import { createRouter, createWebHistory, type RouterHistory } from 'vue-router';
import { safeRedirect, useSessionStore } from '@/features/account';
import { routes } from './routes';

export { canOpen } from './access';

/**
 * The console's router. The guard asks the site who is signed in before the
 * first page (BK-1: nothing before sign-in), sends signed-out users to the
 * sign-in page with the page they asked for, and holds a user who must change
 * their password on that page. A signed-in user without the role stays on
 * the URL they asked for; App.vue shows "Not allowed" there instead.
 */
export function createConsoleRouter(pinia: Pinia, history: RouterHistory = createWebHistory()) {
  const router = createRouter({ history, routes });

  router.beforeEach(async (to) => {
    const session = useSessionStore(pinia);
    if (!session.loaded) {
      // An unreachable site shows up when signing in, with its own message.
      await session.load().catch(() => undefined);
    }

    if (to.name === 'login') {
      return session.signedIn ? (safeRedirect(to.query['redirect']) ?? session.homeRoute) : true;
    }
    if (to.meta.access === 'public') return true;
    if (!session.signedIn) {
      return to.name === 'home'
        ? { name: 'login' }
        : { name: 'login', query: { redirect: to.fullPath } };
    }
    if (session.mustChangePassword && to.name !== 'change-password') {
      return { name: 'change-password' };
    }
    if (to.name === 'home') return session.homeRoute;
    return true;
  });

  return router;
}
