import { z } from 'zod';
import { epochSchema, volumeIdSchema } from '../crypto/format-schemas';
import {
  DEFAULT_ROTATION,
  rotationIntervalMs,
  rotationPolicy,
  type RotationPolicy,
} from '../transfer/rotation';
import { reasonSchema } from './records';
import { rotationPolicySchema } from './volumes';

/** RC-3: pair states, shown verbatim. */
export const pairStates = ['COPY', 'PAIR', 'PSUS', 'PSUE', 'SSWS'] as const;
export const pairStateSchema = z.enum(pairStates);
export type PairState = z.infer<typeof pairStateSchema>;

/** RC-3 actions; suspend, resume, flush and rekey are carried out by the primary. */
export const pairActions = ['suspend', 'resume', 'flush', 'rekey', 'takeover'] as const;
export const pairActionSchema = z.enum(pairActions);
export type PairAction = z.infer<typeof pairActionSchema>;

export const instructionSchema = z.object({
  id: z.string(),
  action: pairActionSchema,
  requestedBy: z.string(),
  requestedAt: z.iso.datetime(),
  reason: z.string(),
  /** requested: not yet heard by the primary; delivered: sent to it; acknowledged: carried out. */
  state: z.enum(['requested', 'delivered', 'acknowledged']),
  acknowledgedAt: z.iso.datetime().nullable(),
});
export type Instruction = z.infer<typeof instructionSchema>;

/** What the primary tells the site on every contact (RC-7 "last heartbeat"). */
export const heartbeatRequestSchema = z.object({
  /** The primary's view of the pair. */
  state: pairStateSchema,
  /** Why the primary is in PSUE, if it is (e.g. "site unreachable for 95 s"). */
  reason: z.string().max(500).nullable().default(null),
  seqSent: z.number().int().nonnegative(),
  pending: z.number().int().nonnegative(),
  pendingBytes: z.number().int().nonnegative(),
  oldestPendingAt: z.iso.datetime().nullable(),
  epoch: epochSchema.nullable(),
  nextRotationAt: z.iso.datetime().nullable(),
  bytesPerSecond: z.number().nonnegative().nullable().default(null),
});
export type HeartbeatRequest = z.infer<typeof heartbeatRequestSchema>;
export const heartbeatResponseSchema = z.object({ instructions: z.array(instructionSchema) });

export const acknowledgeInstructionRequestSchema = z.object({
  /** For suspend: the last sequence number written before the suspension (RC-5). */
  cutSeq: z.number().int().nonnegative().optional(),
  epoch: epochSchema.optional(),
});

/** Bits of the AES-GCM data key an epoch key is (RC-4). */
export const DATA_KEY_BITS = 256;

/**
 * The attacker the site's default rotation interval assumes: 10^18 guesses per
 * second, about a thousand times the hash rate of the whole Bitcoin network
 * in 2024 (~7 x 10^20 SHA-256 per second, each far cheaper than an AES key
 * trial) divided down to what could be brought to bear on one key. It is
 * deliberately generous; against a 256-bit key the derived interval still
 * exceeds ROTATION_BOUNDS.maxMs, so the default is the 30-day bound.
 */
export const ASSUMED_GUESSES_PER_SECOND = 1e18;

/**
 * A pair's policy when no administrator has set one: the byte limit of
 * DEFAULT_ROTATION and T from the time-to-break estimate (seed 002 claim 11),
 * both clamped to ROTATION_BOUNDS.
 */
export const SITE_DEFAULT_ROTATION: RotationPolicy = rotationPolicy(
  DEFAULT_ROTATION.everyBytes,
  rotationIntervalMs(DATA_KEY_BITS, ASSUMED_GUESSES_PER_SECOND),
);

export const MIB = 1024 ** 2;
export const MINUTE_MS = 60_000;

export const pairRotationRequestSchema = z.object({
  everyMiB: z
    .number({ error: 'give the size in MiB as a number' })
    .int('give a whole number of MiB')
    .positive('give a size of at least 1 MiB'),
  everyMinutes: z
    .number({ error: 'give the time in minutes as a number' })
    .int('give a whole number of minutes')
    .positive('give a time of at least 1 minute'),
  reason: reasonSchema,
});
export type PairRotationRequest = z.infer<typeof pairRotationRequestSchema>;

export const pairHistoryEntrySchema = z.object({
  at: z.iso.datetime(),
  from: pairStateSchema.nullable(),
  to: pairStateSchema,
  reason: z.string(),
});

/**
 * A primary heartbeats every few seconds while its console is open; after
 * this long without any contact the site no longer vouches for the state.
 */
export const PAIR_SILENCE_MS = 60_000;

export const pairSummarySchema = z.object({
  pairId: z.string(),
  volumeId: volumeIdSchema,
  owner: z.string(),
  siteId: z.string(),
  state: pairStateSchema,
  group: z.enum(['error', 'syncing', 'in_step']),
  unhealthyReason: z.string().nullable(),
  copyPercent: z.number().min(0).max(100),
  seqSent: z.number().int().nonnegative(),
  seqAcknowledged: z.number().int().nonnegative(),
  seqApplied: z.number().int().nonnegative(),
  pendingChunks: z.number().int().nonnegative(),
  pendingBytes: z.number().int().nonnegative(),
  lagSeconds: z.number().nonnegative().nullable(),
  bytesPerSecond: z.number().nonnegative().nullable(),
  timeToSyncSeconds: z.number().nonnegative().nullable(),
  epochPrimary: epochSchema.nullable(),
  epochSecondary: epochSchema.nullable(),
  nextRotationAt: z.iso.datetime().nullable(),
  bytes: z.number().int().nonnegative(),
  lastTransferAt: z.iso.datetime().nullable(),
  lastError: z.string().nullable(),
  lastHeartbeatAt: z.iso.datetime().nullable(),
  /**
   * The primary's last contact (heartbeat, transfer or claim) when it is
   * older than PAIR_SILENCE_MS: the state is then only the last one known.
   */
  silentSince: z.iso.datetime().nullable(),
  /** RC-5: while suspended, the sequence number the secondary is consistent with. */
  cutSeq: z.number().int().nonnegative().nullable(),
  instructions: z.array(instructionSchema),
  /** RC-4: the pair's key rotation; siteDefault when no administrator has set one. */
  rotation: rotationPolicySchema.extend({ siteDefault: z.boolean() }),
});
export type PairSummary = z.infer<typeof pairSummarySchema>;
export const pairListSchema = z.object({ pairs: z.array(pairSummarySchema) });

export const pairDetailSchema = z.object({
  pair: pairSummarySchema,
  history: z.array(pairHistoryEntrySchema),
  epochs: z.array(z.object({ epoch: epochSchema, at: z.iso.datetime() })),
  samples: z.array(
    z.object({
      at: z.iso.datetime(),
      lagSeconds: z.number().nullable(),
      bytesPerSecond: z.number().nullable(),
    }),
  ),
});
export type PairDetail = z.infer<typeof pairDetailSchema>;

export const pairRotationResponseSchema = z.object({
  pair: pairSummarySchema,
  /** What was asked for, in bytes and milliseconds, before clamping. */
  requested: rotationPolicySchema,
  /** True when a limit was outside ROTATION_BOUNDS and was moved to the nearest bound. */
  clamped: z.boolean(),
});
export type PairRotationResponse = z.infer<typeof pairRotationResponseSchema>;

export const pairActionRequestSchema = z.object({
  pairIds: z.array(z.string().uuid()).min(1).max(500),
  action: pairActionSchema,
  reason: reasonSchema,
});
export type PairActionRequest = z.infer<typeof pairActionRequestSchema>;
export const pairActionResponseSchema = z.object({
  instructions: z.array(instructionSchema.extend({ pairId: z.string() })),
});
