import {
  type AdminUser,
  type AuditEventName,
  type Role,
  type RoleGrant,
  type SessionInfo,
} from '../../../src/core/contract';
import { deriveSiteCredential } from '../../../src/core/crypto/site-credential';
import { DomainError } from './errors';
import { KeyedMutex } from './keyed-mutex';
import type { AuditLog } from './audit';
import type {
  AlertSink,
  Clock,
  NewAlert,
  PasswordHasher,
  PasswordUpdate,
  Random,
  ReservedAttempt,
  RoleGrantRecord,
  SessionRecord,
  SessionRepository,
  SignInFailureRepository,
  SiteLocks,
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
  /** This site's ID: the salt of its users' credentials (MS-2, FORMAT.md §15). */
  readonly siteId: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly sessionTtlMs: number;
  readonly lockout: {
    readonly maxFailures: number;
    readonly windowMs: number;
    readonly lockMs: number;
  };
  /** Locks across the site's instances (SX-2); by default this process's own. */
  readonly locks?: SiteLocks;
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

/** Why a sign-in was refused, as the audit log records it; the caller always hears the same. */
type SignInRefusal = 'unknown_user' | 'disabled' | 'legacy_verifier' | 'bad_password';

/**
 * Accounts, sessions and sign-in (ID-1..ID-4). Every decision is made here
 * from stored state, never from what a client claims (ID-2).
 */
export class IdentityService {
  /** Verified against when the user is unknown, so timing does not tell. */
  private decoyHash: Promise<string> | undefined;
  /** User changes, one at a time on every instance of the site (`exclusive`). */
  private readonly locks: SiteLocks;
  private readonly accountWatchers = new Set<(userId: string) => void>();
  private accountRelay: ((userId: string) => void) | undefined;

  constructor(private readonly deps: IdentityDeps) {
    this.locks = deps.locks ?? new KeyedMutex();
  }

  /**
   * Stores an account with the verifier of `credential`, the credential of
   * its password for this site (MS-2): derived by the console, by the site's
   * command line, or by the site itself for a password it made or a demo
   * password, never sent here as the password.
   */
  async createUser(input: {
    userId: string;
    displayName: string;
    roles: readonly Role[];
    credential: string;
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
      passwordHash: await this.deps.hasher.hash(input.credential),
      verifierOf: 'site-credential',
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

  /**
   * Signs in; returns the cookie token (never stored) and the session. The
   * attempt is counted against the lock-out before the slow verifier runs
   * and cleared only by the right password, so parallel guesses are held to
   * the same limit as sequential ones (ID-3). Everything here is this site's
   * own: its verifier, its lock-out and its alerts; `credential` is the one
   * derived for this site (MS-2), which opens no other site. An account whose
   * verifier was made from the raw password is refused as a wrong password
   * would be: same answer, same time, same count and alerts.
   */
  async signIn(
    userId: string,
    credential: string,
    clientAddress: string,
  ): Promise<{ token: string; info: SessionInfo }> {
    const { failures, lockout, clock } = this.deps;
    const now = clock.now();
    const nowMs = now.getTime();
    const user = await this.deps.users.find(userId);
    const attempt = await failures.reserve(
      { userId, clientAddress, at: now.toISOString(), unknownUser: !user },
      iso(nowMs - lockout.windowMs),
      iso(nowMs - (nowMs % lockout.windowMs)),
      (recent) => {
        const latest = recent.at(-1);
        if (recent.length < lockout.maxFailures || latest === undefined) return 'count';
        return Date.parse(latest) + lockout.lockMs > nowMs ? 'refuse' : 'count-afresh';
      },
    );
    if (attempt.verdict === 'refuse') {
      const unlockAt = Date.parse(attempt.recent.at(-1) ?? now.toISOString()) + lockout.lockMs;
      const minutes = Math.ceil((unlockAt - nowMs) / 60_000);
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
        { retryAfterSeconds: Math.ceil((unlockAt - nowMs) / 1000) },
      );
    }

    const checkable = user?.verifierOf === 'site-credential';
    // Unknown and legacy accounts are checked against a decoy, so timing does not tell.
    const credentialOk = await this.deps.hasher.verify(
      credential,
      checkable ? user.passwordHash : await this.decoy(),
    );
    const refusal = refusalOf(user, credentialOk);
    if (!user || refusal !== null) {
      await this.deps.audit.append({
        event: 'sign_in_refused',
        actor: userId,
        clientAddress,
        details: { reason: refusal ?? 'unknown_user' },
      });
      for (const alert of this.failureAlerts(userId, clientAddress, refusal, attempt)) {
        await this.deps.alerts.raise(alert);
      }
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

  /**
   * One alert per failure until a limit, then one summary, not hundreds
   * (ID-3): per (user, address) the failure that locks the address out, and
   * per address the attempt for unknown user IDs that reaches the limit in
   * this window; later ones in the window are audited but not alerted.
   */
  private failureAlerts(
    userId: string,
    clientAddress: string,
    refusal: SignInRefusal | null,
    attempt: ReservedAttempt,
  ): NewAlert[] {
    const knownUser = refusal !== 'unknown_user';
    const { maxFailures, windowMs } = this.deps.lockout;
    const alerts: NewAlert[] = [];
    const about = { volumeId: null, clientAddress };
    if (attempt.failures >= maxFailures) {
      alerts.push({
        ...about,
        kind: 'brute_force',
        userId,
        message: {
          code: 'locked_out',
          params: { count: attempt.failures, userId, clientAddress },
        },
        sentence: `${attempt.failures} failed sign-ins for "${userId}" from ${clientAddress}; this address is locked out for that user.`,
      });
    }
    if (!knownUser && attempt.unknownFromAddress === maxFailures) {
      alerts.push({
        ...about,
        kind: 'brute_force',
        userId: null,
        message: {
          code: 'unknown_users_many',
          params: {
            count: attempt.unknownFromAddress,
            clientAddress,
            minutes: Math.round(windowMs / 60_000),
          },
        },
        sentence: `${attempt.unknownFromAddress} sign-in attempts for unknown user IDs from ${clientAddress} within ${Math.round(windowMs / 60_000)} minutes; further ones from this address in this period are audited but not alerted one by one.`,
      });
    }
    if (alerts.length > 0 || attempt.failures >= maxFailures) return alerts;
    if (knownUser) {
      return [
        {
          ...about,
          kind: 'bad_password',
          userId,
          // Administrators alone read this; the caller heard "unauthorized user" as for any failure.
          message: {
            code: refusal === 'legacy_verifier' ? 'legacy_verifier' : 'wrong_password',
            params: { userId, clientAddress },
          },
          sentence:
            refusal === 'legacy_verifier'
              ? `Sign-in refused for "${userId}" from ${clientAddress}: the account's stored verifier was made from the password itself, before sign-in by site credential, and cannot check one. Reset the password to give the user a temporary one.`
              : `Wrong password for "${userId}" from ${clientAddress}.`,
        },
      ];
    }
    if (attempt.unknownFromAddress > maxFailures) return [];
    return [
      {
        ...about,
        kind: 'unknown_user',
        userId,
        message: { code: 'unknown_user', params: { userId, clientAddress } },
        sentence: `Sign-in attempt for unknown user "${userId}" from ${clientAddress}.`,
      },
    ];
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

  /**
   * Tells `watcher` the user ID whose sessions or roles just changed (sign-out,
   * ended sessions, disabling, a reset, new roles), so that open event streams
   * check their rights at once rather than at the next event. Returns the
   * unsubscribe.
   */
  onAccountChange(watcher: (userId: string) => void): () => void {
    this.accountWatchers.add(watcher);
    return () => this.accountWatchers.delete(watcher);
  }

  /** Where account changes go besides this instance's watchers (SX-2: the site's other instances). */
  relayTo(relay: ((userId: string) => void) | undefined): void {
    this.accountRelay = relay;
  }

  private changed(userId: string): void {
    this.noteAccountChange(userId);
    this.accountRelay?.(userId);
  }

  /** Tells this instance's watchers that `userId`'s account or sessions changed (here or on another instance). */
  noteAccountChange(userId: string): void {
    for (const watcher of this.accountWatchers) {
      try {
        watcher(userId);
      } catch {
        // One broken watcher must not keep the others from hearing.
      }
    }
  }

  /**
   * A session whose user must still change their password (a new account, a
   * reset) may only read itself, change the password and sign out: the
   * temporary password was seen by an administrator, so it opens nothing else.
   */
  requirePasswordChanged(principal: Principal): void {
    if (principal.user.mustChangePassword) {
      throw new DomainError(
        'password_change_required',
        'Change your password first: this account still has a temporary password.',
        403,
      );
    }
  }

  async signOut(principal: Principal): Promise<void> {
    await this.deps.audit.append({ event: 'sign_out', actor: principal.user.userId });
    await this.deps.sessions.revoke(
      principal.session.tokenHash,
      this.deps.clock.now().toISOString(),
    );
    this.changed(principal.user.userId);
  }

  /**
   * The user's own new password, as its credential for this site (MS-2). The
   * site never sees the password, so the console applies its rule (ID-1);
   * the site can still tell the same password again, as the same credential.
   */
  async changePassword(
    principal: Principal,
    currentCredential: string,
    newCredential: string,
  ): Promise<void> {
    const { user } = principal;
    if (!(await this.deps.hasher.verify(currentCredential, user.passwordHash))) {
      throw new DomainError('wrong_password', 'The current password is not correct.', 400);
    }
    if (newCredential === currentCredential) {
      throw new DomainError(
        'weak_password',
        'Choose a new password that differs from the old one.',
        400,
      );
    }
    await this.deps.users.updatePassword(user.userId, {
      passwordHash: await this.deps.hasher.hash(newCredential),
      verifierOf: 'site-credential',
      mustChangePassword: false,
    });
    // Other sessions may belong to whoever knew the old password.
    await this.deps.sessions.revokeAllOf(
      user.userId,
      this.deps.clock.now().toISOString(),
      principal.session.tokenHash,
    );
    this.changed(user.userId);
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
   * only for the first sign-in: the user must choose their own then. It
   * arrives as its credential for this site (MS-2), its rule checked by the
   * administrator's console. The admin role, if asked for, waits for a
   * second administrator.
   */
  adminCreateUser(
    action: AdminAction,
    input: {
      userId: string;
      displayName: string;
      roles: readonly Role[];
      initialCredential: string;
    },
  ): Promise<{ user: AdminUser; pendingGrant?: RoleGrant }> {
    return this.exclusive(action, async () => {
      const reason = requireReason(action.reason);
      const roles = [...new Set(input.roles)];
      const wantsAdmin = roles.includes('admin');
      // Refused before the account exists, so nothing is left half made.
      if (wantsAdmin) await this.approversFor(action, input.userId);
      const user = await this.createUser({
        userId: input.userId,
        displayName: input.displayName.trim(),
        roles: roles.filter((r) => r !== 'admin'),
        credential: input.initialCredential,
        mustChangePassword: true,
        createdBy: action.actor.user.userId,
        reason,
        clientAddress: action.clientAddress,
      });
      if (!wantsAdmin) return { user: adminView(user, 0) };
      const pendingGrant = await this.requestAdminGrant(action, user, reason);
      return { user: adminView(user, 0), pendingGrant };
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
      this.changed(user.userId);
      return this.view({ ...user, disabled });
    });
  }

  /**
   * Sets a new temporary password that must be changed at the next sign-in
   * and ends the user's sessions. The password is returned once, never stored
   * in clear and never written to the audit log; the site keeps the verifier
   * of its credential, derived with this site's ID as a console would (MS-2).
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
      const { temporaryPassword, update } = await this.temporaryVerifier(user.userId);
      await this.audited(action, 'user_password_reset', user, { reason });
      await this.deps.users.updatePassword(user.userId, update);
      await this.deps.sessions.revokeAllOf(user.userId, this.nowIso());
      this.changed(user.userId);
      return { user: await this.view({ ...user, ...update }), temporaryPassword };
    });
  }

  /**
   * `site reset-password` on the site's host: the same temporary password as
   * an administrator's reset, for an account nobody can reset from the
   * console (the last administrator, or one whose verifier predates site
   * credentials). Audited with the host as the actor's address.
   */
  async resetPasswordOnHost(userId: string, reason: string): Promise<string> {
    const user = await this.existing(userId);
    const { temporaryPassword, update } = await this.temporaryVerifier(user.userId);
    await this.deps.audit.append({
      event: 'user_password_reset',
      actor: null,
      clientAddress: 'cli',
      details: { userId: user.userId, reason: requireReason(reason) },
    });
    await this.deps.users.updatePassword(user.userId, update);
    await this.deps.sessions.revokeAllOf(user.userId, this.nowIso());
    this.changed(user.userId);
    return temporaryPassword;
  }

  /**
   * Demo mode only: an account whose verifier was made from a password that
   * is published (a demo account's) and still is that password gets the
   * verifier of its credential instead, so it signs in again. The site learns
   * nothing it did not know. False, and nothing changed, otherwise.
   */
  async upgradePublicPassword(
    userId: string,
    publicPassword: string,
    credential: string,
  ): Promise<boolean> {
    const user = await this.deps.users.find(userId);
    if (user?.verifierOf !== 'raw-password') return false;
    if (!(await this.deps.hasher.verify(publicPassword, user.passwordHash))) return false;
    await this.deps.audit.append({
      event: 'user_verifier_upgraded',
      actor: null,
      clientAddress: null,
      details: { userId, reason: 'demo account with its published password' },
    });
    await this.deps.users.updatePassword(userId, {
      passwordHash: await this.deps.hasher.hash(credential),
      verifierOf: 'site-credential',
      mustChangePassword: user.mustChangePassword,
    });
    return true;
  }

  /** A temporary password and the verifier of its credential for this site. */
  private async temporaryVerifier(
    userId: string,
  ): Promise<{ temporaryPassword: string; update: PasswordUpdate }> {
    const temporaryPassword = this.temporaryPassword(userId);
    const credential = await deriveSiteCredential(temporaryPassword, this.deps.siteId);
    return {
      temporaryPassword,
      update: {
        passwordHash: await this.deps.hasher.hash(credential),
        verifierOf: 'site-credential',
        mustChangePassword: true,
      },
    };
  }

  /**
   * Roles take effect at the user's next call: every call reads them afresh
   * (ID-2). The admin role is the exception: giving it makes a pending grant
   * that a second administrator confirms; the other roles change at once.
   */
  setRoles(
    action: AdminAction,
    userId: string,
    roles: readonly Role[],
  ): Promise<{ user: AdminUser; pendingGrant?: RoleGrant }> {
    return this.exclusive(action, async () => {
      const reason = requireReason(action.reason);
      let user = await this.existing(userId);
      const asked = [...new Set(roles)];
      if (asked.length === 0) {
        throw new DomainError('invalid_request', 'Give the user at least one role.', 400);
      }
      const grantsAdmin = asked.includes('admin') && !user.roles.includes('admin');
      if (grantsAdmin) await this.approversFor(action, user.userId);
      const next = grantsAdmin ? asked.filter((r) => r !== 'admin') : asked;
      const same = next.length === user.roles.length && next.every((r) => user.roles.includes(r));
      if (!same) {
        await this.refuseLastAdmin(user, next.includes('admin'));
        await this.audited(action, 'user_roles_changed', user, {
          reason,
          from: [...user.roles],
          to: next,
        });
        await this.deps.users.updateRoles(user.userId, next);
        user = { ...user, roles: next };
        this.changed(user.userId);
      }
      if (!grantsAdmin) return { user: await this.view(user) };
      const pendingGrant = await this.requestAdminGrant(action, user, reason);
      return { user: await this.view(user), pendingGrant };
    });
  }

  /** Admin roles waiting for a second administrator, oldest first. */
  async roleGrants(): Promise<RoleGrant[]> {
    return (await this.deps.users.pendingRoleGrants()).map(grantView);
  }

  /**
   * A second administrator confirms or refuses a pending admin role (ID-1,
   * ES-2). Confirming takes an administrator who held the role when it was
   * asked for, who neither asked for it nor receives it, and who has chosen
   * their own password; refusing takes any administrator but the one it is for.
   */
  decideRoleGrant(
    action: AdminAction,
    grantId: string,
    approve: boolean,
  ): Promise<{ grant: RoleGrant; state: 'confirmed' | 'refused'; user: AdminUser }> {
    return this.exclusive(action, async () => {
      const reason = requireReason(action.reason);
      const actor = action.actor.user.userId;
      const grant = await this.deps.users.findRoleGrant(grantId);
      if (!grant || grant.state !== 'pending') {
        throw new DomainError(
          'role_grant_not_found',
          'There is no pending role grant with this ID.',
          404,
        );
      }
      this.requirePasswordChanged(action.actor);
      if (grant.userId === actor || (approve && grant.requestedBy === actor)) {
        throw new DomainError(
          'self_approval',
          'Nobody confirms a role they asked for or receive: another administrator must decide.',
          403,
        );
      }
      if (approve && !grant.approvers.includes(actor)) {
        throw new DomainError(
          'approver_not_eligible',
          'Only an administrator who already held the role when it was asked for may confirm it.',
          403,
        );
      }
      const user = await this.existing(grant.userId);
      const state = approve ? ('confirmed' as const) : ('refused' as const);
      await this.audited(action, approve ? 'role_grant_confirmed' : 'role_grant_refused', user, {
        reason,
        grantId: grant.id,
        role: grant.role,
        requestedBy: grant.requestedBy,
      });
      const decided = await this.deps.users.decideRoleGrant(grant.id, {
        state,
        decidedBy: actor,
        decisionReason: reason,
        decidedAt: this.nowIso(),
      });
      if (!decided) {
        throw new DomainError(
          'role_grant_not_found',
          'There is no pending role grant with this ID.',
          404,
        );
      }
      let roles = user.roles;
      if (approve && !roles.includes(grant.role)) {
        roles = [...roles, grant.role];
        await this.deps.users.updateRoles(user.userId, roles);
        this.changed(user.userId);
      }
      return { grant: grantView(grant), state, user: await this.view({ ...user, roles }) };
    });
  }

  /**
   * Who may confirm an admin role for `userId` asked for by this action's
   * administrator: the other active administrators now. Refuses when there is
   * none, or when a grant for the user already waits.
   */
  private async approversFor(action: AdminAction, userId: string): Promise<string[]> {
    const pending = await this.deps.users.pendingRoleGrants();
    if (pending.some((g) => g.userId === userId && g.role === 'admin')) {
      throw new DomainError(
        'role_grant_pending',
        `The admin role for ${userId} already waits for a second administrator's confirmation.`,
        409,
      );
    }
    const approvers = (await this.deps.users.list())
      .filter(
        (u) =>
          !u.disabled &&
          u.roles.includes('admin') &&
          u.userId !== action.actor.user.userId &&
          u.userId !== userId,
      )
      .map((u) => u.userId);
    if (approvers.length === 0) {
      throw new DomainError(
        'no_second_admin',
        'A new administrator needs a second administrator to confirm, and there is none: create one on the site host with npm run site -- create-admin.',
        409,
      );
    }
    return approvers;
  }

  /** Written to the audit log before it is stored (AL-4). */
  private async requestAdminGrant(
    action: AdminAction,
    user: UserRecord,
    reason: string,
  ): Promise<RoleGrant> {
    const grant: RoleGrantRecord = {
      id: globalThis.crypto.randomUUID(),
      userId: user.userId,
      role: 'admin',
      requestedBy: action.actor.user.userId,
      reason,
      requestedAt: this.nowIso(),
      approvers: await this.approversFor(action, user.userId),
      state: 'pending',
      decidedBy: null,
      decisionReason: null,
      decidedAt: null,
    };
    await this.audited(action, 'role_grant_requested', user, {
      reason,
      grantId: grant.id,
      role: grant.role,
      approvers: [...grant.approvers],
    });
    await this.deps.users.insertRoleGrant(grant);
    return grantView(grant);
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
      this.changed(user.userId);
      return { user: await this.view(user), ended };
    });
  }

  info(principal: Principal): SessionInfo {
    return sessionInfo(principal.user, principal.session);
  }

  /**
   * User changes run one at a time, so two administrators cannot each remove
   * "the other" administrator and leave the site with none: on every
   * instance of the site at once (SX-2), as the changes read and write
   * through several repositories, not in one transaction.
   */
  private exclusive<T>(action: AdminAction, work: () => Promise<T>): Promise<T> {
    return this.locks.run('users', async () => {
      // The actor may have lost the right while waiting for their turn.
      const actor = await this.deps.users.find(action.actor.user.userId);
      if (!actor || actor.disabled) throw notSignedIn();
      if (!actor.roles.includes('admin')) {
        throw new DomainError('forbidden', 'Your account is no longer an administrator.', 403);
      }
      return work();
    });
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
    event: AuditEventName,
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

/** Why a sign-in with this account and this verification result is refused, if it is. */
function refusalOf(user: UserRecord | undefined, credentialOk: boolean): SignInRefusal | null {
  if (!user) return 'unknown_user';
  if (user.disabled) return 'disabled';
  // A verifier of the raw password cannot check a credential (MS-2).
  if (user.verifierOf !== 'site-credential') return 'legacy_verifier';
  return credentialOk ? null : 'bad_password';
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

function grantView(grant: RoleGrantRecord): RoleGrant {
  return {
    id: grant.id,
    userId: grant.userId,
    role: grant.role,
    requestedBy: grant.requestedBy,
    requestedAt: grant.requestedAt,
    reason: grant.reason,
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
export function requireReason(reason: string): string {
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

function notSignedIn(): DomainError {
  return new DomainError('not_signed_in', 'Sign in first.', 401);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
