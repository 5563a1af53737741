import type { Kysely } from 'kysely';
import type { Role } from '../../../src/core/contract';
import type {
  AttemptVerdict,
  PasswordUpdate,
  ReservedAttempt,
  RoleGrantRecord,
  SessionRecord,
  SignInAttempt,
  SessionRepository,
  SignInFailureRepository,
  UserRecord,
  UserRepository,
} from '../domain/ports';
import type { Database, RoleGrantsTable, UsersTable } from './schema';
import { transact } from './transactions';

function toUser(row: UsersTable): UserRecord {
  return {
    userId: row.user_id,
    displayName: row.display_name,
    roles: JSON.parse(row.roles) as Role[],
    passwordHash: row.password_hash,
    verifierOf: row.verifier_of === 'site-credential' ? 'site-credential' : 'raw-password',
    mustChangePassword: row.must_change_password === 1,
    disabled: row.disabled === 1,
    createdAt: row.created_at,
  };
}

function toGrant(row: RoleGrantsTable): RoleGrantRecord {
  return {
    id: row.id,
    userId: row.user_id,
    role: row.role as Role,
    requestedBy: row.requested_by,
    reason: row.reason,
    requestedAt: row.requested_at,
    approvers: JSON.parse(row.approvers) as string[],
    state: row.state,
    decidedBy: row.decided_by,
    decisionReason: row.decision_reason,
    decidedAt: row.decided_at,
  };
}

export class SqliteUserRepository implements UserRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async find(userId: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async insert(user: UserRecord): Promise<void> {
    await this.db
      .insertInto('users')
      .values({
        user_id: user.userId,
        display_name: user.displayName,
        roles: JSON.stringify(user.roles),
        password_hash: user.passwordHash,
        verifier_of: user.verifierOf,
        must_change_password: user.mustChangePassword ? 1 : 0,
        disabled: user.disabled ? 1 : 0,
        created_at: user.createdAt,
      })
      .execute();
  }

  async updatePassword(userId: string, update: PasswordUpdate): Promise<void> {
    await this.db
      .updateTable('users')
      .set({
        password_hash: update.passwordHash,
        verifier_of: update.verifierOf,
        must_change_password: update.mustChangePassword ? 1 : 0,
      })
      .where('user_id', '=', userId)
      .execute();
  }

  async updateRoles(userId: string, roles: readonly Role[]): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ roles: JSON.stringify(roles) })
      .where('user_id', '=', userId)
      .execute();
  }

  async setDisabled(userId: string, disabled: boolean): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ disabled: disabled ? 1 : 0 })
      .where('user_id', '=', userId)
      .execute();
  }

  async list(): Promise<readonly UserRecord[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('user_id').execute();
    return rows.map(toUser);
  }

  async countWithRole(role: Role): Promise<number> {
    const rows = await this.db
      .selectFrom('users')
      .select('roles')
      .where('disabled', '=', 0)
      .execute();
    return rows.filter((r) => (JSON.parse(r.roles) as Role[]).includes(role)).length;
  }

  async insertRoleGrant(g: RoleGrantRecord): Promise<void> {
    await this.db
      .insertInto('role_grants')
      .values({
        id: g.id,
        user_id: g.userId,
        role: g.role,
        requested_by: g.requestedBy,
        reason: g.reason,
        requested_at: g.requestedAt,
        approvers: JSON.stringify(g.approvers),
        state: g.state,
        decided_by: g.decidedBy,
        decision_reason: g.decisionReason,
        decided_at: g.decidedAt,
      })
      .execute();
  }

  async findRoleGrant(id: string): Promise<RoleGrantRecord | undefined> {
    const row = await this.db
      .selectFrom('role_grants')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toGrant(row) : undefined;
  }

  async pendingRoleGrants(): Promise<readonly RoleGrantRecord[]> {
    const rows = await this.db
      .selectFrom('role_grants')
      .selectAll()
      .where('state', '=', 'pending')
      .orderBy('requested_at')
      .orderBy('id')
      .execute();
    return rows.map(toGrant);
  }

  async decideRoleGrant(
    id: string,
    decision: Parameters<UserRepository['decideRoleGrant']>[1],
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('role_grants')
      .set({
        state: decision.state,
        decided_by: decision.decidedBy,
        decision_reason: decision.decisionReason,
        decided_at: decision.decidedAt,
      })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}

export class SqliteSessionRepository implements SessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(s: SessionRecord): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        token_hash: s.tokenHash,
        user_id: s.userId,
        created_at: s.createdAt,
        expires_at: s.expiresAt,
        revoked_at: s.revokedAt,
        client_address: s.clientAddress,
      })
      .execute();
  }

  async find(tokenHash: string): Promise<SessionRecord | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row
      ? {
          tokenHash: row.token_hash,
          userId: row.user_id,
          createdAt: row.created_at,
          expiresAt: row.expires_at,
          revokedAt: row.revoked_at,
          clientAddress: row.client_address,
        }
      : undefined;
  }

  async revoke(tokenHash: string, at: string): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ revoked_at: at })
      .where('token_hash', '=', tokenHash)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async revokeAllOf(userId: string, at: string, exceptTokenHash?: string): Promise<number> {
    let query = this.db
      .updateTable('sessions')
      .set({ revoked_at: at })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', at);
    if (exceptTokenHash) query = query.where('token_hash', '!=', exceptTokenHash);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async countActive(now: string): Promise<ReadonlyMap<string, number>> {
    const rows = await this.db
      .selectFrom('sessions')
      .select(['user_id', (eb) => eb.fn.countAll<number>().as('count')])
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .groupBy('user_id')
      .execute();
    return new Map(rows.map((r) => [r.user_id, Number(r.count)]));
  }
}

export class SqliteSignInFailureRepository implements SignInFailureRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async recent(userId: string, clientAddress: string, since: string): Promise<readonly string[]> {
    const rows = await this.db
      .selectFrom('sign_in_failures')
      .select('at')
      .where('user_id', '=', userId)
      .where('client_address', '=', clientAddress)
      .where('at', '>=', since)
      .orderBy('at')
      .execute();
    return rows.map((r) => r.at);
  }

  async record(userId: string, clientAddress: string, at: string): Promise<void> {
    await this.db
      .insertInto('sign_in_failures')
      .values({ user_id: userId, client_address: clientAddress, at })
      .execute();
  }

  async clear(userId: string, clientAddress: string): Promise<void> {
    await this.db
      .deleteFrom('sign_in_failures')
      .where('user_id', '=', userId)
      .where('client_address', '=', clientAddress)
      .execute();
  }

  /** One transaction: Kysely holds the connection, so no other attempt reads in between. */
  reserve(
    attempt: SignInAttempt,
    since: string,
    addressSince: string,
    verdict: (recent: readonly string[]) => AttemptVerdict,
  ): Promise<ReservedAttempt> {
    const { userId, clientAddress, at, unknownUser } = attempt;
    return transact(this.db, async (trx) => {
      const pair = trx
        .selectFrom('sign_in_failures')
        .where('user_id', '=', userId)
        .where('client_address', '=', clientAddress);
      const recent = (await pair.select('at').where('at', '>=', since).orderBy('at').execute()).map(
        (r) => r.at,
      );
      const decided = verdict(recent);
      if (decided === 'refuse') {
        return { verdict: decided, recent, failures: 0, unknownFromAddress: 0 };
      }
      if (decided === 'count-afresh') {
        await trx
          .deleteFrom('sign_in_failures')
          .where('user_id', '=', userId)
          .where('client_address', '=', clientAddress)
          .execute();
      }
      await trx
        .insertInto('sign_in_failures')
        .values({
          user_id: userId,
          client_address: clientAddress,
          at,
          unknown_user: unknownUser ? 1 : 0,
        })
        .execute();
      const failures = decided === 'count-afresh' ? 1 : recent.length + 1;
      let unknownFromAddress = 0;
      if (unknownUser) {
        const row = await trx
          .selectFrom('sign_in_failures')
          .select((eb) => eb.fn.countAll<number>().as('count'))
          .where('client_address', '=', clientAddress)
          .where('unknown_user', '=', 1)
          .where('at', '>=', addressSince)
          .executeTakeFirstOrThrow();
        unknownFromAddress = Number(row.count);
      }
      return { verdict: decided, recent, failures, unknownFromAddress };
    });
  }
}
