/**
 * Shapes of a generation's manifest (SPEC §2 "Manifest", docs/FORMAT.md
 * "Manifests"): a cleartext index the site can check without any key, a
 * sealed part only key holders can read, and the device key's signature.
 */

import { z } from 'zod';
import { CHUNK_SIZE, FORMAT_VERSION, NONCE_LENGTH } from './constants';
import {
  base64UrlBytesSchema,
  base64UrlSchema,
  epochSchema,
  generationSchema,
  hex256Schema,
  timestampSchema,
  volumeIdSchema,
} from './format-schemas';
import { SIGNATURE_LENGTH } from './device-key';

/** Type tag of a signed manifest (domain separation of the device key's signatures). */
export const MANIFEST_TYPE = 'custodian-manifest';

/** 2^20 chunks of 4 MiB: images up to 4 TiB. */
export const MAX_MANIFEST_CHUNKS = 1 << 20;

/** One chunk of the image, in image order (BK-6). */
export const chunkEntrySchema = z.strictObject({
  /** HMAC-SHA-256(chunk-ID key, plaintext), hex. */
  chunkId: hex256Schema,
  /** SHA-256 of the whole blob, hex. */
  ciphertextSha256: hex256Schema,
  /** Plaintext length in bytes. */
  length: z.number().int().min(1).max(CHUNK_SIZE),
  /** Epoch of the data key the blob is encrypted under. */
  epoch: epochSchema,
});
export type ChunkEntry = z.infer<typeof chunkEntrySchema>;

/** The sites that keep a volume's keys, whole or in shares (MS-4; docs/FORMAT.md "Key shares"). */
export const escrowSitesSchema = z
  .strictObject({
    /** Sites needed to restore (k). */
    threshold: z.number().int().min(1).max(255),
    /** Every site that holds a share (or, with threshold 1, the whole keys), each once. */
    sites: z
      .array(z.strictObject({ siteId: z.string().min(1).max(128), fingerprint: hex256Schema }))
      .min(2)
      .max(255),
  })
  .superRefine((escrow, ctx) => {
    if (escrow.threshold > escrow.sites.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['threshold'],
        message: 'more sites needed than listed',
      });
    }
    if (new Set(escrow.sites.map((s) => s.siteId)).size !== escrow.sites.length) {
      ctx.addIssue({ code: 'custom', path: ['sites'], message: 'a site is listed twice' });
    }
  });
export type EscrowSites = z.infer<typeof escrowSitesSchema>;

export const manifestIndexSchema = z
  .strictObject({
    format: z.literal(FORMAT_VERSION),
    volumeId: volumeIdSchema,
    generation: generationSchema,
    /** Manifest hash of generation - 1; null for generation 1. */
    previousManifestHash: hex256Schema.nullable(),
    /** Writers use CHUNK_SIZE; readers accept smaller sizes (test data). */
    chunkSize: z.number().int().min(1).max(CHUNK_SIZE),
    chunks: z.array(chunkEntrySchema).max(MAX_MANIFEST_CHUNKS),
    createdAt: timestampSchema,
    /** SHA-256 of the DER SPKI of the device key that signs the manifest (ID-6). */
    deviceKeyFingerprint: hex256Schema,
    /** Absent: the site the manifest is committed to keeps the whole keys. */
    escrow: escrowSitesSchema.optional(),
  })
  .superRefine((index, ctx) => {
    if ((index.generation === 1) !== (index.previousManifestHash === null)) {
      ctx.addIssue({
        code: 'custom',
        path: ['previousManifestHash'],
        message:
          index.generation === 1
            ? 'generation 1 has no previous manifest'
            : `generation ${index.generation} must name the previous manifest`,
      });
    }
    // Fixed-size chunking: every chunk but the last is exactly chunkSize long.
    const last = index.chunks.length - 1;
    index.chunks.forEach((chunk, i) => {
      if (chunk.length > index.chunkSize || (i < last && chunk.length !== index.chunkSize)) {
        ctx.addIssue({
          code: 'custom',
          path: ['chunks', i, 'length'],
          message: `chunk ${i} must be ${i < last ? 'exactly' : 'at most'} ${index.chunkSize} bytes`,
        });
      }
    });
  });
export type ManifestIndex = z.infer<typeof manifestIndexSchema>;

/** The encrypted part: AES-256-GCM of the canonical JSON of a ManifestSecret. */
export const sealedPartSchema = z.strictObject({
  epoch: epochSchema,
  nonce: base64UrlBytesSchema(NONCE_LENGTH),
  ciphertext: base64UrlSchema.min(22),
});
export type SealedPart = z.infer<typeof sealedPartSchema>;

/** What only key holders may read (SPEC §2). */
export const manifestSecretSchema = z.strictObject({
  /** SHA-256 of the whole image, hex. */
  imageSha256: hex256Schema,
  /** Name of the image file the operator selected. */
  fileName: z.string().max(1024),
  /** Image size in bytes. */
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Volume kind as detected (e.g. "iso9660"), when known. */
  volumeKind: z.string().max(64).optional(),
});
export type ManifestSecret = z.infer<typeof manifestSecretSchema>;

/** A manifest before its signature. Its canonical JSON is what gets signed. */
export const unsignedManifestSchema = z.strictObject({
  type: z.literal(MANIFEST_TYPE),
  index: manifestIndexSchema,
  sealed: sealedPartSchema,
});
export type UnsignedManifest = z.infer<typeof unsignedManifestSchema>;

export const signedManifestSchema = z.strictObject({
  type: z.literal(MANIFEST_TYPE),
  index: manifestIndexSchema,
  sealed: sealedPartSchema,
  /** ECDSA P-256 / SHA-256, P1363 r ‖ s, base64url. */
  signature: base64UrlBytesSchema(SIGNATURE_LENGTH),
});
export type SignedManifest = z.infer<typeof signedManifestSchema>;
