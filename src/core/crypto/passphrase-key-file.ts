/**
 * A volume's backup key in a file protected by a passphrase (docs/FORMAT.md
 * §9.2): the chunk-ID key, sealed with AES-256-GCM under a key that
 * Argon2id (RFC 9106, through hash-wasm) derives from the passphrase. It lets
 * the owner's other browser continue a volume without asking the sites. No
 * data key is in it: the next generation makes its own.
 */

import { argon2id } from 'hash-wasm';
import { z } from 'zod';
import { canonicalJson } from './canonical-json';
import { fromBase64Url, randomBytes, toBase64Url, utf8, wipe } from './bytes';
import { KEY_LENGTH } from './constants';
import { CustodianCryptoError } from './errors';
import { base64UrlBytesSchema, volumeIdSchema } from './format-schemas';
import { exportRawKey, importChunkIdKey } from './keys';

export const PASSPHRASE_KEY_FILE_TYPE = 'custodian-volume-key-file';

/** RFC 9106 §4, second recommended option, with one lane: 64 MiB, 3 passes. */
export const ARGON2ID_DEFAULTS = { memoryKiB: 65_536, iterations: 3, parallelism: 1 } as const;
/** The shortest passphrase the console accepts. */
export const MIN_PASSPHRASE_LENGTH = 12;
const SALT_LENGTH = 16;
const NONCE_LENGTH = 12;

/** Settings a file may carry: slow enough to matter, bounded so a file cannot exhaust the browser. */
const kdfSchema = z.strictObject({
  name: z.literal('argon2id'),
  memoryKiB: z.number().int().min(8_192).max(1_048_576),
  iterations: z.number().int().min(1).max(16),
  parallelism: z.number().int().min(1).max(4),
  salt: base64UrlBytesSchema(SALT_LENGTH),
});
type Kdf = z.infer<typeof kdfSchema>;

const keyFileSchema = z.strictObject({
  type: z.literal(PASSPHRASE_KEY_FILE_TYPE),
  format: z.literal(1),
  volumeId: volumeIdSchema,
  kdf: kdfSchema,
  nonce: base64UrlBytesSchema(NONCE_LENGTH),
  ciphertext: base64UrlBytesSchema(KEY_LENGTH + 16),
});
export type PassphraseKeyFile = z.infer<typeof keyFileSchema>;

/** Why a key file could not be opened: not such a file, or the passphrase (or the file) is wrong. */
export class KeyFileError extends CustodianCryptoError {
  constructor(
    readonly reason: 'not-a-key-file' | 'wrong-passphrase',
    message: string,
  ) {
    super('malformed_key', message);
  }
}

async function derive(passphrase: string, kdf: Kdf): Promise<CryptoKey> {
  const raw = await argon2id({
    password: utf8(passphrase.normalize('NFC')),
    salt: fromBase64Url(kdf.salt),
    memorySize: kdf.memoryKiB,
    iterations: kdf.iterations,
    parallelism: kdf.parallelism,
    hashLength: KEY_LENGTH,
    outputType: 'binary',
  });
  try {
    return await globalThis.crypto.subtle.importKey(
      'raw',
      raw as Uint8Array<ArrayBuffer>,
      'AES-GCM',
      false,
      ['encrypt', 'decrypt'],
    );
  } finally {
    wipe(raw);
  }
}

/** The header bound to the ciphertext: everything but the nonce and ciphertext. */
function associatedData(file: Pick<PassphraseKeyFile, 'type' | 'format' | 'volumeId' | 'kdf'>) {
  const { type, format, volumeId, kdf } = file;
  return canonicalJson({ type, format, volumeId, kdf: { ...kdf } });
}

/** Seals an extractable chunk-ID key into a key file (JSON text). */
export async function sealPassphraseKeyFile(
  volumeId: string,
  chunkIdKey: CryptoKey,
  passphrase: string,
  settings: Omit<Kdf, 'name' | 'salt'> = ARGON2ID_DEFAULTS,
): Promise<string> {
  const kdf: Kdf = { name: 'argon2id', ...settings, salt: toBase64Url(randomBytes(SALT_LENGTH)) };
  const header = { type: PASSPHRASE_KEY_FILE_TYPE, format: 1, volumeId, kdf } as const;
  const nonce = randomBytes(NONCE_LENGTH);
  const raw = await exportRawKey(chunkIdKey);
  try {
    const ciphertext = await globalThis.crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: nonce, additionalData: associatedData(header) },
      await derive(passphrase, kdf),
      raw as Uint8Array<ArrayBuffer>,
    );
    const file: PassphraseKeyFile = {
      ...header,
      nonce: toBase64Url(nonce),
      ciphertext: toBase64Url(new Uint8Array(ciphertext)),
    };
    return `${JSON.stringify(file, null, 2)}\n`;
  } finally {
    wipe(raw);
  }
}

/** Opens a key file: the volume it is for and its chunk-ID key (extractable, to be kept wrapped). */
export async function openPassphraseKeyFile(
  text: string,
  passphrase: string,
): Promise<{ volumeId: string; chunkIdKey: CryptoKey }> {
  let file: PassphraseKeyFile;
  try {
    file = keyFileSchema.parse(JSON.parse(text));
  } catch {
    throw new KeyFileError(
      'not-a-key-file',
      'This is not a Custodian key file, or it is cut off or damaged.',
    );
  }
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(
      await globalThis.crypto.subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: fromBase64Url(file.nonce),
          additionalData: associatedData(file),
        },
        await derive(passphrase, file.kdf),
        fromBase64Url(file.ciphertext),
      ),
    );
  } catch {
    throw new KeyFileError(
      'wrong-passphrase',
      'The passphrase does not open this key file (or the file was changed).',
    );
  }
  return {
    volumeId: file.volumeId,
    chunkIdKey: await importChunkIdKey(raw, { extractable: true }),
  };
}
