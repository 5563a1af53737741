import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { changePassword, fetchSession, login, logout } from '@/shared/api/auth';
import { ApiError } from '@/shared/api/request';
import { credentialsForSite } from '@/shared/api/site-credentials';
import type { Role, SessionInfo } from '@/core/contract';
import { useOtherSitesStore } from '@/features/sites';

/** Where each role starts; the first matching role wins. */
const HOME_BY_ROLE: readonly (readonly [Role, string])[] = [
  ['operator', '/backup'],
  ['restorer', '/restore'],
  ['admin', '/admin'],
];

/**
 * Who is signed in, as the site says (ID-1). The console never decides
 * access from this alone: the site authorizes every call (ID-2); the
 * console only uses it to show the right pages.
 */
export const useSessionStore = defineStore('session', () => {
  const session = ref<SessionInfo | null>(null);
  const otherSites = useOtherSitesStore();
  /** Whether the site has been asked at least once since the page loaded. */
  const loaded = ref(false);

  const signedIn = computed(() => session.value !== null);
  const userId = computed(() => session.value?.userId ?? null);
  const mustChangePassword = computed(() => session.value?.mustChangePassword ?? false);

  function hasRole(role: Role): boolean {
    return session.value?.roles.includes(role) ?? false;
  }

  const homeRoute = computed(() => {
    if (!session.value) return '/login';
    const home = HOME_BY_ROLE.find(([role]) => hasRole(role));
    // A user without any role can still change their password.
    return home ? home[1] : '/account/password';
  });

  /** Asks the site for the current session; a 401 means signed out. */
  async function load(): Promise<void> {
    try {
      session.value = await fetchSession();
      // The other sites this tab is signed in at (MS-2); the list can wait for a site that is slow.
      void otherSites.load().catch(() => undefined);
    } catch (error) {
      session.value = null;
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    } finally {
      loaded.value = true;
    }
  }

  /**
   * Signs in with the password's credential for this site, never the
   * password (MS-2); deriving it takes about half a second. A refusal is
   * thrown as ApiError for the form to explain (ID-3).
   */
  async function signIn(id: string, password: string): Promise<void> {
    const [credential] = await credentialsForSite([password]);
    session.value = await login({ userId: id, credential: credential! });
    loaded.value = true;
    // Then every trusted site, each with its own credential (MS-2); the top bar shows how each went.
    void otherSites.signInEverywhere(id, password);
  }

  /**
   * Ends the session at the site. If the site cannot be reached the session
   * is still alive there, so the console stays signed in and says so.
   */
  async function signOut(): Promise<void> {
    try {
      await logout();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    }
    session.value = null;
    await otherSites.signOutEverywhere();
  }

  /**
   * Changes the user's own password, then reloads what the site now says
   * (ID-1). The caller has held the new one to the password rule: the site
   * receives both as credentials (MS-2) and cannot.
   */
  async function updatePassword(currentPassword: string, newPassword: string): Promise<void> {
    const [currentCredential, newCredential] = await credentialsForSite([
      currentPassword,
      newPassword,
    ]);
    await changePassword({ currentCredential: currentCredential!, newCredential: newCredential! });
    await load();
  }

  return {
    session,
    loaded,
    signedIn,
    userId,
    mustChangePassword,
    homeRoute,
    hasRole,
    load,
    signIn,
    signOut,
    updatePassword,
  };
});
