import {
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  type AdminUser,
  type Role,
  type SessionInfo,
} from '../../../src/core/contract';
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

/** Who changes a user, why, and from where: all of it goes to the audit log (ID-1, AL-4). */
export interface AdminAction {
  readonly actor: Principal;
  readonly reason: string;
  readonly clientAddress: string;
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
  private adminQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: IdentityDeps) {}

  async createUser(input: {
    userId: string;
    displayName: string;
    roles: readonly Role[];
    password: string;
    mustChangePassword?: boolean;
    createdBy?: string;
    reason?: string;
    clientAddress?: string;
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
      clientAddress: input.clientAddress ?? null,
      details: {
        userId: user.userId,
        roles: [...user.roles],
        ...(input.reason !== undefined ? { reason: input.reason } : {}),
      },
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

  async listUsers(): Promise<AdminUser[]> {
    const [users, sessions] = await Promise.all([
      this.deps.users.list(),
      this.deps.sessions.countActive(this.deps.clock.now().toISOString()),
    ]);
    return users.map((u) => adminView(u, sessions.get(u.userId) ?? 0));
  }

  /**
   * An administrator creates an account (ID-1). The initial password is
   * only for the first sign-in: the user must choose their own then.
   */
  adminCreateUser(
    action: AdminAction,
    input: { userId: string; displayName: string; roles: readonly Role[]; initialPassword: string },
  ): Promise<AdminUser> {
    return this.exclusive(action, async () => {
      const reason = requireReason(action.reason);
      checkNewPassword(input.userId, input.initialPassword);
      const user = await this.createUser({
        userId: input.userId,
        displayName: input.displayName.trim(),
        roles: [...new Set(input.roles)],
        password: input.initialPassword,
        mustChangePassword: true,
        createdBy: action.actor.user.userId,
        reason,
        clientAddress: action.clientAddress,
      });
      return adminView(user, 0);
    });
  }

  /** Disabling ends the user's sessions at once; enabling does not revive them. */
  setDisabled(action: AdminAction, userId: string, disabled: boolean): Promise<AdminUser> {
    return this.exclusive(action, async () => {
      const reason = requireReason(action.reason);
      const user = await this.existing(userId);
      if (user.disabled === disabled) return this.view(user);
      if (disabled) {
        if (user.userId === action.actor.user.userId) {
          throw new DomainError(
            'own_account',
            'You cannot disable your own account; ask another administrator.',
            409,
          );
        }
        await this.refuseLastAdmin(user, false);
      }
      await this.audited(action, disabled ? 'user_disabled' : 'user_enabled', user, { reason });
      await this.deps.users.setDisabled(user.userId, disabled);
      if (disabled) await this.deps.sessions.revokeAllOf(user.userId, this.nowIso());
      return this.view({ ...user, disabled });
    });
  }

  /**
   * Sets a new temporary password that must be changed at the next sign-in
   * and ends the user's sessions. The password is returned once, never stored
   * in clear and never written to the audit log.
   */
  resetPassword(
    action: AdminAction,
    userId: string,
  ): Promise<{ user: AdminUser; temporaryPassword: string }> {
    return this.exclusive(action, async () => {
      const reason = requireReason(action.reason);
      const user = await this.existing(userId);
      if (user.userId === action.actor.user.userId) {
        throw new DomainError(
          'own_account',
          'Change your own password on the Change password page instead.',
          409,
        );
      }
      const temporaryPassword = this.temporaryPassword(user.userId);
      const passwordHash = await this.deps.hasher.hash(temporaryPassword);
      await this.audited(action, 'user_password_reset', user, { reason });
      await this.deps.users.updatePassword(user.userId, passwordHash, true);
      await this.deps.sessions.revokeAllOf(user.userId, this.nowIso());
      return {
        user: await this.view({ ...user, passwordHash, mustChangePassword: true }),
        temporaryPassword,
      };
    });
  }

  /** Roles take effect at the user's next call: every call reads them afresh (ID-2). */
  setRoles(action: AdminAction, userId: string, roles: readonly Role[]): Promise<AdminUser> {
    return this.exclusive(action, async () => {
      const reason = requireReason(action.reason);
      const user = await this.existing(userId);
      const next = [...new Set(roles)];
      if (next.length === 0) {
        throw new DomainError('invalid_request', 'Give the user at least one role.', 400);
      }
      const same = next.length === user.roles.length && next.every((r) => user.roles.includes(r));
      if (same) return this.view(user);
      await this.refuseLastAdmin(user, next.includes('admin'));
      await this.audited(action, 'user_roles_changed', user, {
        reason,
        from: [...user.roles],
        to: next,
      });
      await this.deps.users.updateRoles(user.userId, next);
      return this.view({ ...user, roles: next });
    });
  }

  /** Ends every session of the user (ID-1); an administrator ending their own keeps this one. */
  endSessions(action: AdminAction, userId: string): Promise<{ user: AdminUser; ended: number }> {
    return this.exclusive(action, async () => {
      const reason = requireReason(action.reason);
      const user = await this.existing(userId);
      const keep =
        user.userId === action.actor.user.userId ? action.actor.session.tokenHash : undefined;
      await this.audited(action, 'user_sessions_ended', user, { reason });
      const ended = await this.deps.sessions.revokeAllOf(user.userId, this.nowIso(), keep);
      return { user: await this.view(user), ended };
    });
  }

  info(principal: Principal): SessionInfo {
    return sessionInfo(principal.user, principal.session);
  }

  /**
   * User changes run one at a time, so two administrators cannot each remove
   * "the other" administrator and leave the site with none.
   */
  private exclusive<T>(action: AdminAction, work: () => Promise<T>): Promise<T> {
    const run = this.adminQueue.then(async () => {
      // The actor may have lost the right while waiting for their turn.
      const actor = await this.deps.users.find(action.actor.user.userId);
      if (!actor || actor.disabled) throw notSignedIn();
      if (!actor.roles.includes('admin')) {
        throw new DomainError('forbidden', 'Your account is no longer an administrator.', 403);
      }
      return work();
    });
    this.adminQueue = run.catch(() => undefined);
    return run;
  }

  private async existing(userId: string): Promise<UserRecord> {
    const user = await this.deps.users.find(userId);
    if (!user) throw new DomainError('user_not_found', `There is no user ${userId}.`, 404);
    return user;
  }

  /** The last active administrator can be neither disabled nor demoted (ID-1). */
  private async refuseLastAdmin(user: UserRecord, staysAdmin: boolean): Promise<void> {
    if (staysAdmin || user.disabled || !user.roles.includes('admin')) return;
    if ((await this.deps.users.countWithRole('admin')) <= 1) {
      throw new DomainError(
        'last_admin',
        `The last administrator cannot be removed: make another user an administrator before changing ${user.userId}.`,
        409,
      );
    }
  }

  /** Written before the change: an action whose entry cannot be written is refused (AL-4). */
  private async audited(
    action: AdminAction,
    event: string,
    user: UserRecord,
    details: Record<string, string | string[]>,
  ): Promise<void> {
    await this.deps.audit.append({
      event,
      actor: action.actor.user.userId,
      clientAddress: action.clientAddress,
      details: { userId: user.userId, ...details },
    });
  }

  private async view(user: UserRecord): Promise<AdminUser> {
    const sessions = await this.deps.sessions.countActive(this.nowIso());
    return adminView(user, sessions.get(user.userId) ?? 0);
  }

  /** 16 letters and digits from a 256-bit token: about 95 bits, easy to read out. */
  private temporaryPassword(userId: string): string {
    for (;;) {
      const letters = this.deps.random.token().replace(/[^A-Za-z0-9]/g, '');
      if (letters.length < 16) continue;
      const password = letters.slice(0, 16).replace(/(.{4})(?!$)/g, '$1-');
      if (!password.toLowerCase().includes(userId.toLowerCase())) return password;
    }
  }

  private nowIso(): string {
    return this.deps.clock.now().toISOString();
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

function adminView(user: UserRecord, activeSessions: number): AdminUser {
  return {
    userId: user.userId,
    displayName: user.displayName,
    roles: [...user.roles],
    disabled: user.disabled,
    mustChangePassword: user.mustChangePassword,
    createdAt: user.createdAt,
    activeSessions: user.disabled ? 0 : activeSessions,
  };
}

/** Every administrative change says why; the audit log keeps the reason (ID-1, AL-4). */
function requireReason(reason: string): string {
  const trimmed = reason.trim();
  if (!trimmed) {
    throw new DomainError(
      'reason_required',
      'Give a reason for this change; it is kept in the audit log.',
      400,
    );
  }
  return trimmed;
}

/** An initial password an administrator sets must still be a fair one. */
export function checkNewPassword(userId: string, password: string): void {
  if (
    password.length < PASSWORD_MIN_LENGTH ||
    password.length > PASSWORD_MAX_LENGTH ||
    password.toLowerCase().includes(userId.toLowerCase()) ||
    new Set(password).size < 4
  ) {
    throw new DomainError(
      'weak_password',
      `Choose a password of at least ${PASSWORD_MIN_LENGTH} characters, with at least 4 different characters, that does not contain the user ID.`,
      400,
    );
  }
}

function notSignedIn(): DomainError {
  return new DomainError('not_signed_in', 'Sign in first.', 401);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
