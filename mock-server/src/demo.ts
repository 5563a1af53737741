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

/** Creates whichever demo accounts are missing; returns the IDs it created. */
export async function seedDemoAccounts(
  identity: IdentityService,
  users: UserRepository,
): Promise<string[]> {
  const created: string[] = [];
  for (const account of DEMO_ACCOUNTS) {
    if (await users.find(account.userId)) continue;
    await identity.createUser({ ...account, password: demoPassword(account.userId) });
    created.push(account.userId);
  }
  return created;
}
