import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import { acknowledgeAlerts, listAlerts } from '@/shared/api/admin-alerts';
import type { Alert } from '@/core/contract';
import {
  connectEventStream,
  type EventStreamConnection,
  type StreamState,
} from '@/shared/api/use-event-stream';

type AlertListener = (alert: Alert) => void;

/**
 * Alerts as every admin screen shares them (AL-2): the unread count of the
 * nav badge, kept live from the tab's one event stream, and the alerts that
 * arrived while the console was open, for toasts and highlighting.
 */
export const useAlertsStore = defineStore('alerts', () => {
  /** Unacknowledged alerts on the whole site; null until first known. */
  const unread = ref<number | null>(null);
  /** IDs of alerts that arrived live since the console was opened. */
  const arrived = ref<ReadonlySet<number>>(new Set());
  /** Bumped at every (re)connection, so lists reload what they may have missed. */
  const generation = ref(0);
  const listeners = new Set<AlertListener>();
  let connection: EventStreamConnection | undefined;
  let users = 0;

  const streamState = shallowRef<(() => StreamState) | null>(null);
  /** Whether new alerts arrive live; the alerts page says so. */
  const live = computed<StreamState>(() => streamState.value?.() ?? 'closed');

  async function refreshUnread(): Promise<void> {
    try {
      unread.value = (await listAlerts({ pageSize: 1 })).unacknowledged;
    } catch {
      // The badge keeps its last count; the alerts page shows its own error.
    }
  }

  /** Starts listening (ref-counted: the admin layout and tests may both call it). */
  function start(): void {
    users++;
    if (connection) return;
    connection = connectEventStream();
    const { state } = connection;
    streamState.value = () => state.value;
    connection.on('hello', () => {
      generation.value++;
      void refreshUnread();
    });
    connection.on('alert', ({ alert }) => {
      arrived.value = new Set([...arrived.value, alert.id]);
      if (unread.value !== null && alert.acknowledgedAt === null) unread.value++;
      for (const listener of [...listeners]) listener(alert);
    });
    void refreshUnread();
  }

  function stop(): void {
    users = Math.max(0, users - 1);
    if (users > 0 || !connection) return;
    connection.release();
    connection = undefined;
    streamState.value = null;
  }

  /** Calls `listener` for each alert that arrives live; returns the unsubscribe. */
  function onAlert(listener: AlertListener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  async function acknowledge(ids: readonly number[]): Promise<number> {
    const count = await acknowledgeAlerts(ids);
    await refreshUnread();
    return count;
  }

  return {
    unread,
    arrived,
    generation,
    live,
    start,
    stop,
    onAlert,
    acknowledge,
    refreshUnread,
  };
});
