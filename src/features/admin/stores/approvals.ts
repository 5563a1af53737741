import { defineStore } from 'pinia';
import { computed } from 'vue';
import { decideApproval, listApprovals } from '@/shared/api/approvals';
import type { Approval } from '@/core/contract';
import { connectEventStream, type EventStreamConnection } from '@/shared/api/use-event-stream';
import { useServerList } from '@/shared/ui/use-server-list';

/**
 * Requests waiting for a second administrator (BK-5 key releases, ES-2
 * re-arms). The nav link shows how many wait on every admin screen, so the
 * list is kept live from the tab's event stream: a new request arrives as an
 * `approval` event, and a reconnection reads the list again.
 */
export const useApprovalsStore = defineStore('approvals', () => {
  const list = useServerList({
    filter: undefined,
    fetch: (_request, signal) => listApprovals(signal),
  });
  const { answer, loading, loaded, error, load } = list;
  let connection: EventStreamConnection | undefined;
  let users = 0;

  const approvals = computed<readonly Approval[]>(() => answer.value ?? []);
  const pending = computed(() => (loaded.value ? approvals.value.length : null));

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
    list.cancel();
  }

  /**
   * Decides one request; a refusal (own request, already decided) is thrown to
   * the caller, and the list is read again so it shows what still waits.
   */
  async function decide(approvalId: string, approve: boolean, reason: string) {
    try {
      const decision = await decideApproval(approvalId, approve, reason);
      answer.value = approvals.value.filter((a) => a.id !== approvalId);
      return decision;
    } finally {
      void load();
    }
  }

  return { approvals, loading, loaded, error, pending, load, start, stop, decide };
});
