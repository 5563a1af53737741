import { z } from 'zod';

/**
 * Every error the site returns has a stable `code` (for programs and for the
 * console's translations) and a human `message` (English, for logs and for
 * clients without a translation). Never a stack trace.
 */
export const apiErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ApiErrorBody = z.infer<typeof apiErrorSchema>;

/**
 * Every error code of the API, in one union (SPEC §5): what the site answers
 * with, and what the console's request layer reports when no answer came
 * (`network_error`, `timeout`). The site's `DomainError` takes only these, and
 * the console explains each one in every language.
 */
export const errorCodes = [
  // Identity and access (IA)
  'unauthorized_user',
  'unauthorized_use',
  'locked_out',
  'not_signed_in',
  'session_expired',
  'forbidden',
  'weak_password',
  'wrong_password',
  'password_change_required',
  'device_key_taken',
  'device_not_registered',
  // User administration and site settings
  'user_exists',
  'user_not_found',
  'last_admin',
  'own_account',
  'reason_required',
  'mail_not_configured',
  'mail_failed',
  'audit_unavailable',
  'storage_full',
  'role_grant_not_found',
  'role_grant_pending',
  'approver_not_eligible',
  'no_second_admin',
  // Restorer DB, approvals and key release (ES, RS)
  'owner_is_restorer',
  'unknown_restorer',
  'invalid_owner',
  'already_revoked',
  'not_burned',
  'rearm_pending',
  'already_registered',
  'registered_to_another_operator',
  'invalid_registration',
  'already_imported',
  'self_approval',
  'approval_not_found',
  'release_not_found',
  'key_not_found',
  'record_expired',
  'record_revoked',
  'expired_policy',
  'expiry_set_by_administrator',
  'invalid_ephemeral_key',
  'requester_not_registered',
  'too_many_reports',
  'unknown_chunk',
  // Backup: volumes, chunks, keys and commits (BK)
  'volume_not_found',
  'generation_not_found',
  'wrong_generation',
  'chunk_not_found',
  'chunk_too_large',
  'chunks_missing',
  'keys_missing',
  'keys_elsewhere',
  'key_site_not_trusted',
  'epoch_exists',
  'bad_envelope',
  'bad_signature',
  'invalid_commit',
  'unknown_device_key',
  // Remote copy (RC)
  'pair_not_found',
  'pair_taken_over',
  'instruction_not_found',
  'sequence_conflict',
  'malformed_transfer',
  'body_hash_mismatch',
  // Several sites (MS)
  'invalid_site_address',
  'not_a_custodian_site',
  'site_unreachable',
  'own_site',
  'fingerprint_mismatch',
  'site_already_trusted',
  'trusted_site_not_found',
  'cross_origin_refused',
  // Requests as such
  'csrf_required',
  'invalid_request',
  'malformed_json',
  'body_too_large',
  'unsupported_media_type',
  'not_found',
  'server_error',
  // No answer from the site
  'network_error',
  'timeout',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

/** The header every state-changing call must carry (CSRF, with SameSite=Strict). */
export const CSRF_HEADER = 'x-custodian-csrf';
export const CSRF_HEADER_VALUE = '1';
