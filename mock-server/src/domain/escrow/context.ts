import type { Role } from '../../../../src/core/contract';
import type { AuditLog } from '../audit';
import { DomainError } from '../errors';
import type { EventBus } from '../events';
import type { AlertSink, Clock, SiteLocks, UserRepository } from '../ports';
import type { SiteKeys } from '../site-keys';
import type { BlobStore, EscrowStore, EscrowTransaction } from './ports';

/** What every escrow rule may use. */
export interface EscrowDeps {
  readonly store: EscrowStore;
  readonly blobs: BlobStore;
  readonly users: UserRepository;
  readonly alerts: AlertSink;
  readonly audit: AuditLog;
  readonly events: EventBus;
  readonly clock: Clock;
  readonly keys: SiteKeys;
  readonly siteId: string;
  /**
   * The name of the site with this ID if this site trusts it (MS-1), else
   * undefined: a copy may name only a trusted site as the keeper of its keys.
   */
  readonly trustedSiteName: (siteId: string) => Promise<string | undefined>;
  /** How long a claim lives without a transfer (BK-3, BK-8). */
  readonly claimTtlMs: number;
  /**
   * SHA-256 as lower-case hex, over every transfer body: the platform's
   * fastest (node:crypto on the site, WebCrypto in the browser).
   */
  readonly sha256Hex: (data: Uint8Array) => Promise<string>;
  /** Locks across the site's instances (SX-2); by default the services' own, in process. */
  readonly locks?: SiteLocks;
}

/** The signed-in caller as the escrow rules see them (from the session, ID-2). */
export interface Caller {
  readonly userId: string;
  readonly roles: readonly Role[];
  readonly clientAddress: string;
}

export function nowIso(deps: Pick<EscrowDeps, 'clock'>): string {
  return deps.clock.now().toISOString();
}

/**
 * One decision, one transaction: its writes through `tx` and the audit
 * entries appended with it (`deps.audit.append(entry, tx)`) commit together
 * or not at all, so a crash never leaves half a decision or an audit entry
 * without its change. `work` touches `tx` and the audit log only (no alerts,
 * no user lookups: those wait for the database this work holds). A
 * refusal (DomainError) rolls everything back and is passed on; a storage
 * failure refuses the action like an unwritable audit log does.
 */
export async function inOneCommit<T>(
  deps: Pick<EscrowDeps, 'store'>,
  work: (tx: EscrowTransaction) => Promise<T>,
): Promise<T> {
  try {
    return await deps.store.atomically(work);
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw new DomainError(
      'audit_unavailable',
      'The audit log could not be written, so the action was refused; tell the site administrator.',
      503,
      { cause: error instanceof Error ? error.message : String(error) },
    );
  }
}
