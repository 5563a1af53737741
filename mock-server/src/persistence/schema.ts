import type { Generated } from 'kysely';

/** Tables of the site's database, as Kysely sees them. */
export interface UsersTable {
  user_id: string;
  display_name: string;
  roles: string; // JSON array of roles
  password_hash: string;
  must_change_password: number;
  disabled: number;
  created_at: string;
}

export interface SessionsTable {
  token_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  client_address: string;
}

export interface SignInFailuresTable {
  id: Generated<number>;
  user_id: string;
  client_address: string;
  at: string;
}

export interface AlertsTable {
  id: Generated<number>;
  kind: string;
  user_id: string | null;
  volume_id: string | null;
  site_id: string;
  client_address: string | null;
  sentence: string;
  at: string;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
}

export interface SiteMetaTable {
  key: string;
  value: string;
}

export interface SiteKeysTable {
  purpose: 'escrow' | 'signing';
  public_jwk: string;
  wrapped_private: string;
  created_at: string;
}

export interface AuditLogTable {
  seq: number;
  at: string;
  event: string;
  actor: string | null;
  volume_id: string | null;
  client_address: string | null;
  details: string; // JSON object
  prev_mac: string;
  mac: string;
}

export interface Database {
  site_keys: SiteKeysTable;
  audit_log: AuditLogTable;
  users: UsersTable;
  sessions: SessionsTable;
  sign_in_failures: SignInFailuresTable;
  alerts: AlertsTable;
  site_meta: SiteMetaTable;
}
