import type { ErrorCode } from '../../../src/core/contract';

/**
 * A refusal the domain explains to the caller. `status` is the HTTP status it
 * maps to; the domain itself knows nothing else of HTTP. `code` is one of the
 * contract's error codes, so the console has a sentence for every refusal.
 */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Whether a failure is the disk (ENOSPC) or the database (SQLITE_FULL) being full. */
export function isStorageFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // 53100: PostgreSQL's disk_full.
  return code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'EDQUOT' || code === '53100';
}

/** What the caller hears when the site's storage is full: nothing was kept, and why. */
export function storageFull(): DomainError {
  return new DomainError(
    'storage_full',
    "The site's storage is full, so nothing was stored and the action was not done. Tell the site administrator: the site needs more free disk space.",
    507,
  );
}
