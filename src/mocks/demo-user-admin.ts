import {
  PASSWORD_MIN_LENGTH,
  type AdminErrorCode,
  type AdminUser,
  type CreateUserRequest,
  type Role,
} from '@/core/contract';
import type { DemoSite, DemoUser } from './demo-site';

/** A refusal of the demo site, with the code and status the real site uses. */
export class DemoRefusal extends Error {
  constructor(
    readonly code: AdminErrorCode | 'weak_password' | 'invalid_request',
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export function adminView(user: DemoUser): AdminUser {
  return {
    userId: user.userId,
    displayName: user.displayName,
    roles: [...user.roles],
    disabled: user.disabled,
    mustChangePassword: user.mustChangePassword,
    createdAt: user.createdAt,
    activeSessions: user.disabled ? 0 : user.activeSessions,
  };
}

/**
 * User administration on the demo site (ID-1), with the site's rules: a
 * reason for every change, audited; the last administrator stays; nobody
 * disables or resets their own account here.
 */
export class DemoUserAdmin {
  constructor(
    private readonly site: DemoSite,
    private readonly actor: string,
  ) {}

  create(input: CreateUserRequest): AdminUser {
    const reason = this.reason(input.reason);
    if (this.site.users.has(input.userId)) {
      throw new DemoRefusal('user_exists', `A user named ${input.userId} already exists.`, 409);
    }
    const password = input.initialPassword;
    if (
      password.length < PASSWORD_MIN_LENGTH ||
      password.toLowerCase().includes(input.userId.toLowerCase()) ||
      new Set(password).size < 4
    ) {
      throw new DemoRefusal('weak_password', 'The initial password is too weak.', 400);
    }
    const user: DemoUser = {
      userId: input.userId,
      displayName: input.displayName.trim(),
      roles: [...input.roles],
      password,
      mustChangePassword: true,
      disabled: false,
      createdAt: new Date().toISOString(),
      activeSessions: 0,
    };
    this.audit('user_created', user, { reason, roles: [...user.roles] });
    this.site.users.set(user.userId, user);
    return adminView(user);
  }

  setDisabled(userId: string, disabled: boolean, reasonText: string): AdminUser {
    const reason = this.reason(reasonText);
    const user = this.existing(userId);
    if (user.disabled === disabled) return adminView(user);
    if (disabled && user.userId === this.actor) {
      throw new DemoRefusal('own_account', 'You cannot disable your own account.', 409);
    }
    if (disabled) this.refuseLastAdmin(user, false);
    this.audit(disabled ? 'user_disabled' : 'user_enabled', user, { reason });
    user.disabled = disabled;
    if (disabled) user.activeSessions = 0;
    return adminView(user);
  }

  resetPassword(
    userId: string,
    reasonText: string,
  ): { user: AdminUser; temporaryPassword: string } {
    const reason = this.reason(reasonText);
    const user = this.existing(userId);
    if (user.userId === this.actor) {
      throw new DemoRefusal('own_account', 'Change your own password instead.', 409);
    }
    const temporaryPassword = 'Demo-Temp-Pass-0001';
    this.audit('user_password_reset', user, { reason });
    user.password = temporaryPassword;
    user.mustChangePassword = true;
    user.activeSessions = 0;
    return { user: adminView(user), temporaryPassword };
  }

  setRoles(userId: string, roles: readonly Role[], reasonText: string): AdminUser {
    const reason = this.reason(reasonText);
    const user = this.existing(userId);
    this.refuseLastAdmin(user, roles.includes('admin'));
    this.audit('user_roles_changed', user, { reason, from: [...user.roles], to: [...roles] });
    user.roles = [...roles];
    return adminView(user);
  }

  endSessions(userId: string, reasonText: string): { user: AdminUser; ended: number } {
    const reason = this.reason(reasonText);
    const user = this.existing(userId);
    this.audit('user_sessions_ended', user, { reason });
    const keep = user.userId === this.actor ? 1 : 0;
    const ended = Math.max(0, user.activeSessions - keep);
    user.activeSessions -= ended;
    return { user: adminView(user), ended };
  }

  private reason(text: string): string {
    if (!text.trim()) {
      throw new DemoRefusal('reason_required', 'Give a reason for this change.', 400);
    }
    return text.trim();
  }

  private existing(userId: string): DemoUser {
    const user = this.site.users.get(userId);
    if (!user) throw new DemoRefusal('user_not_found', `There is no user ${userId}.`, 404);
    return user;
  }

  private refuseLastAdmin(user: DemoUser, staysAdmin: boolean): void {
    if (staysAdmin || user.disabled || !user.roles.includes('admin')) return;
    const admins = [...this.site.users.values()].filter(
      (u) => !u.disabled && u.roles.includes('admin'),
    );
    if (admins.length <= 1) {
      throw new DemoRefusal(
        'last_admin',
        'The last administrator cannot be removed: make another user an administrator first.',
        409,
      );
    }
  }

  private audit(event: string, user: DemoUser, details: Record<string, unknown>): void {
    this.site.audit.append({
      event,
      actor: this.actor,
      details: { userId: user.userId, ...details },
    });
  }
}
