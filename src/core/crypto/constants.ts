/**
 * Fixed numbers of the Custodian backup format, version 1 (docs/FORMAT.md).
 * A second implementation needs exactly these; changing any of them is a new
 * FORMAT_VERSION.
 */

import { MalformedTransferError } from './errors';

/** Version byte written into every blob, AAD and JSON document of this format. */
export const FORMAT_VERSION = 1;

/** Plaintext chunk size: 4 MiB; the last chunk of an image is shorter (SPEC §2). */
export const CHUNK_SIZE = 4 * 1024 * 1024;

/** AES-GCM nonce: 96 bits, random per encryption (NIST SP 800-38D §8.2.2). */
export const NONCE_LENGTH = 12;

/** AES-GCM tag: the full 128 bits (NIST SP 800-38D §5.2.1.2). */
export const TAG_LENGTH = 16;

/** AES-256 and HMAC-SHA-256 key length in bytes. */
export const KEY_LENGTH = 32;

/** Chunk ID = HMAC-SHA-256 output, 32 bytes. */
export const CHUNK_ID_LENGTH = 32;

/** Largest volume ID accepted, in UTF-8 bytes (the AAD prefixes it with a u16). */
export const MAX_VOLUME_ID_BYTES = 1024;

/** Largest epoch number: epochs are written as u32 big-endian. */
export const MAX_EPOCH = 0xffff_ffff;

/** ASCII "CSTC": first four bytes of every chunk blob. */
export const CHUNK_BLOB_MAGIC = new Uint8Array([0x43, 0x53, 0x54, 0x43]);

/** ASCII "CSTA": first four bytes of a chunk's additional authenticated data. */
export const CHUNK_AAD_MAGIC = new Uint8Array([0x43, 0x53, 0x54, 0x41]);

/** ASCII "CSTM": first four bytes of a manifest's sealed part AAD. */
export const MANIFEST_AAD_MAGIC = new Uint8Array([0x43, 0x53, 0x54, 0x4d]);

/**
 * Chunk blob layout (big-endian):
 *
 *     offset  size  field
 *     0       4     magic "CSTC"
 *     4       1     format version
 *     5       4     epoch (u32)
 *     9       12    nonce
 *     21      n+16  AES-256-GCM ciphertext of the n-byte plaintext, then the tag
 */
export const BLOB_MAGIC_OFFSET = 0;
export const BLOB_VERSION_OFFSET = 4;
export const BLOB_EPOCH_OFFSET = 5;
export const BLOB_NONCE_OFFSET = 9;
export const BLOB_HEADER_LENGTH = BLOB_NONCE_OFFSET + NONCE_LENGTH;

/** Bytes a blob adds to its plaintext: header plus GCM tag (37). */
export const BLOB_OVERHEAD = BLOB_HEADER_LENGTH + TAG_LENGTH;

/** Length of the blob that seals `plaintextLength` bytes. */
export function blobLength(plaintextLength: number): number {
  return plaintextLength + BLOB_OVERHEAD;
}

/**
 * RC-4 (seed 002 claim 2): every transfer body — a chunk, an epoch-key
 * announcement, a commit — is padded to the same size, CHUNK_SIZE plus this
 * fixed overhead, so that an observer of sizes cannot tell a key announcement
 * from a chunk. 16 KiB leaves room for a full chunk blob (37 bytes over the
 * chunk size) and the transfer's own header; it costs 0.4 % of bandwidth.
 */
export const TRANSFER_OVERHEAD = 16 * 1024;

/** Length prefix of a padded transfer: u32 big-endian body length. */
export const TRANSFER_LENGTH_PREFIX = 4;

/** The exact size of every padded transfer body. */
export function paddedTransferSize(chunkSize: number = CHUNK_SIZE): number {
  return chunkSize + TRANSFER_OVERHEAD;
}

/** Largest body that fits in one padded transfer. */
export function maxTransferBodySize(chunkSize: number = CHUNK_SIZE): number {
  return paddedTransferSize(chunkSize) - TRANSFER_LENGTH_PREFIX;
}

/**
 * Pads a transfer body: u32 BE length ‖ body ‖ zero bytes up to
 * paddedTransferSize(). Throws MalformedTransferError if the body does not fit.
 */
export function padTransfer(
  body: Uint8Array,
  chunkSize: number = CHUNK_SIZE,
): Uint8Array<ArrayBuffer> {
  const max = maxTransferBodySize(chunkSize);
  if (body.length > max) {
    throw new MalformedTransferError(
      `A transfer body of ${body.length} bytes does not fit in a padded transfer (at most ${max} bytes).`,
    );
  }
  const padded = new Uint8Array(paddedTransferSize(chunkSize));
  new DataView(padded.buffer).setUint32(0, body.length, false);
  padded.set(body, TRANSFER_LENGTH_PREFIX);
  return padded;
}

/**
 * Removes the padding added by padTransfer. The size must be exact and the
 * padding all zero, so a padded transfer has one valid reading only.
 * Returns a view into `padded`.
 */
export function unpadTransfer(padded: Uint8Array, chunkSize: number = CHUNK_SIZE): Uint8Array {
  const expected = paddedTransferSize(chunkSize);
  if (padded.length !== expected) {
    throw new MalformedTransferError(
      `A padded transfer must be exactly ${expected} bytes, this one is ${padded.length}.`,
    );
  }
  const length = new DataView(padded.buffer, padded.byteOffset, padded.byteLength).getUint32(
    0,
    false,
  );
  if (length > expected - TRANSFER_LENGTH_PREFIX) {
    throw new MalformedTransferError(
      `The padded transfer declares a body of ${length} bytes, more than it can hold.`,
    );
  }
  const end = TRANSFER_LENGTH_PREFIX + length;
  if (!allZero(padded, end)) {
    throw new MalformedTransferError('The padding of the transfer is not all zero bytes.');
  }
  return padded.subarray(TRANSFER_LENGTH_PREFIX, end);
}

/**
 * Whether every byte of `bytes` from `from` on is zero. The site checks up
 * to a chunk's size of padding on every transfer: it reads four bytes at a
 * time where they are aligned, about five times as fast as byte by byte.
 */
function allZero(bytes: Uint8Array, from: number): boolean {
  let i = from;
  for (; i < bytes.length && (bytes.byteOffset + i) % 4 !== 0; i++) {
    if (bytes[i] !== 0) return false;
  }
  const words = Math.floor((bytes.length - i) / 4);
  const view = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
  let any = 0;
  for (let w = 0; w < words; w++) any |= view[w]!;
  if (any !== 0) return false;
  for (i += words * 4; i < bytes.length; i++) {
    if (bytes[i] !== 0) return false;
  }
  return true;
}
