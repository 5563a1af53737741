import { z } from 'zod';
import { generationSchema, volumeIdSchema } from '../crypto/format-schemas';

/**
 * What happened to an owner's volume at the site (SPEC §1 and AL-3: owners
 * see restores and refusals of their volumes): key releases from the
 * site's release rows and refusals from its alerts, newest first.
 */

/** How a key release ended (BK-5): at once, after an administrator's approval, waiting, or denied. */
export const releaseOutcomes = ['released', 'approved', 'awaiting_approval', 'denied'] as const;
export type ReleaseOutcome = (typeof releaseOutcomes)[number];

/**
 * Why the site refused someone this volume (RS-2, RS-3, BK-3):
 * - `unauthorized_use`: not a registered restorer (seed 000 [0064]);
 * - `burned`: the one-time record was already used (seed 000 [0110]);
 * - `used_once`: once per restorer, and this restorer had the key already;
 * - `no_key`: the site holds no key for the volume;
 * - `replayed_request`: someone presented another person's release request;
 * - `not_owner`: another operator tried to back up, change or look into the volume.
 */
export const refusalReasons = [
  'unauthorized_use',
  'burned',
  'used_once',
  'no_key',
  'revoked',
  'expired',
  'replayed_request',
  'not_owner',
] as const;
export type RefusalReason = (typeof refusalReasons)[number];

/** The person an entry is about, with the display name the site knows them by. */
const personFields = {
  /** Null when the site could not tell who it was. */
  userId: z.string().nullable(),
  displayName: z.string().nullable(),
};

export const volumeActivitySchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('release'),
    /** The request ID of the release. */
    id: z.string(),
    at: z.iso.datetime(),
    ...personFields,
    generation: generationSchema,
    outcome: z.enum(releaseOutcomes),
    /** The administrator who approved or denied it, and when, with their reason. */
    decidedBy: z.string().nullable(),
    decidedAt: z.iso.datetime().nullable(),
    note: z.string().nullable(),
  }),
  z.object({
    type: z.literal('refusal'),
    /** The alert's ID. */
    id: z.string(),
    at: z.iso.datetime(),
    ...personFields,
    reason: z.enum(refusalReasons),
  }),
]);
export type VolumeActivity = z.infer<typeof volumeActivitySchema>;

/**
 * An opaque position in the list: the time, source (r: release, a: alert)
 * and ID of the last entry of the previous page.
 */
export const activityCursorSchema = z
  .string()
  .max(300)
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z~(r~[A-Za-z0-9_-]{1,128}|a~\d{1,15})$/,
    'a cursor from an earlier page',
  );

export const VOLUME_ACTIVITY_PAGE_MAX = 100;

export const volumeActivityQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(VOLUME_ACTIVITY_PAGE_MAX).default(20),
  /** Entries older than this cursor (the previous page's `nextCursor`). */
  before: activityCursorSchema.optional(),
});
export type VolumeActivityQuery = z.infer<typeof volumeActivityQuerySchema>;

export const volumeActivityPageSchema = z.object({
  volumeId: volumeIdSchema,
  entries: z.array(volumeActivitySchema),
  /** Null on the last page. */
  nextCursor: activityCursorSchema.nullable(),
});
export type VolumeActivityPage = z.infer<typeof volumeActivityPageSchema>;
