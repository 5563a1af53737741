/**
 * The keys of a volume as JSON (docs/FORMAT.md "Key envelopes" and "Keys
 * file"): the plaintext of every key envelope, and — with the device public
 * keys added — the keys file the independent decoder reads.
 */

import { z } from 'zod';
import { KEY_LENGTH } from './constants';
import {
  base64UrlBytesSchema,
  base64UrlSchema,
  epochSchema,
  volumeIdSchema,
} from './format-schemas';

export const VOLUME_KEYS_TYPE = 'custodian-volume-keys';
export const VOLUME_KEY_SHARES_TYPE = 'custodian-volume-key-shares';
export const KEY_SHARE_FILE_TYPE = 'custodian-key-share-file';
export const KEYS_FILE_TYPE = 'custodian-keys-file';

const dataKeysSchema = z
  .array(z.strictObject({ epoch: epochSchema, key: base64UrlBytesSchema(KEY_LENGTH) }))
  .max(1_000_000)
  .refine((keys) => keys.every((k, i) => i === 0 || keys[i - 1]!.epoch < k.epoch), {
    message: 'data keys must be in ascending epoch order, each epoch once',
  });

export const volumeKeysPayloadSchema = z.strictObject({
  type: z.literal(VOLUME_KEYS_TYPE),
  format: z.literal(1),
  volumeId: volumeIdSchema,
  /** Raw 32-byte HMAC-SHA-256 key, base64url. */
  chunkIdKey: base64UrlBytesSchema(KEY_LENGTH),
  /** Raw 32-byte AES-256 keys by epoch, base64url. */
  dataKeys: dataKeysSchema,
});
export type VolumeKeysPayload = z.infer<typeof volumeKeysPayloadSchema>;

/** A Shamir share of a 32-byte key: the 32 share bytes, then the share's x coordinate (1 … 255). */
export const KEY_SHARE_LENGTH = KEY_LENGTH + 1;

/** First 16 bytes of SHA-256("custodian-key-check" ‖ 0x00 ‖ key), hex: names a key, reveals nothing of it. */
const keyCheckSchema = z.string().regex(/^[0-9a-f]{32}$/, 'a key check is 32 hex digits');

/** A site's shares of every key of a volume (MS-4; docs/FORMAT.md "Key shares"). */
export const volumeKeySharesPayloadSchema = z
  .strictObject({
    type: z.literal(VOLUME_KEY_SHARES_TYPE),
    format: z.literal(1),
    volumeId: volumeIdSchema,
    /** The site this share was made for: it is sent there and nowhere else. */
    siteId: z.string().min(1).max(128),
    /** Shares needed to rebuild a key (k). */
    threshold: z.number().int().min(2).max(255),
    /** Shares made of each key, one per site (n). */
    shares: z.number().int().min(2).max(255),
    chunkIdKey: base64UrlBytesSchema(KEY_SHARE_LENGTH),
    chunkIdKeyCheck: keyCheckSchema,
    dataKeys: z
      .array(
        z.strictObject({
          epoch: epochSchema,
          key: base64UrlBytesSchema(KEY_SHARE_LENGTH),
          check: keyCheckSchema,
        }),
      )
      .max(1_000_000)
      .refine((keys) => keys.every((k, i) => i === 0 || keys[i - 1]!.epoch < k.epoch), {
        message: 'data keys must be in ascending epoch order, each epoch once',
      }),
  })
  .refine((p) => p.threshold <= p.shares, { message: 'threshold cannot exceed shares' });
export type VolumeKeySharesPayload = z.infer<typeof volumeKeySharesPayloadSchema>;

/** What a key envelope holds: the keys themselves, or one site's shares of them. */
export const envelopePayloadSchema = z.union([
  volumeKeysPayloadSchema,
  volumeKeySharesPayloadSchema,
]);
export type EnvelopePayload = z.infer<typeof envelopePayloadSchema>;

/** ES-4 `export-key`: what the independent decoder (tools/decode) takes. */
export const keysFileSchema = z.strictObject({
  type: z.literal(KEYS_FILE_TYPE),
  format: z.literal(1),
  volumeId: volumeIdSchema,
  chunkIdKey: base64UrlBytesSchema(KEY_LENGTH),
  dataKeys: dataKeysSchema,
  /** DER SPKI of every device key that may have signed a manifest, base64url. */
  devicePublicKeys: z.array(base64UrlSchema.min(1)).min(1),
});
export type KeysFile = z.infer<typeof keysFileSchema>;
