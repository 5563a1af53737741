import { z } from 'zod';
import { generationSchema, volumeIdSchema } from '../crypto/format-schemas';
import { receiptSchema } from '../crypto/receipt';
import { registrationFileSchema } from '../crypto/registration';
import { releasePolicySchema } from '../crypto/release-policy';
import { pageQuerySchema } from './alerts';
import { userIdSchema } from './identity';
import { escrowRecordSchema, generationSummarySchema, recordStates } from './volumes';

/** Every administrative change says why (ES-2). */
export const reasonSchema = z
  .string()
  .trim()
  .min(3, 'give a reason of at least 3 characters')
  .max(500);

// ---- The restorer DB as administrators search it (ES-1) ----

export const recordSortFields = ['volumeId', 'owner', 'state', 'policy', 'updatedAt'] as const;
export const recordQuerySchema = pageQuerySchema.extend({
  /** Matches volume ID, owner or a restorer (substring, case-insensitive). */
  q: z.string().trim().max(200).optional(),
  state: z.enum(recordStates).optional(),
  policy: z.enum(['one-time', 'once-per-restorer', 'reusable']).optional(),
  owner: userIdSchema.optional(),
  restorer: userIdSchema.optional(),
  /** Only records that expire within this many days from now (and have not expired). */
  expiringWithin: z.coerce.number().int().min(1).max(3650).optional(),
  sort: z.enum(recordSortFields).default('updatedAt'),
  order: z.enum(['asc', 'desc']).default('desc'),
});
export type RecordQuery = z.infer<typeof recordQuerySchema>;
export const recordFilterSchema = recordQuerySchema.omit({ page: true, pageSize: true });
export type RecordFilter = z.infer<typeof recordFilterSchema>;
export const recordExportQuerySchema = recordFilterSchema.extend({
  format: z.enum(['csv', 'json']).default('csv'),
});

export const recordPageSchema = z.object({
  records: z.array(escrowRecordSchema),
  /** Matches counted up to a cap; when capped, there are more than `total`. */
  total: z.number().int().nonnegative(),
  totalIsCapped: z.boolean(),
});
export type RecordPage = z.infer<typeof recordPageSchema>;

export const releaseHistoryEntrySchema = z.object({
  requestId: z.string(),
  userId: userIdSchema,
  generation: generationSchema,
  state: z.enum(['released', 'pending_approval', 'denied']),
  createdAt: z.iso.datetime(),
  decidedBy: z.string().nullable(),
  reason: z.string().nullable(),
});

export const recordDetailSchema = z.object({
  record: escrowRecordSchema,
  generations: z.array(generationSummarySchema.extend({ receipt: receiptSchema })),
  releases: z.array(releaseHistoryEntrySchema),
});
export type RecordDetail = z.infer<typeof recordDetailSchema>;

// ---- Changes (ES-2) ----

export const setExpiryRequestSchema = z.object({
  expiresAt: z.iso.datetime().nullable(),
  reason: reasonSchema,
});
export const revokeRequestSchema = z.object({ reason: reasonSchema });
export const transferOwnershipRequestSchema = z.object({
  newOwner: userIdSchema,
  reason: reasonSchema,
  /** The former owner loses the volume unless the administrator keeps them as a restorer. */
  keepFormerOwnerAsRestorer: z.boolean().default(false),
});
export const rearmRequestSchema = z.object({ reason: reasonSchema });

// ---- Approvals: key releases and re-arms wait for a second administrator ----

export const approvalSchema = z.object({
  id: z.string(),
  kind: z.enum(['key_release', 'rearm']),
  volumeId: volumeIdSchema,
  requestedBy: userIdSchema,
  requestedAt: z.iso.datetime(),
  generation: generationSchema.nullable(),
  reason: z.string().nullable(),
});
export type Approval = z.infer<typeof approvalSchema>;
export const approvalListSchema = z.object({ approvals: z.array(approvalSchema) });
export const decideApprovalRequestSchema = z.object({ approve: z.boolean(), reason: reasonSchema });
export const decisionSchema = z.object({
  id: z.string(),
  kind: z.enum(['key_release', 'rearm']),
  state: z.enum(['approved', 'denied']),
});

// ---- Registration by hand and from an offline file (ES-3, BK-9) ----

/**
 * A record registered by hand: it reserves a volume ID for an owner with its
 * restorers (overwrite protection, BK-3) until the owner's backup brings the
 * keys and the first generation.
 */
export const manualRegistrationRequestSchema = z.object({
  volumeId: volumeIdSchema,
  owner: userIdSchema,
  restorers: z.array(userIdSchema).max(1000).default([]),
  policy: releasePolicySchema,
  reason: reasonSchema,
});
export type ManualRegistrationRequest = z.infer<typeof manualRegistrationRequestSchema>;

export const importRegistrationRequestSchema = z.object({
  file: registrationFileSchema,
  reason: reasonSchema,
});
export const importRegistrationResponseSchema = z.object({
  record: escrowRecordSchema,
  receipt: receiptSchema,
});

/** The dashboard's figures of the restorer DB (issue "administrator's console"). */
export const siteSummarySchema = z.object({
  volumes: z.number().int().nonnegative(),
  recordsByState: z.object({
    active: z.number().int(),
    burned: z.number().int(),
    revoked: z.number().int(),
  }),
  pendingApprovals: z.number().int().nonnegative(),
  /** Ciphertext bytes stored per UTC day, oldest first, for the last `days` days. */
  bytesPerDay: z.array(z.object({ day: z.iso.date(), bytes: z.number().int().nonnegative() })),
});
export type SiteSummary = z.infer<typeof siteSummarySchema>;
