/**
 * Named points inside the escrow decisions where a test of crash recovery
 * stops the site: with CUSTODIAN_HOLD_AT=<name> in the site's environment the
 * process prints "holding at <name>" and waits there for ever, so the test
 * can kill it at exactly that point instead of hoping a timer lands there.
 * Without the variable (always, outside those tests) a point does nothing.
 */
export type HoldPoint =
  'commit-stored' | 'envelope-audited' | 'generation-audited' | 'release-burned';

const holdAt = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
  ?.env?.CUSTODIAN_HOLD_AT;

export async function holdPoint(name: HoldPoint): Promise<void> {
  if (holdAt !== name) return;
  process.stdout.write(`holding at ${name}\n`);
  await new Promise<never>(() => undefined);
}
