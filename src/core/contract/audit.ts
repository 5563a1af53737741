import { z } from 'zod';
import { MAX_VOLUME_ID_BYTES } from '../crypto/constants';
import { pageQuerySchema } from './alerts';

/** AL-4: one entry of the append-only, HMAC-chained audit log. */
export const auditEntrySchema = z.object({
  seq: z.number().int().positive(),
  at: z.iso.datetime(),
  event: z.string(),
  actor: z.string().nullable(),
  volumeId: z.string().nullable(),
  clientAddress: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  prevMac: z.string(),
  mac: z.string(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

const isoDate = z.iso.datetime({ offset: true }).or(z.iso.date());

export const auditFilterSchema = z.object({
  event: z.string().max(64).optional(),
  user: z.string().max(64).optional(),
  volume: z.string().max(MAX_VOLUME_ID_BYTES).optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
});
export type AuditFilter = z.infer<typeof auditFilterSchema>;
export const auditQuerySchema = auditFilterSchema.extend(pageQuerySchema.shape);
export type AuditQuery = z.infer<typeof auditQuerySchema>;
export const auditExportQuerySchema = auditFilterSchema.extend({
  format: z.enum(['csv', 'json']).default('csv'),
});

export const auditPageSchema = z.object({
  entries: z.array(auditEntrySchema),
  total: z.number().int().nonnegative(),
});
export type AuditPage = z.infer<typeof auditPageSchema>;

/** The head of the chain: receipts carry it so that truncation shows. */
export const auditHeadSchema = z.object({ seq: z.number().int().nonnegative(), mac: z.string() });
export type AuditHead = z.infer<typeof auditHeadSchema>;

export const auditVerificationSchema = z.discriminatedUnion('intact', [
  z.object({
    intact: z.literal(true),
    entries: z.number().int().nonnegative(),
    head: auditHeadSchema,
  }),
  z.object({
    intact: z.literal(false),
    entries: z.number().int().nonnegative(),
    brokenAt: z.number().int().positive(),
    reason: z.string(),
  }),
]);
export type AuditVerification = z.infer<typeof auditVerificationSchema>;

/**
 * Every event the site writes to its audit log, so that the console can
 * name each one in the reader's language (admin.auditLog.events) and the
 * site can write no other.
 */
export const auditEventNames = [
  'sign_in',
  'sign_in_refused',
  'sign_out',
  'user_created',
  'user_disabled',
  'user_enabled',
  'user_password_reset',
  'user_verifier_upgraded',
  'user_roles_changed',
  'user_sessions_ended',
  'role_grant_requested',
  'role_grant_confirmed',
  'role_grant_refused',
  'bearer_token_refused',
  'cross_origin_refused',
  'replayed_request',
  'alerts_acknowledged',
  'audit_verified',
  'test_mail_sent',
  'master_key_rotated',
  'key_exported',
  'records_exported',
  'device_registered',
  'volume_claimed',
  'claim_released',
  'claim_expired',
  'epoch_key_escrowed',
  'generation_committed',
  'overwrite_refused',
  'volume_scrubbed',
  'integrity_failure_reported',
  'integrity_report_refused',
  'integrity_reports_limited',
  'key_release_requested',
  'key_released',
  'key_release_approved',
  'key_release_denied',
  'key_not_found',
  'restore_refused',
  'restorers_changed',
  'volume_labelled',
  'volume_moved',
  'volume_move_refused',
  'expiry_changed',
  'expiry_change_refused',
  'expiry_noticed',
  'record_revoked',
  'ownership_transferred',
  'rearm_requested',
  'rearm_approved',
  'rearm_denied',
  'record_registered_manually',
  'registration_imported',
  'pair_action_requested',
  'pair_instruction_acknowledged',
  'pair_state_changed',
  'pair_rotation_changed',
  'site_trusted',
  'site_trust_withdrawn',
  'site_trust_refused',
  'pinned_site_refused',
] as const;
export type AuditEventName = (typeof auditEventNames)[number];
