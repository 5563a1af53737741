/**
 * A refusal the domain explains to the caller. `status` is the HTTP status it
 * maps to; the domain itself knows nothing else of HTTP.
 */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
