/**
 * Chunk IDs and chunk blobs (BK-6, RS-5; docs/FORMAT.md "Chunks").
 *
 * - chunk ID = HMAC-SHA-256(chunk-ID key, plaintext) (RFC 2104), so equal
 *   chunks of a volume are recognised without revealing their content;
 * - blob = "CSTC" ‖ version ‖ epoch ‖ nonce ‖ AES-256-GCM(plaintext), with a
 *   fresh random 96-bit nonce per encryption (NIST SP 800-38D §8.2.2) and
 *   AAD = "CSTA" ‖ version ‖ volume ID ‖ chunk ID ‖ epoch. The AAD has no
 *   position, so a deduplicated chunk stays valid wherever the index puts it;
 *   the signed index fixes the order.
 */

import {
  bytesEqual,
  concatBytes,
  randomBytes,
  sha256Hex,
  toHex,
  u16be,
  u32be,
  utf8,
  wipe,
} from './bytes';
import {
  BLOB_EPOCH_OFFSET,
  BLOB_HEADER_LENGTH,
  BLOB_NONCE_OFFSET,
  BLOB_OVERHEAD,
  BLOB_VERSION_OFFSET,
  CHUNK_AAD_MAGIC,
  CHUNK_BLOB_MAGIC,
  CHUNK_ID_LENGTH,
  FORMAT_VERSION,
  MAX_VOLUME_ID_BYTES,
  NONCE_LENGTH,
  TAG_LENGTH,
} from './constants';
import { MalformedBlobError, MalformedKeyError, TamperedChunkError } from './errors';
import { isValidEpoch } from './keys';

/** What a chunk's ciphertext is bound to (its AAD). */
export interface ChunkContext {
  readonly volumeId: string;
  /** 32-byte chunk ID. */
  readonly chunkId: Uint8Array;
  readonly epoch: number;
}

/** Everything the pipeline needs after sealing one chunk: the blob and its index entry. */
export interface SealedChunk {
  /** Chunk ID, lower-case hex (64 digits). */
  readonly chunkId: string;
  readonly blob: Uint8Array<ArrayBuffer>;
  /** SHA-256 of the blob, lower-case hex: what the signed index records. */
  readonly ciphertextSha256: string;
  /** Plaintext length. */
  readonly length: number;
  readonly epoch: number;
}

/** Header fields of a chunk blob, readable without any key. */
export interface ChunkBlobHeader {
  readonly version: number;
  readonly epoch: number;
  readonly nonce: Uint8Array;
}

/** Chunk ID = HMAC-SHA-256(chunkIdKey, plaintext), 32 bytes (RFC 2104; SPEC §2). */
export async function computeChunkId(
  chunkIdKey: CryptoKey,
  plaintext: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(
    await globalThis.crypto.subtle.sign('HMAC', chunkIdKey, plaintext as Uint8Array<ArrayBuffer>),
  );
}

/**
 * The AAD of a chunk (BK-6): "CSTA" ‖ u8 version ‖ u16 BE byte length of the
 * UTF-8 volume ID ‖ volume ID ‖ 32-byte chunk ID ‖ u32 BE epoch.
 */
export function chunkAad(context: ChunkContext): Uint8Array<ArrayBuffer> {
  const volumeId = utf8(context.volumeId);
  if (volumeId.length === 0 || volumeId.length > MAX_VOLUME_ID_BYTES) {
    throw new RangeError(`A volume ID must be 1 to ${MAX_VOLUME_ID_BYTES} bytes of UTF-8.`);
  }
  if (context.chunkId.length !== CHUNK_ID_LENGTH) {
    throw new RangeError(`A chunk ID must be ${CHUNK_ID_LENGTH} bytes.`);
  }
  if (!isValidEpoch(context.epoch)) {
    throw new RangeError('An epoch must be an integer from 0 to 2^32 - 1.');
  }
  return concatBytes(
    CHUNK_AAD_MAGIC,
    Uint8Array.of(FORMAT_VERSION),
    u16be(volumeId.length),
    volumeId,
    context.chunkId,
    u32be(context.epoch),
  );
}

/** Encrypts one chunk into a blob under `dataKey`, with a fresh random nonce. */
export async function encryptChunk(
  plaintext: Uint8Array,
  dataKey: CryptoKey,
  context: ChunkContext,
): Promise<Uint8Array<ArrayBuffer>> {
  const aad = chunkAad(context);
  // BK-6: never derived from a counter or position: a deduplicated chunk or a
  // resumed backup must not reuse a nonce under the same key.
  const nonce = randomBytes(NONCE_LENGTH);
  const sealed = new Uint8Array(
    await globalThis.crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: TAG_LENGTH * 8 },
      dataKey,
      plaintext as Uint8Array<ArrayBuffer>,
    ),
  );
  const blob = new Uint8Array(BLOB_HEADER_LENGTH + sealed.length);
  blob.set(CHUNK_BLOB_MAGIC, 0);
  blob[BLOB_VERSION_OFFSET] = FORMAT_VERSION;
  new DataView(blob.buffer).setUint32(BLOB_EPOCH_OFFSET, context.epoch, false);
  blob.set(nonce, BLOB_NONCE_OFFSET);
  blob.set(sealed, BLOB_HEADER_LENGTH);
  return blob;
}

/** Reads a blob's header without a key (the site and scrubs use it). */
export function parseChunkBlobHeader(blob: Uint8Array): ChunkBlobHeader {
  if (blob.length < BLOB_OVERHEAD) {
    throw new MalformedBlobError(
      `it is ${blob.length} bytes, shorter than the ${BLOB_OVERHEAD} bytes of header and tag.`,
    );
  }
  if (!bytesEqual(blob.subarray(0, 4), CHUNK_BLOB_MAGIC)) {
    throw new MalformedBlobError('it does not start with "CSTC".');
  }
  return {
    version: blob[BLOB_VERSION_OFFSET]!,
    epoch: new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(
      BLOB_EPOCH_OFFSET,
      false,
    ),
    nonce: blob.subarray(BLOB_NONCE_OFFSET, BLOB_HEADER_LENGTH),
  };
}

export interface DecryptChunkParams extends ChunkContext {
  readonly dataKey: CryptoKey;
  readonly chunkIdKey: CryptoKey;
  /** Position in the image, only to name the chunk in errors. */
  readonly chunkIndex?: number | null;
}

/**
 * RS-5: decrypts a blob and checks it is the chunk it claims to be: AEAD
 * under the expected volume, chunk ID and epoch, then HMAC(plaintext) equal
 * to the chunk ID. Throws TamperedChunkError naming the chunk otherwise.
 */
export async function decryptChunk(
  blob: Uint8Array,
  params: DecryptChunkParams,
): Promise<Uint8Array<ArrayBuffer>> {
  const idHex = toHex(params.chunkId);
  const index = params.chunkIndex ?? null;
  if (blob.length < BLOB_OVERHEAD) {
    throw new TamperedChunkError(
      'length',
      idHex,
      index,
      `the blob is ${blob.length} bytes, shorter than its ${BLOB_OVERHEAD}-byte header and tag`,
    );
  }
  const header = parseChunkBlobHeader(blob);
  if (header.version !== FORMAT_VERSION) {
    throw new TamperedChunkError(
      'aead',
      idHex,
      index,
      `its header names format version ${header.version}`,
    );
  }
  if (header.epoch !== params.epoch) {
    throw new TamperedChunkError(
      'aead',
      idHex,
      index,
      `its header names epoch ${header.epoch}, expected ${params.epoch}`,
    );
  }
  let plaintext: Uint8Array<ArrayBuffer>;
  try {
    plaintext = new Uint8Array(
      await globalThis.crypto.subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: header.nonce as Uint8Array<ArrayBuffer>,
          additionalData: chunkAad(params),
          tagLength: TAG_LENGTH * 8,
        },
        params.dataKey,
        blob.subarray(BLOB_HEADER_LENGTH) as Uint8Array<ArrayBuffer>,
      ),
    );
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'InvalidAccessError') {
      throw new MalformedKeyError('the data key cannot decrypt AES-GCM.', { cause });
    }
    throw new TamperedChunkError('aead', idHex, index);
  }
  const actualId = await computeChunkId(params.chunkIdKey, plaintext);
  if (!bytesEqual(actualId, params.chunkId)) {
    wipe(plaintext);
    throw new TamperedChunkError('chunk-id', idHex, index);
  }
  return plaintext;
}

/**
 * BK-6: decrypts a freshly made blob once more and compares it with the
 * plaintext, to catch a bit flip in memory before the blob is stored or sent.
 */
export async function verifyAfterEncrypt(
  blob: Uint8Array,
  plaintext: Uint8Array,
  dataKey: CryptoKey,
  context: ChunkContext,
): Promise<void> {
  const header = parseChunkBlobHeader(blob);
  let decrypted: Uint8Array | undefined;
  try {
    decrypted = new Uint8Array(
      await globalThis.crypto.subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: header.nonce as Uint8Array<ArrayBuffer>,
          additionalData: chunkAad(context),
          tagLength: TAG_LENGTH * 8,
        },
        dataKey,
        blob.subarray(BLOB_HEADER_LENGTH) as Uint8Array<ArrayBuffer>,
      ),
    );
  } catch {
    throw new TamperedChunkError('aead', toHex(context.chunkId), null, 'right after encryption');
  }
  try {
    if (header.epoch !== context.epoch || !sameBytes(decrypted, plaintext)) {
      throw new TamperedChunkError(
        'chunk-id',
        toHex(context.chunkId),
        null,
        'right after encryption',
      );
    }
  } finally {
    wipe(decrypted);
  }
}

/**
 * Whether two byte arrays are equal, compared a 32-bit word at a time where
 * both are aligned: a chunk's plaintext against its decryption is 4 MiB, and
 * a byte-wise loop over it costs as much as the AES-GCM decryption itself.
 * Both are this console's own data, so an early exit tells an observer nothing.
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let i = 0;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const words = a.length >>> 2;
    const wa = new Uint32Array(a.buffer, a.byteOffset, words);
    const wb = new Uint32Array(b.buffer, b.byteOffset, words);
    for (let w = 0; w < words; w++) if (wa[w] !== wb[w]) return false;
    i = words * 4;
  }
  for (; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** SHA-256 of a whole blob, lower-case hex: the `ciphertextSha256` of the index. */
export async function ciphertextHash(blob: Uint8Array): Promise<string> {
  return sha256Hex(blob);
}

export interface SealChunkParams {
  readonly volumeId: string;
  readonly epoch: number;
  readonly chunkIdKey: CryptoKey;
  readonly dataKey: CryptoKey;
}

/**
 * BK-6 in one call, for a worker: chunk ID, encryption, verification after
 * encryption and ciphertext hash.
 */
export async function sealChunk(
  plaintext: Uint8Array,
  params: SealChunkParams,
): Promise<SealedChunk> {
  const chunkId = await computeChunkId(params.chunkIdKey, plaintext);
  const context: ChunkContext = { volumeId: params.volumeId, chunkId, epoch: params.epoch };
  const blob = await encryptChunk(plaintext, params.dataKey, context);
  await verifyAfterEncrypt(blob, plaintext, params.dataKey, context);
  return {
    chunkId: toHex(chunkId),
    blob,
    ciphertextSha256: await ciphertextHash(blob),
    length: plaintext.length,
    epoch: params.epoch,
  };
}
