import type { Role, SessionInfo, UserSummary } from '../../../src/core/contract';
import { DomainError } from './errors';
import type { AuditLog } from './audit';
import type {
  AlertSink,
  Clock,
  PasswordHasher,
  Random,
  SessionRecord,
  SessionRepository,
  SignInFailureRepository,
  UserRecord,
  UserRepository,
} from './ports';

export interface IdentityDeps {
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly failures: SignInFailureRepository;
  readonly alerts: AlertSink;
  readonly audit: AuditLog;
  readonly hasher: PasswordHasher;
  readonly clock: Clock;
  readonly random: Random;
  readonly sessionTtlMs: number;
  readonly lockout: {
    readonly maxFailures: number;
    readonly windowMs: number;
    readonly lockMs: number;
  };
}

export interface Principal {
  readonly user: UserRecord;
  readonly session: SessionRecord;
}

/** The one sentence a failed sign-in gets, whatever failed (ID-3). */
const UNAUTHORIZED_USER = 'unauthorized user: the user ID or password is not correct.';

/**
 * Accounts, sessions and sign-in (ID-1..ID-4). Every decision is made here
 * from stored state, never from what a client claims (ID-2).
 */
export class IdentityService {
  /** Verified against when the user is unknown, so timing does not tell. */
  private decoyHash: Promise<string> | undefined;

  constructor(private readonly deps: IdentityDeps) {}

  async createUser(input: {
    userId: string;
    displayName: string;
    roles: readonly Role[];
    password: string;
    mustChangePassword?: boolean;
    createdBy?: string;
  }): Promise<UserRecord> {
    if (await this.deps.users.find(input.userId)) {
      throw new DomainError('user_exists', `A user named ${input.userId} already exists.`, 409);
    }
    const user: UserRecord = {
      userId: input.userId,
      displayName: input.displayName,
      roles: [...input.roles],
      passwordHash: await this.deps.hasher.hash(input.password),
      mustChangePassword: input.mustChangePassword ?? false,
      disabled: false,
      createdAt: this.deps.clock.now().toISOString(),
    };
    await this.deps.audit.append({
      event: 'user_created',
      actor: input.createdBy ?? null,
      details: { userId: user.userId, roles: [...user.roles] },
    });
    await this.deps.users.insert(user);
    return user;
  }

  /** Signs in; returns the cookie token (never stored) and the session. */
  async signIn(
    userId: string,
    password: string,
    clientAddress: string,
  ): Promise<{ token: string; info: SessionInfo }> {
    const { failures, lockout, clock } = this.deps;
    const now = clock.now();
    const recent = await failures.recent(
      userId,
      clientAddress,
      iso(now.getTime() - lockout.windowMs),
    );
    const latest = recent.at(-1);
    let priorFailures = recent.length;
    if (priorFailures >= lockout.maxFailures && latest !== undefined) {
      const unlockAt = Date.parse(latest) + lockout.lockMs;
      if (unlockAt > now.getTime()) {
        const minutes = Math.ceil((unlockAt - now.getTime()) / 60_000);
        await this.deps.audit.append({
          event: 'sign_in_refused',
          actor: userId,
          clientAddress,
          details: { reason: 'locked_out' },
        });
        throw new DomainError(
          'locked_out',
          `Too many failed sign-ins for this user from this address; try again in ${minutes} minute(s).`,
          429,
          { retryAfterSeconds: Math.ceil((unlockAt - now.getTime()) / 1000) },
        );
      }
      await failures.clear(userId, clientAddress);
      priorFailures = 0;
    }

    const user = await this.deps.users.find(userId);
    const passwordOk = user
      ? await this.deps.hasher.verify(password, user.passwordHash)
      : await this.deps.hasher.verify(password, await this.decoy());
    if (!user || user.disabled || !passwordOk) {
      await this.deps.audit.append({
        event: 'sign_in_refused',
        actor: userId,
        clientAddress,
        details: { reason: !user ? 'unknown_user' : user.disabled ? 'disabled' : 'bad_password' },
      });
      await failures.record(userId, clientAddress, now.toISOString());
      const count = priorFailures + 1;
      await this.deps.alerts.raise(
        count >= lockout.maxFailures
          ? {
              kind: 'brute_force',
              userId,
              volumeId: null,
              clientAddress,
              sentence: `${count} failed sign-ins for "${userId}" from ${clientAddress}; this address is locked out for that user.`,
            }
          : {
              kind: user ? 'bad_password' : 'unknown_user',
              userId,
              volumeId: null,
              clientAddress,
              sentence: user
                ? `Wrong password for "${userId}" from ${clientAddress}.`
                : `Sign-in attempt for unknown user "${userId}" from ${clientAddress}.`,
            },
      );
      throw new DomainError('unauthorized_user', UNAUTHORIZED_USER, 401);
    }

    await this.deps.audit.append({ event: 'sign_in', actor: user.userId, clientAddress });
    await failures.clear(userId, clientAddress);
    const token = this.deps.random.token();
    const session: SessionRecord = {
      tokenHash: await this.deps.random.sha256Hex(token),
      userId: user.userId,
      createdAt: now.toISOString(),
      expiresAt: iso(now.getTime() + this.deps.sessionTtlMs),
      revokedAt: null,
      clientAddress,
    };
    await this.deps.sessions.insert(session);
    return { token, info: sessionInfo(user, session) };
  }

  /** The principal behind a cookie token, or a refusal saying why not. */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw notSignedIn();
    const session = await this.deps.sessions.find(await this.deps.random.sha256Hex(token));
    if (!session || session.revokedAt !== null) throw notSignedIn();
    if (Date.parse(session.expiresAt) <= this.deps.clock.now().getTime()) {
      throw new DomainError('session_expired', 'Your session has expired; sign in again.', 401);
    }
    const user = await this.deps.users.find(session.userId);
    if (!user || user.disabled) throw notSignedIn();
    return { user, session };
  }

  async signOut(principal: Principal): Promise<void> {
    await this.deps.audit.append({ event: 'sign_out', actor: principal.user.userId });
    await this.deps.sessions.revoke(
      principal.session.tokenHash,
      this.deps.clock.now().toISOString(),
    );
  }

  async changePassword(
    principal: Principal,
    currentPassword: string,
    newPassword: string,
  ): Promise<void> {
    const { user } = principal;
    if (!(await this.deps.hasher.verify(currentPassword, user.passwordHash))) {
      throw new DomainError('wrong_password', 'The current password is not correct.', 400);
    }
    if (
      newPassword === currentPassword ||
      newPassword.toLowerCase().includes(user.userId.toLowerCase())
    ) {
      throw new DomainError(
        'weak_password',
        'Choose a new password that differs from the old one and does not contain your user ID.',
        400,
      );
    }
    await this.deps.users.updatePassword(
      user.userId,
      await this.deps.hasher.hash(newPassword),
      false,
    );
    // Other sessions may belong to whoever knew the old password.
    await this.deps.sessions.revokeAllOf(
      user.userId,
      this.deps.clock.now().toISOString(),
      principal.session.tokenHash,
    );
  }

  /** Users a volume can name as restorers (BK-4). */
  async restorers(): Promise<{ userId: string; displayName: string }[]> {
    const users = await this.deps.users.list();
    return users
      .filter((u) => !u.disabled && u.roles.includes('restorer'))
      .map((u) => ({ userId: u.userId, displayName: u.displayName }));
  }

  async listUsers(): Promise<UserSummary[]> {
    const users = await this.deps.users.list();
    return users.map((u) => ({
      userId: u.userId,
      displayName: u.displayName,
      roles: [...u.roles],
      disabled: u.disabled,
      mustChangePassword: u.mustChangePassword,
      createdAt: u.createdAt,
    }));
  }

  info(principal: Principal): SessionInfo {
    return sessionInfo(principal.user, principal.session);
  }

  private decoy(): Promise<string> {
    this.decoyHash ??= this.deps.hasher.hash(this.deps.random.token());
    return this.decoyHash;
  }
}

function sessionInfo(user: UserRecord, session: SessionRecord): SessionInfo {
  return {
    userId: user.userId,
    displayName: user.displayName,
    roles: [...user.roles],
    mustChangePassword: user.mustChangePassword,
    expiresAt: session.expiresAt,
  };
}

function notSignedIn(): DomainError {
  return new DomainError('not_signed_in', 'Sign in first.', 401);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
