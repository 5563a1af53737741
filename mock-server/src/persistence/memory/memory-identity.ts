import type { Role } from '../../../../src/core/contract';
import type {
  AttemptVerdict,
  ReservedAttempt,
  RoleGrantRecord,
  SessionRecord,
  SignInAttempt,
  SessionRepository,
  SignInFailureRepository,
  UserRecord,
  UserRepository,
} from '../../domain/ports';
import { compareText, ConstraintError } from './sql-semantics';

function copyUser(u: UserRecord): UserRecord {
  return {
    userId: u.userId,
    displayName: u.displayName,
    roles: [...u.roles],
    passwordHash: u.passwordHash,
    mustChangePassword: Boolean(u.mustChangePassword),
    disabled: Boolean(u.disabled),
    createdAt: u.createdAt,
  };
}

function copySession(s: SessionRecord): SessionRecord {
  return {
    tokenHash: s.tokenHash,
    userId: s.userId,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    revokedAt: s.revokedAt,
    clientAddress: s.clientAddress,
  };
}

function copyGrant(g: RoleGrantRecord): RoleGrantRecord {
  return { ...g, approvers: [...g.approvers] };
}

/** Accounts in memory, as the site's `users` table keeps them. */
export class MemoryUserRepository implements UserRepository {
  private readonly rows = new Map<string, UserRecord>();
  private readonly grants = new Map<string, RoleGrantRecord>();

  /** Whether the user exists: what other tables' references to a user check. */
  has(userId: string): boolean {
    return this.rows.has(userId);
  }

  async find(userId: string): Promise<UserRecord | undefined> {
    const row = this.rows.get(userId);
    return row && copyUser(row);
  }

  async insert(user: UserRecord): Promise<void> {
    if (this.rows.has(user.userId))
      throw new ConstraintError('UNIQUE constraint failed: users.user_id');
    this.rows.set(user.userId, copyUser(user));
  }

  async updatePassword(
    userId: string,
    passwordHash: string,
    mustChangePassword: boolean,
  ): Promise<void> {
    this.patch(userId, { passwordHash, mustChangePassword: Boolean(mustChangePassword) });
  }

  async updateRoles(userId: string, roles: readonly Role[]): Promise<void> {
    this.patch(userId, { roles: [...roles] });
  }

  async setDisabled(userId: string, disabled: boolean): Promise<void> {
    this.patch(userId, { disabled: Boolean(disabled) });
  }

  async countWithRole(role: Role): Promise<number> {
    let count = 0;
    for (const user of this.rows.values()) if (!user.disabled && user.roles.includes(role)) count++;
    return count;
  }

  async list(): Promise<readonly UserRecord[]> {
    return [...this.rows.values()].sort((a, b) => compareText(a.userId, b.userId)).map(copyUser);
  }

  async insertRoleGrant(grant: RoleGrantRecord): Promise<void> {
    if (this.grants.has(grant.id))
      throw new ConstraintError('UNIQUE constraint failed: role_grants.id');
    if (!this.rows.has(grant.userId)) throw new ConstraintError('FOREIGN KEY constraint failed');
    this.grants.set(grant.id, copyGrant(grant));
  }

  async findRoleGrant(id: string): Promise<RoleGrantRecord | undefined> {
    const grant = this.grants.get(id);
    return grant && copyGrant(grant);
  }

  async pendingRoleGrants(): Promise<readonly RoleGrantRecord[]> {
    return [...this.grants.values()]
      .filter((g) => g.state === 'pending')
      .sort((a, b) => compareText(a.requestedAt, b.requestedAt) || compareText(a.id, b.id))
      .map(copyGrant);
  }

  async decideRoleGrant(
    id: string,
    decision: Parameters<UserRepository['decideRoleGrant']>[1],
  ): Promise<boolean> {
    const grant = this.grants.get(id);
    if (!grant || grant.state !== 'pending') return false;
    this.grants.set(id, {
      ...grant,
      state: decision.state,
      decidedBy: decision.decidedBy,
      decisionReason: decision.decisionReason,
      decidedAt: decision.decidedAt,
    });
    return true;
  }

  private patch(userId: string, change: Partial<UserRecord>): void {
    const row = this.rows.get(userId);
    if (row) this.rows.set(userId, { ...row, ...change });
  }
}

/** Sessions in memory; a session names an existing user, as the site's foreign key demands. */
export class MemorySessionRepository implements SessionRepository {
  private readonly rows = new Map<string, SessionRecord>();

  constructor(private readonly users: Pick<MemoryUserRepository, 'has'>) {}

  async insert(session: SessionRecord): Promise<void> {
    if (this.rows.has(session.tokenHash))
      throw new ConstraintError('UNIQUE constraint failed: sessions.token_hash');
    if (!this.users.has(session.userId)) throw new ConstraintError('FOREIGN KEY constraint failed');
    this.rows.set(session.tokenHash, copySession(session));
  }

  async find(tokenHash: string): Promise<SessionRecord | undefined> {
    const row = this.rows.get(tokenHash);
    return row && copySession(row);
  }

  async revoke(tokenHash: string, at: string): Promise<void> {
    const row = this.rows.get(tokenHash);
    // The first revocation's time stays.
    if (row && row.revokedAt === null) this.rows.set(tokenHash, { ...row, revokedAt: at });
  }

  async revokeAllOf(userId: string, at: string, exceptTokenHash?: string): Promise<number> {
    let revoked = 0;
    for (const row of this.rows.values()) {
      if (
        row.userId === userId &&
        row.revokedAt === null &&
        compareText(row.expiresAt, at) > 0 &&
        !(exceptTokenHash && row.tokenHash === exceptTokenHash)
      ) {
        this.rows.set(row.tokenHash, { ...row, revokedAt: at });
        revoked++;
      }
    }
    return revoked;
  }

  async countActive(now: string): Promise<ReadonlyMap<string, number>> {
    const counts = new Map<string, number>();
    for (const row of this.rows.values()) {
      if (row.revokedAt === null && compareText(row.expiresAt, now) > 0)
        counts.set(row.userId, (counts.get(row.userId) ?? 0) + 1);
    }
    return counts;
  }
}

/** Failed sign-ins per (user, address), for the lockout (ID-3). */
export class MemorySignInFailureRepository implements SignInFailureRepository {
  private rows: {
    readonly userId: string;
    readonly clientAddress: string;
    readonly at: string;
    readonly unknownUser?: boolean;
  }[] = [];

  async recent(userId: string, clientAddress: string, since: string): Promise<readonly string[]> {
    return this.rows
      .filter(
        (r) =>
          r.userId === userId && r.clientAddress === clientAddress && compareText(r.at, since) >= 0,
      )
      .map((r) => r.at)
      .sort(compareText);
  }

  async record(userId: string, clientAddress: string, at: string): Promise<void> {
    this.rows.push({ userId, clientAddress, at });
  }

  async clear(userId: string, clientAddress: string): Promise<void> {
    this.rows = this.rows.filter((r) => r.userId !== userId || r.clientAddress !== clientAddress);
  }

  /** No await between reading and writing: nothing else runs in between. */
  async reserve(
    attempt: SignInAttempt,
    since: string,
    addressSince: string,
    verdict: (recent: readonly string[]) => AttemptVerdict,
  ): Promise<ReservedAttempt> {
    const { userId, clientAddress, at, unknownUser } = attempt;
    const ofPair = (r: (typeof this.rows)[number]) =>
      r.userId === userId && r.clientAddress === clientAddress;
    const recent = this.rows
      .filter((r) => ofPair(r) && compareText(r.at, since) >= 0)
      .map((r) => r.at)
      .sort(compareText);
    const decided = verdict(recent);
    if (decided === 'refuse')
      return { verdict: decided, recent, failures: 0, unknownFromAddress: 0 };
    if (decided === 'count-afresh') this.rows = this.rows.filter((r) => !ofPair(r));
    this.rows.push({ userId, clientAddress, at, unknownUser });
    const unknownFromAddress = unknownUser
      ? this.rows.filter(
          (r) =>
            r.clientAddress === clientAddress &&
            r.unknownUser === true &&
            compareText(r.at, addressSince) >= 0,
        ).length
      : 0;
    return {
      verdict: decided,
      recent,
      failures: decided === 'count-afresh' ? 1 : recent.length + 1,
      unknownFromAddress,
    };
  }
}
