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
