import type { Role } from '../../src/core/contract';
import type { IdentityService } from './domain/identity';
import type { UserRepository } from './domain/ports';

/** The demo accounts of SPEC §6; the password is `custodian-` + the user ID. */
export const DEMO_ACCOUNTS: readonly { userId: string; displayName: string; roles: Role[] }[] = [
  { userId: 'admin', displayName: 'Ada Admin', roles: ['admin'] },
  { userId: 'admin2', displayName: 'Alan Admin', roles: ['admin'] },
  { userId: 'operator', displayName: 'Olive Operator', roles: ['operator'] },
  { userId: 'operator2', displayName: 'Otto Operator', roles: ['operator'] },
  { userId: 'restorer', displayName: 'Rita Restorer', roles: ['restorer'] },
  { userId: 'restorer2', displayName: 'Rolf Restorer', roles: ['restorer'] },
  { userId: 'outsider', displayName: 'Oscar Outsider', roles: ['restorer'] },
];

export const demoPassword = (userId: string): string => `custodian-${userId}`;

/** Demo accounts would be added where they do not belong; the message says how to go on. */
export class DemoRefusedError extends Error {
  override readonly name = 'DemoRefusedError';
}

/**
 * Creates whichever demo accounts are missing; returns the IDs it created.
 * Their passwords are public, two of them administrators: on a site that has
 * other users they are refused unless `onExisting` says so on purpose.
 */
export async function seedDemoAccounts(
  identity: IdentityService,
  users: UserRepository,
  options: { onExisting?: boolean } = {},
): Promise<string[]> {
  const existing = await users.list();
  const missing = DEMO_ACCOUNTS.filter((a) => !existing.some((u) => u.userId === a.userId));
  // A demo site restarted adds nothing; a site with users of its own gains none by surprise.
  if (missing.length > 0 && existing.length > 0 && !options.onExisting) {
    const ids = existing.map((u) => u.userId);
    throw new DemoRefusedError(
      `Demo mode refused: this site already has ${ids.length} user(s) (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''}), ` +
        `and demo mode would add ${missing.length} demo account(s) whose passwords are public, administrators among them. ` +
        'Start without --demo (and without CUSTODIAN_DEMO). To add the demo accounts anyway, add --demo-on-existing (CUSTODIAN_DEMO_ON_EXISTING=1).',
    );
  }
  const created: string[] = [];
  for (const account of DEMO_ACCOUNTS) {
    if (await users.find(account.userId)) continue;
    await identity.createUser({ ...account, password: demoPassword(account.userId) });
    created.push(account.userId);
  }
  return created;
}
