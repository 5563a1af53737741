import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { deriveSiteCredential } from '@/core/crypto/site-credential';
import { siteFingerprints } from '@/core/crypto/site-fingerprint';
import {
  fetchOtherSession,
  fetchOtherSiteInfo,
  fetchSiteDirectory,
  signInAtOtherSite,
  signOutAtOtherSite,
} from '@/shared/api/other-sites';
import { ApiError } from '@/shared/api/request';

export type SignInState = 'signing-in' | 'signed-in' | 'signed-out' | 'refused' | 'unreachable';

/** One other site as this console is signed in there (MS-2). */
export interface OtherSite {
  readonly siteId: string;
  readonly name: string;
  readonly url: string;
  /** The site fingerprint this console's own site pinned. */
  readonly fingerprint: string;
  readonly state: SignInState;
  /** Why it was refused, for the person to read. */
  readonly reason?: string;
}

/** The bearer tokens live for this tab only, so a reload keeps them and a closed tab forgets them. */
const TOKENS_KEY = 'custodian.other-site-tokens';

function storedTokens(): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(sessionStorage.getItem(TOKENS_KEY) ?? '{}');
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/**
 * Signing in at every site this console's own site trusts, each on its
 * own (MS-2): the console asks the site who it is, refuses a site whose
 * fingerprint is not the pinned one, derives that site's credential from
 * the password with its ID, and keeps the bearer token it gets. A site
 * that refuses or cannot be reached does not stop the others, and can be
 * signed in to again on its own.
 */
export const useOtherSitesStore = defineStore('other-sites', () => {
  const sites = ref<OtherSite[]>([]);
  const tokens = ref<Record<string, string>>(storedTokens());
  /** The last load of the site list, settled whether it worked or not. */
  let pending: Promise<void> = Promise.resolve();

  function set(siteId: string, change: Partial<OtherSite>): void {
    sites.value = sites.value.map((site) =>
      site.siteId === siteId ? { ...site, ...change } : site,
    );
  }

  function keepToken(siteId: string, token: string | undefined): void {
    const next = { ...tokens.value };
    if (token === undefined) delete next[siteId];
    else next[siteId] = token;
    tokens.value = next;
    sessionStorage.setItem(TOKENS_KEY, JSON.stringify(next));
  }

  /**
   * The other sites, as this console's site lists them, each with what its
   * kept token is worth now: the site is asked, never assumed.
   */
  function load(): Promise<void> {
    const loading = listAndCheck();
    pending = loading.catch(() => undefined);
    return loading;
  }

  async function listAndCheck(): Promise<void> {
    const { sites: listed } = await fetchSiteDirectory();
    sites.value = listed.map((site) => ({
      ...site,
      state: tokens.value[site.siteId] ? 'signing-in' : 'signed-out',
    }));
    await Promise.all(listed.map((site) => checkToken(site.siteId, site.url)));
  }

  async function checkToken(siteId: string, url: string): Promise<void> {
    const token = tokens.value[siteId];
    if (!token) return;
    try {
      await fetchOtherSession(url, token);
      set(siteId, { state: 'signed-in' });
    } catch (error) {
      const unreachable = error instanceof ApiError && error.code === 'network_error';
      if (!unreachable) keepToken(siteId, undefined);
      set(siteId, { state: unreachable ? 'unreachable' : 'signed-out' });
    }
  }

  async function signInAt(siteId: string, userId: string, password: string): Promise<void> {
    const site = sites.value.find((s) => s.siteId === siteId);
    if (!site) return;
    set(siteId, { state: 'signing-in', reason: undefined });
    try {
      const info = await fetchOtherSiteInfo(site.url);
      const presented = await siteFingerprints(info);
      if (presented.site !== site.fingerprint) {
        // Not the site that was pinned: it gets nothing, not even a credential.
        set(siteId, { state: 'refused', reason: 'fingerprint' });
        return;
      }
      const credential = await deriveSiteCredential(password, info.siteId);
      keepToken(siteId, await signInAtOtherSite(site.url, userId, credential));
      set(siteId, { state: 'signed-in' });
    } catch (error) {
      const unreachable = error instanceof ApiError && error.code === 'network_error';
      set(siteId, {
        state: unreachable ? 'unreachable' : 'refused',
        reason: error instanceof ApiError ? error.code : undefined,
      });
    }
  }

  /** After signing in at this console's own site: every other site, side by side. */
  function signInEverywhere(userId: string, password: string): Promise<void> {
    const signing = signInAll(userId, password);
    pending = signing;
    return signing;
  }

  async function signInAll(userId: string, password: string): Promise<void> {
    try {
      await load();
    } catch {
      sites.value = [];
      return;
    }
    await Promise.all(sites.value.map((site) => signInAt(site.siteId, userId, password)));
  }

  /** Ends every session at the other sites; one that cannot be reached keeps its own expiry. */
  async function signOutEverywhere(): Promise<void> {
    await Promise.all(
      sites.value.map(async (site) => {
        const token = tokens.value[site.siteId];
        if (token) await signOutAtOtherSite(site.url, token).catch(() => undefined);
      }),
    );
    tokens.value = {};
    sessionStorage.removeItem(TOKENS_KEY);
    sites.value = [];
  }

  const signedInCount = computed(() => sites.value.filter((s) => s.state === 'signed-in').length);

  /**
   * Resolves once the site list being loaded (after a reload, say) has
   * answered and each kept token has been checked, so that whoever reads
   * `sites` and `tokens` next sees them as they are, not yet empty.
   */
  function settled(): Promise<void> {
    return pending;
  }

  return {
    sites,
    tokens,
    signedInCount,
    load,
    settled,
    signInAt,
    signInEverywhere,
    signOutEverywhere,
  };
});
