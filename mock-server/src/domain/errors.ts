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
