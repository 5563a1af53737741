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
