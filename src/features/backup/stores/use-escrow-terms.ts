/**
 * The escrow terms of a backup as the operator sets them (BK-4, BK-5): who
 * may restore, whether the key is released once or again, whether another
 * administrator must approve, and until when.
 */

import { computed, ref } from 'vue';
import type { ReleasePolicy } from '@/core/crypto';
import type { GenerationRecord } from '@/shared/storage/database';

export type PolicyKind = ReleasePolicy['kind'];

/** An expiry date (YYYY-MM-DD) means: no release after the end of that day, UTC (BK-5). */
export function expiryInstant(date: string): string | null {
  return date ? `${date}T23:59:59.000Z` : null;
}

export function useEscrowTerms() {
  const restorers = ref<string[]>([]);
  const policyKind = ref<PolicyKind>('reusable');
  const approvalRequired = ref(false);
  const expiryDate = ref('');

  const expiryPast = computed(() => {
    const instant = expiryInstant(expiryDate.value);
    return instant !== null && instant <= new Date().toISOString();
  });

  function policy(): ReleasePolicy {
    return {
      kind: policyKind.value,
      approvalRequired: approvalRequired.value,
      expiresAt: expiryInstant(expiryDate.value),
    };
  }

  /** Takes the terms of an interrupted backup, which a resume keeps (BK-7). */
  function takeFrom(pending: GenerationRecord, userId: string): void {
    restorers.value = pending.restorers.filter((id) => id !== userId);
    policyKind.value = pending.policy.kind;
    approvalRequired.value = pending.policy.approvalRequired;
    expiryDate.value = pending.policy.expiresAt?.slice(0, 10) ?? '';
  }

  return { restorers, policyKind, approvalRequired, expiryDate, expiryPast, policy, takeFrom };
}
