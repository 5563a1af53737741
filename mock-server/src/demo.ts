import type { Role } from '../../src/core/contract';
import { deriveSiteCredential } from '../../src/core/crypto/site-credential';
import type { SiteServices } from './site';

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

/** How a password becomes a site credential (MS-2): `deriveSiteCredential` unless a test caches it. */
export type DeriveCredential = (password: string, siteId: string) => Promise<string>;

/** Demo accounts would be added where they do not belong; the message says how to go on. */
export class DemoRefusedError extends Error {
  override readonly name = 'DemoRefusedError';
}

/**
 * Creates whichever demo accounts are missing; returns the IDs it created.
 * Their passwords are public, two of them administrators: on a site that has
 * other users they are refused unless `onExisting` says so on purpose. Each
 * gets the verifier of its password's credential for this site, as a console
 * derives it (MS-2), so the passwords of the README sign in. A demo account
 * stored before site credentials whose password is still the public one is
 * moved to its credential too.
 */
export async function seedDemoAccounts(
  site: Pick<SiteServices, 'identity' | 'users' | 'info'>,
  options: { onExisting?: boolean; deriveCredential?: DeriveCredential } = {},
): Promise<string[]> {
  const { identity, users } = site;
  const derive = (userId: string): Promise<string> =>
    (options.deriveCredential ?? deriveSiteCredential)(demoPassword(userId), site.info.siteId);
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
  const stale = existing.filter(
    (u) => u.verifierOf === 'raw-password' && DEMO_ACCOUNTS.some((a) => a.userId === u.userId),
  );
  // Derived side by side: 600 000 PBKDF2 rounds each, and WebCrypto runs them in parallel.
  const credentials = new Map(
    await Promise.all(
      [...missing, ...stale].map(async (a) => [a.userId, await derive(a.userId)] as const),
    ),
  );
  for (const user of stale) {
    await identity.upgradePublicPassword(
      user.userId,
      demoPassword(user.userId),
      credentials.get(user.userId)!,
    );
  }
  const created: string[] = [];
  for (const account of missing) {
    if (await users.find(account.userId)) continue;
    await identity.createUser({ ...account, credential: credentials.get(account.userId)! });
    created.push(account.userId);
  }
  return created;
}
