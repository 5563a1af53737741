/** A refusal of the demo site's escrow, approval and pair endpoints, with the site's code. */
export class EscrowRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}
