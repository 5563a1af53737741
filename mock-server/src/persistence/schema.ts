import type { Generated } from 'kysely';

/** Tables of the site's database, as Kysely sees them. */
export interface UsersTable {
  user_id: string;
  display_name: string;
  roles: string; // JSON array of roles
  password_hash: string;
  /** VerifierInput: 'site-credential', or 'raw-password' for verifiers made before (0011). */
  verifier_of: string;
  must_change_password: number;
  disabled: number;
  created_at: string;
}

/** A role that waits for a second administrator's confirmation (ID-1). */
export interface RoleGrantsTable {
  id: string;
  user_id: string;
  role: string;
  requested_by: string;
  reason: string;
  requested_at: string;
  /** JSON array: the administrators, other than the requester and the user, when it was asked. */
  approvers: string;
  state: 'pending' | 'confirmed' | 'refused';
  decided_by: string | null;
  decision_reason: string | null;
  decided_at: string | null;
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
  /** 1: the user ID named no account, counted per address (ID-3, AL-1). */
  unknown_user: Generated<number>;
}

export interface AlertsTable {
  id: Generated<number>;
  kind: string;
  user_id: string | null;
  volume_id: string | null;
  site_id: string;
  client_address: string | null;
  sentence: string;
  message_code: string | null;
  /** JSON object of the message's parameters. */
  message_params: string | null;
  at: string;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
}

export interface SiteMetaTable {
  key: string;
  value: string;
}

/** Another site this site trusts, pinned to its ID and keys (MS-1). */
export interface TrustedSitesTable {
  site_id: string;
  name: string;
  /** The origin it was trusted under; unique. */
  url: string;
  escrow_key: string; // JSON SitePublicKey
  signing_key: string; // JSON SitePublicKey
  trusted_at: string;
  trusted_by: string | null;
  last_contact_at: string | null;
  /** 1 reachable, 0 not, null before the first contact. */
  reachable: number | null;
  refused_fingerprint: string | null;
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

export interface DeviceKeysTable {
  fingerprint: string;
  user_id: string;
  public_jwk: string;
  spki: string;
  label: string | null;
  registered_at: string;
}

export interface VolumesTable {
  volume_id: string;
  owner: string;
  state: string;
  pair_id: string;
  claim_expires_at: string | null;
  created_at: string;
}

export interface EscrowRecordsTable {
  volume_id: string;
  owner: string;
  restorers: string; // JSON array
  policy_kind: string;
  approval_required: number;
  expires_at: string | null;
  state: string;
  created_at: string;
  updated_at: string;
  keys_site_id: string | null;
  /** The owner's name for the volume; null until one is given. */
  label: string | null;
  /** The latest expiry an administrator set, past which the owner may not move it; null: none. */
  expiry_ceiling: string | null;
  /** The expiry that the notice before it was sent for; null: none sent. */
  expiry_noticed_for: string | null;
}

export interface RecordRestorersTable {
  volume_id: string;
  user_id: string;
}

export interface EscrowEnvelopesTable {
  volume_id: string;
  epoch: number;
  envelope: string;
  created_at: string;
}

export interface GenerationsTable {
  volume_id: string;
  generation: number;
  manifest: string;
  manifest_hash: string;
  size: number;
  chunks: number;
  device_fingerprint: string;
  receipt: string;
  committed_at: string;
}

export interface ChunksTable {
  volume_id: string;
  chunk_id: string;
  ciphertext_sha256: string;
  size: number;
  stored_at: string;
  verified_at: string | null;
}

export interface PairsTable {
  pair_id: string;
  volume_id: string;
  state: string;
  seq_applied: number;
  seq_received: number;
  bytes: number;
  chunks_received: number;
  last_transfer_at: string | null;
  last_error: string | null;
  created_at: string;
  unhealthy_reason: string | null;
  state_since: string | null;
  cut_seq: number | null;
  last_heartbeat_at: string | null;
  heartbeat: string | null;
  rotation_every_bytes: number | null;
  rotation_every_ms: number | null;
}

export interface PairHistoryTable {
  id: Generated<number>;
  pair_id: string;
  at: string;
  from_state: string | null;
  to_state: string;
  reason: string;
}

export interface PairInstructionsTable {
  id: string;
  pair_id: string;
  action: string;
  requested_by: string;
  requested_at: string;
  reason: string;
  state: string;
  acknowledged_at: string | null;
}

export interface PairSamplesTable {
  pair_id: string;
  at: string;
  lag_seconds: number | null;
  bytes_per_second: number | null;
}

export interface TransfersTable {
  pair_id: string;
  seq: number;
  kind: string;
  body_sha256: string;
  header: string;
  payload: Uint8Array | null;
  status: string;
  outcome: string | null;
  received_at: string;
  applied_at: string | null;
}

export interface ReleasesTable {
  request_id: string;
  user_id: string;
  volume_id: string;
  generation: number;
  ephemeral_jwk: string;
  state: string;
  envelope: string | null;
  reason: string | null;
  decided_by: string | null;
  created_at: string;
  decided_at: string | null;
}

export interface RearmRequestsTable {
  id: string;
  volume_id: string;
  requested_by: string;
  reason: string;
  state: string;
  decided_by: string | null;
  decision_reason: string | null;
  created_at: string;
  decided_at: string | null;
}

export interface RegistrationImportsTable {
  registration_id: string;
  volume_id: string;
  imported_by: string;
  imported_at: string;
}

export interface Database {
  pair_history: PairHistoryTable;
  pair_instructions: PairInstructionsTable;
  pair_samples: PairSamplesTable;
  rearm_requests: RearmRequestsTable;
  registration_imports: RegistrationImportsTable;
  device_keys: DeviceKeysTable;
  volumes: VolumesTable;
  escrow_records: EscrowRecordsTable;
  record_restorers: RecordRestorersTable;
  escrow_envelopes: EscrowEnvelopesTable;
  generations: GenerationsTable;
  chunks: ChunksTable;
  pairs: PairsTable;
  transfers: TransfersTable;
  releases: ReleasesTable;
  site_keys: SiteKeysTable;
  trusted_sites: TrustedSitesTable;
  audit_log: AuditLogTable;
  users: UsersTable;
  role_grants: RoleGrantsTable;
  sessions: SessionsTable;
  sign_in_failures: SignInFailuresTable;
  alerts: AlertsTable;
  site_meta: SiteMetaTable;
}
