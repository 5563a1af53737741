/**
 * Named points inside the escrow decisions where a test of crash recovery
 * stops the site: the site's process arms one point from CUSTODIAN_HOLD_AT
 * (app.ts), and the decision then prints "holding at <name>" there and waits
 * for ever, so the test can kill it at exactly that point instead of hoping a
 * timer lands there. Unarmed (always, outside those tests) a point does nothing.
 */
export type HoldPoint =
  | 'commit-stored'
  | 'envelope-audited'
  | 'generation-audited'
  | 'registration-audited'
  | 'release-burned';

const HOLD_POINTS: readonly HoldPoint[] = [
  'commit-stored',
  'envelope-audited',
  'generation-audited',
  'registration-audited',
  'release-burned',
];

let armed: { name: HoldPoint; announce: (line: string) => void } | null = null;

/** Arms the point named (ignoring a name that is none), announcing through `announce`. */
export function armHoldPoint(name: string | undefined, announce: (line: string) => void): void {
  const point = HOLD_POINTS.find((p) => p === name);
  armed = point ? { name: point, announce } : null;
}

export async function holdPoint(name: HoldPoint): Promise<void> {
  if (armed?.name !== name) return;
  armed.announce(`holding at ${name}\n`);
  await new Promise<never>(() => undefined);
}
