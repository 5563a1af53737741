import { z } from 'zod';
import { MAX_VOLUME_ID_BYTES } from '../crypto/constants';
import { generationSchema, hex256Schema, volumeIdSchema } from '../crypto/format-schemas';

/** AL-1: the kinds of security event administrators are told about. */
export const alertKinds = [
  'unknown_user',
  'bad_password',
  'brute_force',
  'unauthorized_restorer',
  'key_not_found',
  'overwrite_attempt',
  'integrity_failure',
  'replayed_request',
  // MS-1: a trusted site answered with another ID or key than the pinned ones.
  'pinned_key_changed',
  // MS-1: a console served from an origin this site does not trust called its API.
  'untrusted_origin',
  // MS-2: a bearer token this site never issued, or one already ended, was shown to it.
  'foreign_token',
  // A record's expiry comes within the notice period (the one notice before it).
  'record_expiring',
] as const;
export const alertKindSchema = z.enum(alertKinds);
export type AlertKind = z.infer<typeof alertKindSchema>;

/**
 * What an alert says, as a code and its parameters, so that each reader gets
 * it in their own language; the English sentence is kept beside it (mail,
 * logs, CSV).
 */
export const alertMessageCodes = [
  'site_key_changed',
  'untrusted_origin',
  'untrusted_origins_many',
  'foreign_token',
  'foreign_tokens_many',
  'scrub_damaged',
  'chunk_unauthorized',
  'overwrite_attempt',
  'move_not_owner',
  'release_not_registered',
  'restore_not_registered',
  'key_revoked',
  'key_expired',
  'keys_elsewhere',
  'replayed_request',
  'key_no_record',
  'key_used_up',
  'key_had_once',
  'integrity_report',
  'integrity_report_volume',
  'integrity_reports_limited',
  'locked_out',
  'unknown_users_many',
  'legacy_verifier',
  'wrong_password',
  'unknown_user',
  'record_expiring',
] as const;
export type AlertMessageCode = (typeof alertMessageCodes)[number];
export const alertMessageSchema = z.object({
  code: z.string().max(64),
  params: z.record(z.string(), z.union([z.string(), z.number()])),
});
export interface AlertMessage {
  readonly code: AlertMessageCode;
  readonly params: Readonly<Record<string, string | number>>;
}

/** AL-2: one schema for every kind. */
export const alertSchema = z.object({
  id: z.number().int().positive(),
  kind: alertKindSchema,
  userId: z.string().nullable(),
  volumeId: z.string().nullable(),
  siteId: z.string(),
  clientAddress: z.string().nullable(),
  sentence: z.string(),
  /** Null for alerts stored before messages had codes. */
  message: alertMessageSchema.nullable(),
  at: z.iso.datetime(),
  acknowledgedAt: z.iso.datetime().nullable(),
  acknowledgedBy: z.string().nullable(),
});
export type Alert = z.infer<typeof alertSchema>;

const isoDate = z.iso.datetime({ offset: true }).or(z.iso.date());

export const pageQuerySchema = z.object({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
});

export const alertFilterSchema = z.object({
  kind: alertKindSchema.optional(),
  user: z.string().max(64).optional(),
  volume: z.string().max(MAX_VOLUME_ID_BYTES).optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  acknowledged: z.enum(['yes', 'no']).optional(),
});
export type AlertFilter = z.infer<typeof alertFilterSchema>;
export const alertQuerySchema = alertFilterSchema.extend(pageQuerySchema.shape);
export type AlertQuery = z.infer<typeof alertQuerySchema>;

export const alertPageSchema = z.object({
  alerts: z.array(alertSchema),
  total: z.number().int().nonnegative(),
  unacknowledged: z.number().int().nonnegative(),
});
export type AlertPage = z.infer<typeof alertPageSchema>;

export const acknowledgeAlertsRequestSchema = z.object({
  ids: z.array(z.number().int().positive()).min(1).max(1000),
});
export type AcknowledgeAlertsRequest = z.infer<typeof acknowledgeAlertsRequestSchema>;
export const acknowledgeAlertsResponseSchema = z.object({
  acknowledged: z.number().int().nonnegative(),
});

/**
 * The checks a client runs on what it restores or verifies (RS-5): a closed
 * set, so that a report names what failed and carries no words of its own.
 * The chunk checks are the format's (`ChunkFailure`); `manifest` is the
 * signed index, `image-sha256` the hash of the whole restored image, `key-share`
 * the site's share of the keys, which does not fit the other sites' shares (MS-5).
 */
export const integrityChecks = [
  'aead',
  'chunk-id',
  'index-hash',
  'length',
  'missing',
  'order',
  'manifest',
  'image-sha256',
  'key-share',
] as const;
export type IntegrityCheck = (typeof integrityChecks)[number];

/** Where the data that failed came from: this site's copy or the reporter's local copy. */
export const integritySources = ['site', 'local'] as const;

/** A client's report that a chunk or manifest failed its checks (RS-5). */
export const integrityReportSchema = z.strictObject({
  volumeId: volumeIdSchema,
  generation: generationSchema,
  source: z.enum(integritySources),
  check: z.enum(integrityChecks),
  chunkIndex: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  chunkId: hex256Schema.optional(),
  /** How many chunks failed, when a verify found more than the one named. */
  badChunks: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
});
export type IntegrityReport = z.infer<typeof integrityReportSchema>;
