import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import { decideApproval, listApprovals } from '@/shared/api/approvals';
import type { Approval } from '@/core/contract';
import { connectEventStream, type EventStreamConnection } from '@/shared/api/use-event-stream';

/**
 * Requests waiting for a second administrator (BK-5 key releases, ES-2
 * re-arms). The nav link shows how many wait on every admin screen, so the
 * list is kept live from the tab's event stream: a new request arrives as an
 * `approval` event, and a reconnection reads the list again.
 */
export const useApprovalsStore = defineStore('approvals', () => {
  const approvals = shallowRef<Approval[]>([]);
  const loading = ref(false);
  const loaded = ref(false);
  const error = ref<unknown>(null);
  let connection: EventStreamConnection | undefined;
  let users = 0;
  let controller: AbortController | undefined;

  const pending = computed(() => (loaded.value ? approvals.value.length : null));

  async function load(): Promise<void> {
    controller?.abort();
    const current = new AbortController();
    controller = current;
    loading.value = true;
    try {
      approvals.value = await listApprovals(current.signal);
      loaded.value = true;
      error.value = null;
    } catch (cause) {
      if (current.signal.aborted) return;
      error.value = cause;
    } finally {
      if (controller === current) loading.value = false;
    }
  }

  /** Ref-counted: the admin nav and the approvals page may both listen. */
  function start(): void {
    users++;
    if (connection) return;
    connection = connectEventStream();
    connection.on('hello', () => void load());
    connection.on('approval', () => void load());
    void load();
  }

  function stop(): void {
    users = Math.max(0, users - 1);
    if (users > 0 || !connection) return;
    connection.release();
    connection = undefined;
    controller?.abort();
  }

  /**
   * Decides one request; a refusal (own request, already decided) is thrown to
   * the caller, and the list is read again so it shows what still waits.
   */
  async function decide(approvalId: string, approve: boolean, reason: string) {
    try {
      const decision = await decideApproval(approvalId, approve, reason);
      approvals.value = approvals.value.filter((a) => a.id !== approvalId);
      return decision;
    } finally {
      void load();
    }
  }

  return { approvals, loading, loaded, error, pending, load, start, stop, decide };
});
