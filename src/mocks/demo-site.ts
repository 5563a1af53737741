import type { Role, SessionInfo, SiteInfo, SitePublicKey } from '@/core/contract';
import { DemoAlerts } from './demo-alerts';

export interface DemoUser {
  userId: string;
  displayName: string;
  roles: Role[];
  password: string;
  mustChangePassword: boolean;
  disabled: boolean;
  createdAt: string;
  activeSessions: number;
}

/** Failed sign-ins before a user is locked out for this browser (ID-3). */
export const DEMO_MAX_FAILURES = 5;
const DEMO_LOCK_SECONDS = 15 * 60;
const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

/** The demo accounts of SPEC §6; the password is `custodian-` + the user ID. */
function demoUsers(): Map<string, DemoUser> {
  const accounts: [string, string, Role[]][] = [
    ['admin', 'Administrator', ['admin']],
    ['admin2', 'Second administrator', ['admin']],
    ['operator', 'Backup operator', ['operator']],
    ['operator2', 'Second backup operator', ['operator']],
    ['restorer', 'Restorer', ['restorer']],
    ['restorer2', 'Second restorer', ['restorer']],
    ['outsider', 'Outsider', ['restorer']],
  ];
  return new Map(
    accounts.map(([userId, displayName, roles]) => [
      userId,
      {
        userId,
        displayName,
        roles,
        password: `custodian-${userId}`,
        mustChangePassword: false,
        disabled: false,
        createdAt: '2026-11-01T09:00:00.000Z',
        activeSessions: 0,
      },
    ]),
  );
}

/**
 * An in-memory escrow site as one browser sees it: the demo accounts, the
 * browser's session (what the HttpOnly cookie would carry) and the
 * sign-in failures counted from this browser's address.
 */
export class DemoSite {
  readonly description = {
    siteId: 'demo-site-0001',
    name: 'Custodian demo site (in memory)',
    version: '0.1.0',
    demo: true,
  } as const;
  users = demoUsers();
  readonly alerts = new DemoAlerts(this.description.siteId);
  private keys: Promise<Pick<SiteInfo, 'escrowKey' | 'signingKey'>> | undefined;
  private current: SessionInfo | null = null;
  private failures = new Map<string, number>();

  reset(): void {
    this.users = demoUsers();
    this.current = null;
    this.failures.clear();
    this.alerts.reset();
  }

  /** What GET /api/site answers; the site's key pairs are made on first use. */
  async siteInfo(): Promise<SiteInfo> {
    this.keys ??= makeSiteKeys();
    return { ...this.description, ...(await this.keys) };
  }

  get session(): SessionInfo | null {
    return this.current;
  }

  /** Starts a session directly, as if the user had signed in earlier. */
  startSession(userId: string): SessionInfo {
    const user = this.users.get(userId);
    if (!user) throw new Error(`no demo user ${userId}`);
    if (this.current?.userId !== userId) user.activeSessions++;
    this.current = {
      userId: user.userId,
      displayName: user.displayName,
      roles: [...user.roles],
      mustChangePassword: user.mustChangePassword,
      expiresAt: new Date(Date.now() + SESSION_TTL_MS).toISOString(),
    };
    return this.current;
  }

  endSession(): void {
    const user = this.current ? this.users.get(this.current.userId) : undefined;
    if (user) user.activeSessions = Math.max(0, user.activeSessions - 1);
    this.current = null;
  }

  /** `locked` when the user has failed too often here; `refused` for any wrong pair. */
  signIn(userId: string, password: string): SessionInfo | 'refused' | 'locked' {
    const failed = this.failures.get(userId) ?? 0;
    if (failed >= DEMO_MAX_FAILURES) return 'locked';
    const user = this.users.get(userId);
    if (!user || user.disabled || user.password !== password) {
      this.failures.set(userId, failed + 1);
      return 'refused';
    }
    this.failures.delete(userId);
    return this.startSession(userId);
  }

  lockSeconds(): number {
    return DEMO_LOCK_SECONDS;
  }

  /** The signed-in user's own password; the new one must not repeat the old or hold the ID. */
  changePassword(currentPassword: string, newPassword: string): 'ok' | 'wrong' | 'weak' {
    const user = this.current ? this.users.get(this.current.userId) : undefined;
    if (!user || user.password !== currentPassword) return 'wrong';
    if (newPassword === currentPassword || newPassword.toLowerCase().includes(user.userId)) {
      return 'weak';
    }
    user.password = newPassword;
    user.mustChangePassword = false;
    this.startSession(user.userId);
    return 'ok';
  }
}

/** Real P-256 key pairs, so fingerprints shown in the console are genuine. */
async function makeSiteKeys(): Promise<Pick<SiteInfo, 'escrowKey' | 'signingKey'>> {
  const { subtle } = globalThis.crypto;
  const curve = { namedCurve: 'P-256' } as const;
  const escrow = await subtle.generateKey({ name: 'ECDH', ...curve }, false, ['deriveBits']);
  const signing = await subtle.generateKey({ name: 'ECDSA', ...curve }, false, ['sign', 'verify']);
  return {
    escrowKey: await describePublicKey(escrow.publicKey),
    signingKey: await describePublicKey(signing.publicKey),
  };
}

/** JWK of a public key and its fingerprint: SHA-256 of the DER SPKI, lower-case hex. */
async function describePublicKey(publicKey: CryptoKey): Promise<SitePublicKey> {
  const { subtle } = globalThis.crypto;
  const jwk = await subtle.exportKey('jwk', publicKey);
  const digest = new Uint8Array(
    await subtle.digest('SHA-256', await subtle.exportKey('spki', publicKey)),
  );
  return {
    jwk: { kty: 'EC', crv: 'P-256', x: jwk.x ?? '', y: jwk.y ?? '' },
    fingerprint: [...digest].map((byte) => byte.toString(16).padStart(2, '0')).join(''),
  };
}

export const demoSite = new DemoSite();
