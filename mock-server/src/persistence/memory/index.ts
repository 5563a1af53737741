import type { EscrowStore, BlobStore } from '../../domain/escrow/ports';
import type {
  AlertRepository,
  AuditRepository,
  SessionRepository,
  SignInFailureRepository,
  UserRepository,
} from '../../domain/ports';
import type { SiteKeyRepository } from '../../domain/site-keys';
import { MemoryAlertRepository } from './memory-alerts';
import { MemoryAuditRepository, MemorySiteKeyRepository } from './memory-audit';
import { MemoryBlobStore } from '../../platform/memory-blob-store';
import { MemoryEscrowStore } from './memory-escrow';
import {
  MemorySessionRepository,
  MemorySignInFailureRepository,
  MemoryUserRepository,
} from './memory-identity';

export { MemoryAlertRepository } from './memory-alerts';
export { MemoryAuditRepository, MemorySiteKeyRepository } from './memory-audit';
export { MemoryBlobStore } from '../../platform/memory-blob-store';
export { MemoryEscrowStore, RECORD_COUNT_CAP } from './memory-escrow';
export {
  MemorySessionRepository,
  MemorySignInFailureRepository,
  MemoryUserRepository,
} from './memory-identity';
export { ConstraintError } from './sql-semantics';

/** Every repository port of the site, in memory. */
export interface MemoryRepositories {
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly failures: SignInFailureRepository;
  readonly alerts: AlertRepository;
  readonly audit: AuditRepository;
  readonly siteKeys: SiteKeyRepository;
  readonly escrow: EscrowStore;
  readonly blobs: BlobStore;
}

/**
 * A fresh, empty set of in-memory repositories: one "database" whose
 * sessions and device keys refer to its own users, as the site's foreign
 * keys demand.
 */
export function createMemoryRepositories(): MemoryRepositories {
  const users = new MemoryUserRepository();
  return {
    users,
    sessions: new MemorySessionRepository(users),
    failures: new MemorySignInFailureRepository(),
    alerts: new MemoryAlertRepository(),
    audit: new MemoryAuditRepository(),
    siteKeys: new MemorySiteKeyRepository(),
    escrow: new MemoryEscrowStore(users),
    blobs: new MemoryBlobStore(),
  };
}
