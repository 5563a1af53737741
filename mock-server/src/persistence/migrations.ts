import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { dialectOf } from './dialect';
import type { Database } from './schema';

/**
 * Versioned migrations, applied in name order at start-up. A migration once
 * released is never edited: a change is a new entry. The same list makes
 * the schema on SQLite and on PostgreSQL: each migration takes the column
 * types that differ from the engine's dialect (dialect.ts), which on SQLite
 * are exactly the ones it was released with.
 */
const migrations: Record<string, Migration> = {
  '0001_identity': {
    async up(db: Kysely<unknown>) {
      const d = dialectOf(db);
      const t = d.types;
      await db.schema
        .createTable('site_meta')
        .addColumn('key', t.text, (c) => c.primaryKey())
        .addColumn('value', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('users')
        .addColumn('user_id', t.text, (c) => c.primaryKey())
        .addColumn('display_name', t.text, (c) => c.notNull())
        .addColumn('roles', t.text, (c) => c.notNull())
        .addColumn('password_hash', t.text, (c) => c.notNull())
        .addColumn('must_change_password', t.integer, (c) => c.notNull().defaultTo(0))
        .addColumn('disabled', t.integer, (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('token_hash', t.text, (c) => c.primaryKey())
        .addColumn('user_id', t.text, (c) => c.notNull().references('users.user_id'))
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('expires_at', t.text, (c) => c.notNull())
        .addColumn('revoked_at', t.text)
        .addColumn('client_address', t.text, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_by_user').on('sessions').column('user_id').execute();
      await db.schema
        .createTable('sign_in_failures')
        .addColumn('id', t.integer, (c) => d.autoIncrementKey(c))
        .addColumn('user_id', t.text, (c) => c.notNull())
        .addColumn('client_address', t.text, (c) => c.notNull())
        .addColumn('at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('sign_in_failures_by_pair')
        .on('sign_in_failures')
        .columns(['user_id', 'client_address', 'at'])
        .execute();
      await db.schema
        .createTable('alerts')
        .addColumn('id', t.integer, (c) => d.autoIncrementKey(c))
        .addColumn('kind', t.text, (c) => c.notNull())
        .addColumn('user_id', t.text)
        .addColumn('volume_id', t.text)
        .addColumn('site_id', t.text, (c) => c.notNull())
        .addColumn('client_address', t.text)
        .addColumn('sentence', t.text, (c) => c.notNull())
        .addColumn('at', t.text, (c) => c.notNull())
        .addColumn('acknowledged_at', t.text)
        .addColumn('acknowledged_by', t.text)
        .execute();
      await db.schema.createIndex('alerts_by_time').on('alerts').column('at').execute();
    },
  },
  '0002_site_keys_and_audit': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      await db.schema
        .createTable('site_keys')
        .addColumn('purpose', t.text, (c) => c.primaryKey())
        .addColumn('public_jwk', t.text, (c) => c.notNull())
        .addColumn('wrapped_private', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit_log')
        .addColumn('seq', t.integer, (c) => c.primaryKey())
        .addColumn('at', t.text, (c) => c.notNull())
        .addColumn('event', t.text, (c) => c.notNull())
        .addColumn('actor', t.text)
        .addColumn('volume_id', t.text)
        .addColumn('client_address', t.text)
        .addColumn('details', t.text, (c) => c.notNull())
        .addColumn('prev_mac', t.text, (c) => c.notNull())
        .addColumn('mac', t.text, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_by_time').on('audit_log').column('at').execute();
      await db.schema
        .createIndex('audit_by_event')
        .on('audit_log')
        .columns(['event', 'at'])
        .execute();
      await db.schema.createIndex('alerts_by_kind').on('alerts').columns(['kind', 'at']).execute();
    },
  },
  '0003_escrow': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      await db.schema
        .createTable('device_keys')
        .addColumn('fingerprint', t.text, (c) => c.primaryKey())
        .addColumn('user_id', t.text, (c) => c.notNull().references('users.user_id'))
        .addColumn('public_jwk', t.text, (c) => c.notNull())
        .addColumn('spki', t.text, (c) => c.notNull())
        .addColumn('label', t.text)
        .addColumn('registered_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('device_keys_by_user')
        .on('device_keys')
        .column('user_id')
        .execute();
      // One row per volume ID the site has heard of: claimed or registered.
      await db.schema
        .createTable('volumes')
        .addColumn('volume_id', t.text, (c) => c.primaryKey())
        .addColumn('owner', t.text, (c) => c.notNull())
        .addColumn('state', t.text, (c) => c.notNull())
        .addColumn('pair_id', t.text, (c) => c.notNull().unique())
        .addColumn('claim_expires_at', t.text)
        .addColumn('created_at', t.text, (c) => c.notNull())
        .execute();
      // The restorer DB (SPEC §2 "Escrow record").
      await db.schema
        .createTable('escrow_records')
        .addColumn('volume_id', t.text, (c) => c.primaryKey())
        .addColumn('owner', t.text, (c) => c.notNull())
        .addColumn('restorers', t.text, (c) => c.notNull())
        .addColumn('policy_kind', t.text, (c) => c.notNull())
        .addColumn('approval_required', t.integer, (c) => c.notNull())
        .addColumn('expires_at', t.text)
        .addColumn('state', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('updated_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('records_by_owner')
        .on('escrow_records')
        .column('owner')
        .execute();
      await db.schema
        .createIndex('records_by_state')
        .on('escrow_records')
        .columns(['state', 'policy_kind'])
        .execute();
      // Searching by restorer: one row per (volume, restorer).
      await db.schema
        .createTable('record_restorers')
        .addColumn('volume_id', t.text, (c) => c.notNull())
        .addColumn('user_id', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('record_restorers_pk', ['volume_id', 'user_id'])
        .execute();
      await db.schema
        .createIndex('restorers_by_user')
        .on('record_restorers')
        .column('user_id')
        .execute();
      // Key envelopes to the site's escrow key (ES-4), one per announced epoch.
      await db.schema
        .createTable('escrow_envelopes')
        .addColumn('volume_id', t.text, (c) => c.notNull())
        .addColumn('epoch', t.integer, (c) => c.notNull())
        .addColumn('envelope', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('escrow_envelopes_pk', ['volume_id', 'epoch'])
        .execute();
      await db.schema
        .createTable('generations')
        .addColumn('volume_id', t.text, (c) => c.notNull())
        .addColumn('generation', t.integer, (c) => c.notNull())
        .addColumn('manifest', t.text, (c) => c.notNull())
        .addColumn('manifest_hash', t.text, (c) => c.notNull())
        .addColumn('size', t.integer, (c) => c.notNull())
        .addColumn('chunks', t.integer, (c) => c.notNull())
        .addColumn('device_fingerprint', t.text, (c) => c.notNull())
        .addColumn('receipt', t.text, (c) => c.notNull())
        .addColumn('committed_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('generations_pk', ['volume_id', 'generation'])
        .execute();
      // Chunks the blob store holds for a volume (keyed by volume and chunk ID).
      await db.schema
        .createTable('chunks')
        .addColumn('volume_id', t.text, (c) => c.notNull())
        .addColumn('chunk_id', t.text, (c) => c.notNull())
        .addColumn('ciphertext_sha256', t.text, (c) => c.notNull())
        .addColumn('size', t.integer, (c) => c.notNull())
        .addColumn('stored_at', t.text, (c) => c.notNull())
        .addColumn('verified_at', t.text)
        .addPrimaryKeyConstraint('chunks_pk', ['volume_id', 'chunk_id'])
        .execute();
      // One pair per volume at this site (RC-1): the transfer stream's state.
      await db.schema
        .createTable('pairs')
        .addColumn('pair_id', t.text, (c) => c.primaryKey())
        .addColumn('volume_id', t.text, (c) => c.notNull().unique())
        .addColumn('state', t.text, (c) => c.notNull())
        .addColumn('seq_applied', t.integer, (c) => c.notNull())
        .addColumn('seq_received', t.integer, (c) => c.notNull())
        .addColumn('bytes', t.integer, (c) => c.notNull())
        .addColumn('chunks_received', t.integer, (c) => c.notNull())
        .addColumn('last_transfer_at', t.text)
        .addColumn('last_error', t.text)
        .addColumn('created_at', t.text, (c) => c.notNull())
        .execute();
      // The transfer log: idempotency per (pair, seq), buffering of gaps.
      await db.schema
        .createTable('transfers')
        .addColumn('pair_id', t.text, (c) => c.notNull())
        .addColumn('seq', t.integer, (c) => c.notNull())
        .addColumn('kind', t.text, (c) => c.notNull())
        .addColumn('body_sha256', t.text, (c) => c.notNull())
        .addColumn('header', t.text, (c) => c.notNull())
        .addColumn('payload', t.blob)
        .addColumn('status', t.text, (c) => c.notNull())
        .addColumn('outcome', t.text)
        .addColumn('received_at', t.text, (c) => c.notNull())
        .addColumn('applied_at', t.text)
        .addPrimaryKeyConstraint('transfers_pk', ['pair_id', 'seq'])
        .execute();
      // Key releases (RS-2, RS-3): answers kept for lost-answer refetch.
      await db.schema
        .createTable('releases')
        .addColumn('request_id', t.text, (c) => c.primaryKey())
        .addColumn('user_id', t.text, (c) => c.notNull())
        .addColumn('volume_id', t.text, (c) => c.notNull())
        .addColumn('generation', t.integer, (c) => c.notNull())
        .addColumn('ephemeral_jwk', t.text, (c) => c.notNull())
        .addColumn('state', t.text, (c) => c.notNull())
        .addColumn('envelope', t.text)
        .addColumn('reason', t.text)
        .addColumn('decided_by', t.text)
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('decided_at', t.text)
        .execute();
      await db.schema
        .createIndex('releases_by_volume')
        .on('releases')
        .columns(['volume_id', 'user_id', 'state'])
        .execute();
    },
  },
  '0004_escrow_admin': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      // ES-2: re-arming a burned record waits for a second administrator.
      await db.schema
        .createTable('rearm_requests')
        .addColumn('id', t.text, (c) => c.primaryKey())
        .addColumn('volume_id', t.text, (c) => c.notNull())
        .addColumn('requested_by', t.text, (c) => c.notNull())
        .addColumn('reason', t.text, (c) => c.notNull())
        .addColumn('state', t.text, (c) => c.notNull())
        .addColumn('decided_by', t.text)
        .addColumn('decision_reason', t.text)
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('decided_at', t.text)
        .execute();
      // BK-9: a registration file is imported once.
      await db.schema
        .createTable('registration_imports')
        .addColumn('registration_id', t.text, (c) => c.primaryKey())
        .addColumn('volume_id', t.text, (c) => c.notNull())
        .addColumn('imported_by', t.text, (c) => c.notNull())
        .addColumn('imported_at', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('records_by_updated')
        .on('escrow_records')
        .column('updated_at')
        .execute();
    },
  },
  '0005_pairs': {
    async up(db: Kysely<unknown>) {
      const d = dialectOf(db);
      const t = d.types;
      await db.schema.alterTable('pairs').addColumn('unhealthy_reason', t.text).execute();
      await db.schema.alterTable('pairs').addColumn('state_since', t.text).execute();
      await db.schema.alterTable('pairs').addColumn('cut_seq', t.integer).execute();
      await db.schema.alterTable('pairs').addColumn('last_heartbeat_at', t.text).execute();
      await db.schema.alterTable('pairs').addColumn('heartbeat', t.text).execute();
      // RC-3: every state change with its cause, PSUE episodes included.
      await db.schema
        .createTable('pair_history')
        .addColumn('id', t.integer, (c) => d.autoIncrementKey(c))
        .addColumn('pair_id', t.text, (c) => c.notNull())
        .addColumn('at', t.text, (c) => c.notNull())
        .addColumn('from_state', t.text)
        .addColumn('to_state', t.text, (c) => c.notNull())
        .addColumn('reason', t.text, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('pair_history_by_pair')
        .on('pair_history')
        .columns(['pair_id', 'at'])
        .execute();
      // Administrators' instructions for a primary, until it acknowledges them.
      await db.schema
        .createTable('pair_instructions')
        .addColumn('id', t.text, (c) => c.primaryKey())
        .addColumn('pair_id', t.text, (c) => c.notNull())
        .addColumn('action', t.text, (c) => c.notNull())
        .addColumn('requested_by', t.text, (c) => c.notNull())
        .addColumn('requested_at', t.text, (c) => c.notNull())
        .addColumn('reason', t.text, (c) => c.notNull())
        .addColumn('state', t.text, (c) => c.notNull())
        .addColumn('acknowledged_at', t.text)
        .execute();
      await db.schema
        .createIndex('pair_instructions_by_pair')
        .on('pair_instructions')
        .columns(['pair_id', 'state'])
        .execute();
      // Lag and throughput over time, for the detail chart (RC-7).
      await db.schema
        .createTable('pair_samples')
        .addColumn('pair_id', t.text, (c) => c.notNull())
        .addColumn('at', t.text, (c) => c.notNull())
        .addColumn('lag_seconds', t.real)
        .addColumn('bytes_per_second', t.real)
        .execute();
      await db.schema
        .createIndex('pair_samples_by_pair')
        .on('pair_samples')
        .columns(['pair_id', 'at'])
        .execute();
    },
  },
  '0006_record_search': {
    async up(db: Kysely<unknown>) {
      // ES-1: pages in the default order are read from an index and stop early.
      await db.schema
        .createIndex('records_by_updated_volume')
        .on('escrow_records')
        .columns(['updated_at', 'volume_id'])
        .execute();
      await db.schema
        .createIndex('records_by_owner_volume')
        .on('escrow_records')
        .columns(['owner', 'volume_id'])
        .execute();
    },
  },
  '0007_volume_activity': {
    async up(db: Kysely<unknown>) {
      // AL-3: an owner pages through the releases and refusals of one volume, newest first.
      await db.schema
        .createIndex('releases_by_volume_time')
        .on('releases')
        .columns(['volume_id', 'created_at', 'request_id'])
        .execute();
      await db.schema
        .createIndex('alerts_by_volume')
        .on('alerts')
        .columns(['volume_id', 'at'])
        .execute();
    },
  },
  '0008_pair_rotation': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      // RC-4: a pair's key rotation as set by an administrator; null keeps the site's default.
      await db.schema.alterTable('pairs').addColumn('rotation_every_bytes', t.integer).execute();
      await db.schema.alterTable('pairs').addColumn('rotation_every_ms', t.integer).execute();
    },
  },
  '0009_identity_sign_in_attempts': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      // ID-3: attempts for unknown user IDs are summarised per address.
      await db.schema
        .alterTable('sign_in_failures')
        .addColumn('unknown_user', t.integer, (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('sign_in_failures_by_address')
        .on('sign_in_failures')
        .columns(['client_address', 'unknown_user', 'at'])
        .execute();
    },
  },
  '0010_identity_role_grants': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      // ID-1, ES-2: the admin role waits for a second administrator's confirmation.
      await db.schema
        .createTable('role_grants')
        .addColumn('id', t.text, (c) => c.primaryKey())
        .addColumn('user_id', t.text, (c) => c.notNull().references('users.user_id'))
        .addColumn('role', t.text, (c) => c.notNull())
        .addColumn('requested_by', t.text, (c) => c.notNull())
        .addColumn('reason', t.text, (c) => c.notNull())
        .addColumn('requested_at', t.text, (c) => c.notNull())
        .addColumn('approvers', t.text, (c) => c.notNull())
        .addColumn('state', t.text, (c) => c.notNull())
        .addColumn('decided_by', t.text)
        .addColumn('decision_reason', t.text)
        .addColumn('decided_at', t.text)
        .execute();
      await db.schema
        .createIndex('role_grants_by_state')
        .on('role_grants')
        .columns(['state', 'requested_at'])
        .execute();
    },
  },
  '0011_trusted_sites': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      // MS-1: other sites, pinned to their ID and keys; one site per address.
      await db.schema
        .createTable('trusted_sites')
        .addColumn('site_id', t.text, (c) => c.primaryKey())
        .addColumn('name', t.text, (c) => c.notNull())
        .addColumn('url', t.text, (c) => c.notNull().unique())
        .addColumn('escrow_key', t.text, (c) => c.notNull())
        .addColumn('signing_key', t.text, (c) => c.notNull())
        .addColumn('trusted_at', t.text, (c) => c.notNull())
        .addColumn('trusted_by', t.text)
        .addColumn('last_contact_at', t.text)
        .addColumn('reachable', t.integer)
        .addColumn('refused_fingerprint', t.text)
        .execute();
    },
  },
  '0012_identity_site_credentials': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      // MS-2: the site now keeps verifiers of site credentials, never of passwords. Every
      // verifier stored before was made from the password itself and is marked so: such an
      // account is refused at sign-in until its password is reset.
      await db.schema
        .alterTable('users')
        .addColumn('verifier_of', t.text, (c) => c.notNull().defaultTo('raw-password'))
        .execute();
    },
  },
  '0013_records_keys_site': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      // MS-3: a copy whose keys another site escrows names that site; null means this one.
      await db.schema.alterTable('escrow_records').addColumn('keys_site_id', t.text).execute();
    },
  },
  '0014_records_label': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      await db.schema.alterTable('escrow_records').addColumn('label', t.text).execute();
    },
  },
  '0015_alerts_message': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      // AL-2: what an alert says as a code and parameters, rendered in each reader's language.
      await db.schema.alterTable('alerts').addColumn('message_code', t.text).execute();
      await db.schema.alterTable('alerts').addColumn('message_params', t.text).execute();
    },
  },
  '0016_records_expiry': {
    async up(db: Kysely<unknown>) {
      const t = dialectOf(db).types;
      // The latest expiry an administrator set: the owner may not go past it (null: none).
      await db.schema.alterTable('escrow_records').addColumn('expiry_ceiling', t.text).execute();
      // Who set an expiry already stored is not known: the safe reading is an administrator.
      await sql`update escrow_records set expiry_ceiling = expires_at where expires_at is not null`.execute(
        db,
      );
      // The expiry the one notice before it was sent for; a new date earns a new notice.
      await db.schema
        .alterTable('escrow_records')
        .addColumn('expiry_noticed_for', t.text)
        .execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};

/** Brings a database that has no data worth a copy first (a new one) up to the latest schema. */
export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  const { error, results } = await new Migrator({
    db,
    provider: migrationProvider,
  }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed)
    throw new Error(
      `The schema could not be created (${failed?.migrationName ?? 'migrations'}): ${String(error)}`,
    );
}
