import type {
  Alert,
  AlertMessage,
  AlertKind,
  AlertQuery,
  AuditEntry,
  AuditQuery,
  Role,
} from '../../../src/core/contract';

/**
 * What the domain needs from storage and the platform. The same rules run on
 * the same Kysely repositories everywhere: SQLite in a file (the site), in
 * memory (tests), or compiled to WebAssembly (the offline demo's page).
 */
/**
 * What a user's stored verifier was made from. The site makes verifiers of
 * `site-credential`s only: the credential derived from the password for this
 * site (MS-2, FORMAT.md §15). `raw-password` marks a verifier made from the
 * password itself before that; no credential can be checked against it, so
 * such an account signs in only after an administrator resets its password.
 */
export type VerifierInput = 'site-credential' | 'raw-password';

/** A new verifier, what it was made from, and whether the user must replace it. */
export interface PasswordUpdate {
  readonly passwordHash: string;
  readonly verifierOf: VerifierInput;
  readonly mustChangePassword: boolean;
}

export interface UserRecord {
  readonly userId: string;
  readonly displayName: string;
  readonly roles: readonly Role[];
  readonly passwordHash: string;
  readonly verifierOf: VerifierInput;
  readonly mustChangePassword: boolean;
  readonly disabled: boolean;
  readonly createdAt: string;
}

export interface UserRepository {
  find(userId: string): Promise<UserRecord | undefined>;
  insert(user: UserRecord): Promise<void>;
  updatePassword(userId: string, update: PasswordUpdate): Promise<void>;
  updateRoles(userId: string, roles: readonly Role[]): Promise<void>;
  setDisabled(userId: string, disabled: boolean): Promise<void>;
  /** Users holding the role who are not disabled. */
  countWithRole(role: Role): Promise<number>;
  list(): Promise<readonly UserRecord[]>;
  insertRoleGrant(grant: RoleGrantRecord): Promise<void>;
  findRoleGrant(id: string): Promise<RoleGrantRecord | undefined>;
  /** Grants still waiting, oldest first. */
  pendingRoleGrants(): Promise<readonly RoleGrantRecord[]>;
  /** Decides a pending grant; false if it was no longer pending (decided meanwhile). */
  decideRoleGrant(
    id: string,
    decision: {
      readonly state: 'confirmed' | 'refused';
      readonly decidedBy: string;
      readonly decisionReason: string;
      readonly decidedAt: string;
    },
  ): Promise<boolean>;
}

/** A role that waits for a second administrator's confirmation (ID-1, ES-2). */
export interface RoleGrantRecord {
  readonly id: string;
  readonly userId: string;
  readonly role: Role;
  readonly requestedBy: string;
  readonly reason: string;
  readonly requestedAt: string;
  /** Who may confirm: the administrators when it was asked, but the requester and the user. */
  readonly approvers: readonly string[];
  readonly state: 'pending' | 'confirmed' | 'refused';
  readonly decidedBy: string | null;
  readonly decisionReason: string | null;
  readonly decidedAt: string | null;
}

export interface SessionRecord {
  /** SHA-256 of the cookie's token: a copied database yields no usable session. */
  readonly tokenHash: string;
  readonly userId: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revokedAt: string | null;
  readonly clientAddress: string;
}

export interface SessionRepository {
  insert(session: SessionRecord): Promise<void>;
  find(tokenHash: string): Promise<SessionRecord | undefined>;
  revoke(tokenHash: string, at: string): Promise<void>;
  /** Revokes the user's live sessions; returns how many were revoked. */
  revokeAllOf(userId: string, at: string, exceptTokenHash?: string): Promise<number>;
  /** Sessions of each user neither revoked nor expired at `now`, by user ID. */
  countActive(now: string): Promise<ReadonlyMap<string, number>>;
}

/** What the lock-out rule makes of a new attempt, given the failures of its (user, address). */
export type AttemptVerdict = 'refuse' | 'count' | 'count-afresh';

export interface SignInAttempt {
  readonly userId: string;
  readonly clientAddress: string;
  readonly at: string;
  /** No account has this user ID (an attempt counted per address too). */
  readonly unknownUser: boolean;
}

export interface ReservedAttempt {
  readonly verdict: AttemptVerdict;
  /** The pair's failures in the window as `verdict` saw them, oldest first. */
  readonly recent: readonly string[];
  /** The pair's failures in the window once this attempt is counted (0 if refused). */
  readonly failures: number;
  /** Attempts for unknown user IDs from this address since `addressSince`, this one included. */
  readonly unknownFromAddress: number;
}

export interface SignInFailureRepository {
  /** Failures of this (user, address) since `since`, oldest first. */
  recent(userId: string, clientAddress: string, since: string): Promise<readonly string[]>;
  record(userId: string, clientAddress: string, at: string): Promise<void>;
  clear(userId: string, clientAddress: string): Promise<void>;
  /**
   * One step, with no other attempt in between: reads the pair's failures
   * since `since`, asks `verdict`, and unless it refuses counts this attempt
   * as a failure (after forgetting the old ones for `count-afresh`). The
   * attempt is counted before the slow verifier runs, so parallel attempts
   * are counted as sequential ones are; a right password clears it again.
   */
  reserve(
    attempt: SignInAttempt,
    since: string,
    addressSince: string,
    verdict: (recent: readonly string[]) => AttemptVerdict,
  ): Promise<ReservedAttempt>;
}

export interface NewAlert {
  readonly kind: AlertKind;
  readonly userId: string | null;
  readonly volumeId: string | null;
  readonly clientAddress: string | null;
  /** In English, for mail and logs. */
  readonly sentence: string;
  /** The same as a code and parameters, for each reader's language. */
  readonly message: AlertMessage;
}

export interface AlertRepository {
  insert(alert: NewAlert & { readonly siteId: string; readonly at: string }): Promise<Alert>;
  list(query: AlertQuery): Promise<{ alerts: Alert[]; total: number; unacknowledged: number }>;
  /** Every alert matching the filter, newest first, for export. */
  all(query: Omit<AlertQuery, 'page' | 'pageSize'>): Promise<Alert[]>;
  acknowledge(ids: readonly number[], by: string, at: string): Promise<number>;
  /**
   * A page of the alerts of these kinds about one volume, for its owner
   * (AL-3): newest first by (at, id), only those strictly before `before`.
   */
  pageOfVolume(
    volumeId: string,
    kinds: readonly AlertKind[],
    before: { readonly at: string; readonly id: number } | null,
    limit: number,
  ): Promise<Alert[]>;
}

/** Where alerts are raised; the identity, escrow and transfer rules use it. */
export interface AlertSink {
  raise(alert: NewAlert): Promise<Alert>;
}

export interface AuditRepository {
  /** The last entry (highest seq), if any. */
  head(): Promise<AuditEntry | undefined>;
  /** Appends; fails if `entry.seq` is taken (another writer won). */
  append(entry: AuditEntry): Promise<void>;
  /**
   * Runs `work` in one transaction, handing it this repository bound to the
   * transaction: what `work` writes through it commits together or not at
   * all. `work` touches storage only, and only through `tx`.
   */
  atomically<T>(work: (tx: AuditRepository) => Promise<T>): Promise<T>;
  list(query: AuditQuery): Promise<{ entries: AuditEntry[]; total: number }>;
  all(query: Omit<AuditQuery, 'page' | 'pageSize'>): Promise<AuditEntry[]>;
  /** All entries in seq order, in batches, for verification. */
  scan(batchSize: number): AsyncIterable<readonly AuditEntry[]>;
}

/** Slow one-way verifiers (ID-1): of site credentials, never of passwords (MS-2). */
export interface PasswordHasher {
  hash(secret: string): Promise<string>;
  verify(secret: string, stored: string): Promise<boolean>;
}

/**
 * Named locks: `run` calls `work` once no other holder of `name` runs it, in
 * this process and, when the site runs as several instances (SX-2), in all
 * of them (PostgreSQL advisory locks, persistence/advisory-locks.ts).
 * `KeyedMutex` is the one-process implementation.
 */
export interface SiteLocks {
  run<T>(name: string, work: () => Promise<T>): Promise<T>;
}

export interface Clock {
  now(): Date;
}

export interface Random {
  /** A URL-safe random token with at least 256 bits of entropy. */
  token(): string;
  sha256Hex(text: string): Promise<string>;
}
