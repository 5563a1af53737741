import type { Role } from '../../../src/core/contract';

/**
 * What the domain needs from storage and the platform. The same rules run on
 * SQLite (the site), and on in-memory repositories (tests, offline demo).
 */
export interface UserRecord {
  readonly userId: string;
  readonly displayName: string;
  readonly roles: readonly Role[];
  readonly passwordHash: string;
  readonly mustChangePassword: boolean;
  readonly disabled: boolean;
  readonly createdAt: string;
}

export interface UserRepository {
  find(userId: string): Promise<UserRecord | undefined>;
  insert(user: UserRecord): Promise<void>;
  updatePassword(userId: string, passwordHash: string, mustChangePassword: boolean): Promise<void>;
  countWithRole(role: Role): Promise<number>;
  list(): Promise<readonly UserRecord[]>;
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
  revokeAllOf(userId: string, at: string, exceptTokenHash?: string): Promise<void>;
}

export interface SignInFailureRepository {
  /** Failures of this (user, address) since `since`, oldest first. */
  recent(userId: string, clientAddress: string, since: string): Promise<readonly string[]>;
  record(userId: string, clientAddress: string, at: string): Promise<void>;
  clear(userId: string, clientAddress: string): Promise<void>;
}

export const alertKinds = [
  'unknown_user',
  'bad_password',
  'brute_force',
  'unauthorized_restorer',
  'key_not_found',
  'overwrite_attempt',
  'integrity_failure',
  'replayed_request',
] as const;
export type AlertKind = (typeof alertKinds)[number];

export interface NewAlert {
  readonly kind: AlertKind;
  readonly userId: string | null;
  readonly volumeId: string | null;
  readonly clientAddress: string | null;
  readonly sentence: string;
}

export interface AlertRepository {
  insert(alert: NewAlert & { readonly siteId: string; readonly at: string }): Promise<void>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
}

export interface Clock {
  now(): Date;
}

export interface Random {
  /** A URL-safe random token with at least 256 bits of entropy. */
  token(): string;
  sha256Hex(text: string): Promise<string>;
}
