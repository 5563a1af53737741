import { z } from 'zod';
import { alertSchema } from './alerts';
import { instructionSchema, pairSummarySchema } from './pairs';

/**
 * The one multiplexed event stream per tab (`GET /api/events`, Server-Sent
 * Events). Each SSE message's `event:` field is the `type` below and its
 * `data:` the JSON of the whole object.
 */
export const serverEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), userId: z.string(), at: z.iso.datetime() }),
  z.object({ type: z.literal('alert'), alert: alertSchema }),
  z.object({ type: z.literal('heartbeat'), at: z.iso.datetime() }),
  /** A request waits for an administrator's decision (BK-5, ES-2). */
  z.object({
    type: z.literal('approval'),
    kind: z.enum(['key_release', 'rearm']),
    requestId: z.string(),
    volumeId: z.string(),
    userId: z.string(),
    at: z.iso.datetime(),
  }),
  /** An administrator changed the escrow record of this owner's volume (ES-2). */
  z.object({
    type: z.literal('record'),
    volumeId: z.string(),
    change: z.string(),
    by: z.string(),
    reason: z.string(),
    at: z.iso.datetime(),
  }),
  /** A pair changed (RC-7): to administrators and the pair's owner. */
  z.object({ type: z.literal('pair'), pair: pairSummarySchema }),
  /** An administrator's instruction for the primary of this user's pair (RC-3). */
  z.object({
    type: z.literal('instruction'),
    pairId: z.string(),
    volumeId: z.string(),
    instruction: instructionSchema,
  }),
  /** A pending key release of this user was decided (RS-2). */
  z.object({
    type: z.literal('release'),
    requestId: z.string(),
    volumeId: z.string(),
    state: z.enum(['released', 'denied']),
    at: z.iso.datetime(),
  }),
]);
export type ServerEvent = z.infer<typeof serverEventSchema>;
