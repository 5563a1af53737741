import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import { actOnPairs, listPairs } from '@/shared/api/admin-pairs';
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

/**
 * The remote-copy pairs of this site (RC-7), kept live from `pair` events of
 * the tab's event stream; a reconnection reads the whole list again.
 */
export const usePairsStore = defineStore('pairs', () => {
  const list = useServerList({
    filter: undefined,
    fetch: (_request, signal) => listPairs(signal),
  });
  const { answer, loading, loaded, error, load } = list;
  const pairs = computed<readonly PairSummary[]>(() => answer.value ?? []);
  /** Pair IDs changed by a live event since the list was read, for a short highlight. */
  const touched = ref<ReadonlySet<string>>(new Set());
  const streamState = shallowRef<(() => StreamState) | null>(null);
  const live = computed<StreamState>(() => streamState.value?.() ?? 'closed');
  let connection: EventStreamConnection | undefined;
  let users = 0;

  const grouped = computed(() =>
    [...pairs.value].sort(
      (a, b) =>
        PAIR_GROUP_ORDER.indexOf(a.group) - PAIR_GROUP_ORDER.indexOf(b.group) ||
        a.volumeId.localeCompare(b.volumeId) ||
        a.siteId.localeCompare(b.siteId),
    ),
  );

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

  function stop(): void {
    users = Math.max(0, users - 1);
    if (users > 0 || !connection) return;
    connection.release();
    connection = undefined;
    streamState.value = null;
    list.cancel();
  }

  /** RC-3: the answer lists one instruction per pair; the rows follow from `pair` events. */
  async function act(pairIds: readonly string[], action: PairAction, reason: string) {
    const instructions = await actOnPairs(pairIds, action, reason);
    await load();
    return instructions;
  }

  return { pairs, grouped, loading, loaded, error, touched, live, load, start, stop, act, upsert };
});
