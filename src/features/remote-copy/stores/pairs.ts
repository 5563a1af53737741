import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import { actOnPairs, listPairs } from '@/shared/api/admin-pairs';
import type { SiteAddress } from '@/shared/api/request';
import { useOtherSitesStore } from '@/features/sites';
import type { PairAction, PairSummary } from '@/core/contract';
import { useServerList } from '@/shared/ui/use-server-list';
import {
  connectEventStream,
  type EventStreamConnection,
  type StreamState,
} from '@/shared/api/use-event-stream';

export type PairGroup = PairSummary['group'];

/** RC-7: pairs in trouble first, then those catching up, then those in step. */
export const PAIR_GROUP_ORDER: readonly PairGroup[] = ['error', 'syncing', 'in_step'];

/** Another site whose pairs are listed, as the administrator is signed in there (MS-6). */
export interface PairSite extends Required<SiteAddress> {
  readonly siteId: string;
  readonly name: string;
}

/**
 * The remote-copy pairs of this site (RC-7), kept live from `pair` events of
 * the tab's event stream; a reconnection reads the whole list again. Beside
 * them, one row per (volume, site) for every other site the administrator
 * is signed in at (MS-6), live from that site's own event stream, each
 * acted on at its own site. A site that cannot list its pairs (away, or no administrator
 * there) is named, and the others are shown.
 */
export const usePairsStore = defineStore('pairs', () => {
  const otherSites = useOtherSitesStore();
  /** The other site each listed pair lives at; absent for this console's own site. */
  const pairSites = shallowRef<ReadonlyMap<string, PairSite>>(new Map());
  /** Other sites whose pairs could not be listed at the last reading, by name. */
  const sitesNotListed = ref<string[]>([]);

  async function listEverywhere(signal: AbortSignal): Promise<PairSummary[]> {
    await otherSites.settled();
    const others: PairSite[] = otherSites.sites.flatMap((site) => {
      const token = otherSites.tokens[site.siteId];
      return site.state === 'signed-in' && token
        ? [{ siteId: site.siteId, name: site.name, url: site.url, token }]
        : [];
    });
    const notSignedIn = otherSites.sites
      .filter((site) => !others.some((other) => other.siteId === site.siteId))
      .map((site) => site.name);
    const [own, ...elsewhere] = await Promise.all([
      listPairs(signal),
      ...others.map((site) =>
        listPairs(signal, { url: site.url, token: site.token }).catch(() => null),
      ),
    ]);
    const located = new Map<string, PairSite>();
    const missing = [...notSignedIn];
    const pairs = [...own];
    elsewhere.forEach((listed, i) => {
      const site = others[i]!;
      if (listed === null) {
        missing.push(site.name);
        return;
      }
      for (const pair of listed) {
        located.set(pair.pairId, site);
        pairs.push(pair);
      }
    });
    pairSites.value = located;
    sitesNotListed.value = missing;
    follow(others.filter((site) => !missing.includes(site.name)));
    return pairs;
  }

  const list = useServerList({
    filter: undefined,
    fetch: (_request, signal) => listEverywhere(signal),
  });
  const { answer, loading, loaded, error, load } = list;
  const pairs = computed<readonly PairSummary[]>(() => answer.value ?? []);
  /** Pair IDs changed by a live event since the list was read, for a short highlight. */
  const touched = ref<ReadonlySet<string>>(new Set());
  const streamState = shallowRef<(() => StreamState) | null>(null);
  const live = computed<StreamState>(() => streamState.value?.() ?? 'closed');
  let connection: EventStreamConnection | undefined;
  /** The streams of the other sites listed, by site ID and token (MS-2). */
  const otherConnections = new Map<string, EventStreamConnection>();
  let users = 0;

  const grouped = computed(() =>
    [...pairs.value].sort(
      (a, b) =>
        PAIR_GROUP_ORDER.indexOf(a.group) - PAIR_GROUP_ORDER.indexOf(b.group) ||
        a.volumeId.localeCompare(b.volumeId) ||
        a.siteId.localeCompare(b.siteId),
    ),
  );

  /** The other site a pair lives at, or undefined for this console's own site. */
  function siteOf(pairId: string): PairSite | undefined {
    return pairSites.value.get(pairId);
  }

  function upsert(pair: PairSummary): void {
    const index = pairs.value.findIndex((p) => p.pairId === pair.pairId);
    answer.value =
      index < 0 ? [...pairs.value, pair] : pairs.value.map((p, i) => (i === index ? pair : p));
    touched.value = new Set([...touched.value, pair.pairId]);
  }

  function start(): void {
    users++;
    if (connection) return;
    connection = connectEventStream();
    const { state } = connection;
    streamState.value = () => state.value;
    connection.on('hello', () => void load());
    connection.on('pair', ({ pair }) => upsert(pair));
    void load();
  }

  /** Follows the stream of every other site listed; a site no longer listed is let go. */
  function follow(sites: readonly PairSite[]): void {
    const wanted = new Map(sites.map((site) => [`${site.siteId}\n${site.token}`, site]));
    for (const [key, other] of otherConnections) {
      if (!wanted.has(key)) {
        other.release();
        otherConnections.delete(key);
      }
    }
    if (!connection) return;
    for (const [key, site] of wanted) {
      if (otherConnections.has(key)) continue;
      const stream = connectEventStream({ url: site.url, token: site.token });
      stream.on('hello', () => void load());
      stream.on('pair', ({ pair }) => {
        pairSites.value = new Map([...pairSites.value, [pair.pairId, site]]);
        upsert(pair);
      });
      otherConnections.set(key, stream);
    }
  }

  function stop(): void {
    users = Math.max(0, users - 1);
    if (users > 0 || !connection) return;
    connection.release();
    connection = undefined;
    follow([]);
    streamState.value = null;
    list.cancel();
  }

  /** RC-3: the answer lists one instruction per pair; the rows follow from `pair` events. */
  async function act(pairIds: readonly string[], action: PairAction, reason: string) {
    // Each site acts on its own pairs (MS-6).
    const bySite = new Map<PairSite | undefined, string[]>();
    for (const pairId of pairIds) {
      const site = siteOf(pairId);
      bySite.set(site, [...(bySite.get(site) ?? []), pairId]);
    }
    const answers = await Promise.all(
      [...bySite].map(([site, ids]) =>
        actOnPairs(ids, action, reason, site && { url: site.url, token: site.token }),
      ),
    );
    await load();
    return answers.flat();
  }

  return {
    pairs,
    grouped,
    loading,
    loaded,
    error,
    touched,
    live,
    sitesNotListed,
    siteOf,
    load,
    start,
    stop,
    act,
    upsert,
  };
});
