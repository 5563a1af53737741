import { z } from 'zod';
import {
  epochSchema,
  generationSchema,
  hex256Schema,
  volumeIdSchema,
} from '../crypto/format-schemas';
import { signedManifestSchema } from '../crypto/manifest-schema';
import { receiptSchema } from '../crypto/receipt';
import { releasePolicySchema } from '../crypto/release-policy';
import { userIdSchema } from './identity';

export { volumeIdSchema };

/** A P-256 public key as JWK (device keys, ephemeral restore keys). */
export const p256PublicJwkSchema = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  y: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
});
export type P256PublicJwk = z.infer<typeof p256PublicJwkSchema>;

// ---- Device keys (ID-6) ----

export const registerDeviceRequestSchema = z.object({
  publicKey: p256PublicJwkSchema,
  label: z.string().max(100).optional(),
});
export type RegisterDeviceRequest = z.infer<typeof registerDeviceRequestSchema>;
export const deviceKeySchema = z.object({
  fingerprint: hex256Schema,
  userId: userIdSchema,
  label: z.string().nullable(),
  registeredAt: z.iso.datetime(),
});
export type DeviceKey = z.infer<typeof deviceKeySchema>;
export const deviceKeyListSchema = z.object({ devices: z.array(deviceKeySchema) });

// ---- Volumes, claims (BK-3, BK-8) ----

export const volumeStates = ['unregistered', 'claimed', 'registered'] as const;
export const volumeOwnerSchema = z.object({
  volumeId: volumeIdSchema,
  state: z.enum(volumeStates),
  owner: userIdSchema.nullable(),
  /** True when the caller owns (or holds the claim on) the volume. */
  mine: z.boolean(),
});
export type VolumeOwner = z.infer<typeof volumeOwnerSchema>;

export const claimRequestSchema = z.object({
  /** Keep transfers the site buffered from an earlier, interrupted session. */
  resume: z.boolean().default(false),
});
export type ClaimRequest = z.infer<typeof claimRequestSchema>;

/** RC-4: when a pair's primary replaces its data key: after so many bytes or so long. */
export const rotationPolicySchema = z.object({
  everyBytes: z.number().positive(),
  everyMs: z.number().positive(),
});

export const claimSchema = z.object({
  volumeId: volumeIdSchema,
  pairId: z.string(),
  claimExpiresAt: z.iso.datetime(),
  /** The generation this backup will commit. */
  nextGeneration: generationSchema,
  previousManifestHash: hex256Schema.nullable(),
  /** Highest sequence number applied in order; the next transfer is this + 1. */
  seqApplied: z.number().int().nonnegative(),
  /** Sequence numbers received beyond seqApplied, waiting for a gap to fill. */
  buffered: z.array(z.number().int().positive()),
  /** Epochs whose keys the site already holds for this volume. */
  epochs: z.array(epochSchema),
  /** RC-4: the pair's key rotation policy; absent from older sites. */
  rotation: rotationPolicySchema.optional(),
});
export type Claim = z.infer<typeof claimSchema>;

// ---- Transfers (RC-2) ----

/** Header carrying the SHA-256 (hex) of the padded transfer body. */
export const BODY_SHA256_HEADER = 'x-custodian-body-sha256';

export const transferAckSchema = z.object({
  pairId: z.string(),
  seq: z.number().int().positive(),
  /** applied: in order now; buffered: kept until the gap before it fills; duplicate: seen before. */
  status: z.enum(['applied', 'buffered', 'duplicate']),
  seqApplied: z.number().int().nonnegative(),
  /** The receipt, once a commit has been applied (BK-10). */
  receipt: receiptSchema.optional(),
});
export type TransferAck = z.infer<typeof transferAckSchema>;

/** The payload of a commit transfer: the signed manifest and the escrow terms. */
export const commitPayloadSchema = z.strictObject({
  manifest: signedManifestSchema,
  restorers: z.array(userIdSchema).min(1).max(1000),
  policy: releasePolicySchema,
  /**
   * MS-3: the ID of the site that holds this volume's keys, when it is not
   * the site this commit goes to. That site keeps only the ciphertext (a
   * safe box, seed 003) and never receives a key for it.
   */
  keysAt: z.string().min(1).max(200).optional(),
});
export type CommitPayload = z.infer<typeof commitPayloadSchema>;

// ---- Generations, restore (RS-1, RS-7) ----

export const generationSummarySchema = z.object({
  generation: generationSchema,
  manifestHash: hex256Schema,
  /** Plaintext bytes, from the cleartext index. */
  size: z.number().int().nonnegative(),
  chunks: z.number().int().nonnegative(),
  committedAt: z.iso.datetime(),
});
export type GenerationSummary = z.infer<typeof generationSummarySchema>;

export const recordStates = ['active', 'burned', 'revoked'] as const;
export type RecordState = (typeof recordStates)[number];

/** Why a volume cannot be restored now, if it cannot (RS-1). */
export const unavailableReasons = [
  'burned',
  'revoked',
  'expired',
  'awaiting_approval',
  'used_by_you',
] as const;

export const restorableVolumeSchema = z.object({
  volumeId: volumeIdSchema,
  owner: userIdSchema,
  policy: releasePolicySchema,
  state: z.enum(recordStates),
  generations: z.array(generationSummarySchema),
  unavailable: z.enum(unavailableReasons).nullable(),
});
export type RestorableVolume = z.infer<typeof restorableVolumeSchema>;
export const restorableListSchema = z.object({ volumes: z.array(restorableVolumeSchema) });

export const generationManifestSchema = z.object({
  volumeId: volumeIdSchema,
  generation: generationSchema,
  manifest: signedManifestSchema,
  /** DER SPKI (base64url) of the device key that signed it, for verification. */
  devicePublicKey: z.string(),
  receipt: receiptSchema,
});
export type GenerationManifest = z.infer<typeof generationManifestSchema>;

// ---- Key release (RS-2, RS-3) ----

export const keyReleaseRequestSchema = z.object({
  requestId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,128}$/, 'a random ID of 16 to 128 URL-safe characters'),
  generation: generationSchema,
  ephemeralPublicKey: p256PublicJwkSchema,
});
export type KeyReleaseRequest = z.infer<typeof keyReleaseRequestSchema>;

export const keyReleaseSchema = z.discriminatedUnion('state', [
  z.object({
    state: z.literal('released'),
    requestId: z.string(),
    volumeId: volumeIdSchema,
    generation: generationSchema,
    /** JWE to the ephemeral key, purpose "release". */
    envelope: z.string(),
  }),
  z.object({
    state: z.literal('pending_approval'),
    requestId: z.string(),
    volumeId: volumeIdSchema,
    generation: generationSchema,
  }),
  z.object({
    state: z.literal('denied'),
    requestId: z.string(),
    volumeId: volumeIdSchema,
    generation: generationSchema,
    reason: z.string(),
  }),
]);
export type KeyRelease = z.infer<typeof keyReleaseSchema>;

// ---- A volume's backups moving to another browser of its owner ----

/**
 * The owner's new browser asks for the volume's chunk-ID key (no data key),
 * signed by its registered device key (see volumeMoveBytes).
 */
export const moveVolumeRequestSchema = z.object({
  generation: generationSchema,
  deviceFingerprint: hex256Schema,
  ephemeralPublicKey: p256PublicJwkSchema,
  signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'a P-256 signature, 64 bytes in base64url'),
});
export type MoveVolumeRequest = z.infer<typeof moveVolumeRequestSchema>;

export const volumeMoveSchema = z.object({
  volumeId: volumeIdSchema,
  generation: generationSchema,
  /** JWE to the ephemeral key, purpose "move": the chunk-ID key or this site's share of it. */
  envelope: z.string(),
});
export type VolumeMove = z.infer<typeof volumeMoveSchema>;

// ---- Escrow records, as owners and administrators see them (ES-1, ES-2) ----

/** Longest name an owner may give a volume. */
export const MAX_VOLUME_LABEL = 80;

export const escrowRecordSchema = z.object({
  volumeId: volumeIdSchema,
  /** The owner's name for the volume, shown beside its ID; null until one is given. */
  label: z.string().max(MAX_VOLUME_LABEL).nullable(),
  owner: userIdSchema,
  restorers: z.array(userIdSchema),
  policy: releasePolicySchema,
  state: z.enum(recordStates),
  generations: z.number().int().nonnegative(),
  latestGeneration: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** When the latest generation was committed; null before the first. */
  lastBackupAt: z.iso.datetime().nullable(),
  releases: z.number().int().nonnegative(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type EscrowRecord = z.infer<typeof escrowRecordSchema>;

export const myVolumesSchema = z.object({ records: z.array(escrowRecordSchema) });

/** Whether `text` holds a control character (C0 or DEL), which a volume's name may not. */
export function hasControlCharacter(text: string): boolean {
  return [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
}

/** The owner names a volume; an empty name removes it. */
export const setVolumeLabelRequestSchema = z.object({
  label: z
    .string()
    .trim()
    .max(MAX_VOLUME_LABEL, `A name has at most ${MAX_VOLUME_LABEL} characters.`)
    .refine((label) => !hasControlCharacter(label), 'A name has no control characters.'),
});
export type SetVolumeLabelRequest = z.infer<typeof setVolumeLabelRequestSchema>;

/** The owner's new expiry of their record; null: none. */
export const setVolumeExpiryRequestSchema = z.object({
  expiresAt: z.iso.datetime().nullable(),
});

export const changeRestorersRequestSchema = z.object({
  add: z.array(userIdSchema).max(100).default([]),
  remove: z.array(userIdSchema).max(100).default([]),
  reason: z.string().trim().min(3).max(500),
});
export type ChangeRestorersRequest = z.infer<typeof changeRestorersRequestSchema>;

/** Answer headers of HEAD/GET on a stored chunk: its ciphertext hash and epoch. */
export const CIPHERTEXT_SHA256_HEADER = 'x-custodian-ciphertext-sha256';
export const CHUNK_EPOCH_HEADER = 'x-custodian-chunk-epoch';

// ---- Scrub (RS-9): the site re-hashes stored chunks against the index, no key needed ----

export const scrubRequestSchema = z.object({
  generation: generationSchema.optional(),
  /** Index of the first chunk to check, and how many: partial runs add up. */
  from: z.number().int().nonnegative().default(0),
  count: z.number().int().positive().max(1_000_000).optional(),
});
export type ScrubRequest = z.infer<typeof scrubRequestSchema>;

export const scrubResultSchema = z.object({
  volumeId: volumeIdSchema,
  generation: generationSchema,
  total: z.number().int().nonnegative(),
  from: z.number().int().nonnegative(),
  checked: z.number().int().nonnegative(),
  bad: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      chunkId: hex256Schema,
      problem: z.enum(['missing', 'hash_mismatch']),
    }),
  ),
});
export type ScrubResult = z.infer<typeof scrubResultSchema>;
