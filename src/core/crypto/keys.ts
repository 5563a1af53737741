/**
 * The keys of a volume (SPEC §2): one chunk-ID key (HMAC-SHA-256, per volume)
 * and one AES-256-GCM data key per epoch. Keys are WebCrypto CryptoKeys;
 * raw bytes exist only on the way into or out of an escrow envelope and are
 * wiped right after use. Key material is never logged.
 */

import { wipe } from './bytes';
import { KEY_LENGTH, MAX_EPOCH } from './constants';
import { MalformedKeyError } from './errors';

/** HMAC-SHA-256 with a 256-bit key (RFC 2104, FIPS 198-1). */
export const CHUNK_ID_KEY_ALGORITHM: HmacImportParams = {
  name: 'HMAC',
  hash: 'SHA-256',
  length: KEY_LENGTH * 8,
};

/** AES-256 in Galois/Counter Mode (NIST SP 800-38D). */
export const DATA_KEY_ALGORITHM: AesKeyAlgorithm = { name: 'AES-GCM', length: KEY_LENGTH * 8 };

export interface KeyOptions {
  /**
   * Only keys that are about to be escrowed need to be extractable; every key
   * kept on a device is non-extractable (ID-6, SPEC §2).
   */
  extractable?: boolean;
}

/** The keys of one volume, as CryptoKeys, by epoch. */
export interface VolumeKeys {
  readonly volumeId: string;
  readonly chunkIdKey: CryptoKey;
  readonly dataKeys: ReadonlyMap<number, CryptoKey>;
}

/** A fresh random 256-bit chunk-ID key for a new volume. */
export async function generateChunkIdKey(options: KeyOptions = {}): Promise<CryptoKey> {
  return globalThis.crypto.subtle.generateKey(
    CHUNK_ID_KEY_ALGORITHM,
    options.extractable ?? false,
    ['sign', 'verify'],
  );
}

/** A fresh random AES-256-GCM data key for a new epoch (RC-4). */
export async function generateDataKey(options: KeyOptions = {}): Promise<CryptoKey> {
  return globalThis.crypto.subtle.generateKey(DATA_KEY_ALGORITHM, options.extractable ?? false, [
    'encrypt',
    'decrypt',
  ]);
}

/**
 * Imports a raw 32-byte chunk-ID key and wipes `raw`, whether import succeeds
 * or not: the caller's copy must not outlive the CryptoKey's creation.
 */
export async function importChunkIdKey(
  raw: Uint8Array,
  options: KeyOptions = {},
): Promise<CryptoKey> {
  try {
    assertKeyLength(raw, 'chunk-ID key');
    return await globalThis.crypto.subtle.importKey(
      'raw',
      raw as Uint8Array<ArrayBuffer>,
      CHUNK_ID_KEY_ALGORITHM,
      options.extractable ?? false,
      ['sign', 'verify'],
    );
  } finally {
    wipe(raw);
  }
}

/** Imports a raw 32-byte AES-256 data key and wipes `raw` (see importChunkIdKey). */
export async function importDataKey(raw: Uint8Array, options: KeyOptions = {}): Promise<CryptoKey> {
  try {
    assertKeyLength(raw, 'data key');
    return await globalThis.crypto.subtle.importKey(
      'raw',
      raw as Uint8Array<ArrayBuffer>,
      DATA_KEY_ALGORITHM,
      options.extractable ?? false,
      ['encrypt', 'decrypt'],
    );
  } finally {
    wipe(raw);
  }
}

/**
 * Raw bytes of an extractable key, for sealing into an escrow envelope. The
 * caller owns the result and must wipe() it.
 */
export async function exportRawKey(key: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  if (!key.extractable) {
    throw new MalformedKeyError(
      'this key is non-extractable; only keys made for escrow can be exported.',
    );
  }
  return new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', key));
}

/**
 * A non-extractable copy of an extractable key, to keep on the device once
 * the extractable one has been escrowed (ID-6: device keys never leave).
 */
export async function toNonExtractable(key: CryptoKey): Promise<CryptoKey> {
  const raw = await exportRawKey(key);
  if (key.algorithm.name === 'HMAC') return importChunkIdKey(raw);
  if (key.algorithm.name === 'AES-GCM') return importDataKey(raw);
  wipe(raw);
  throw new MalformedKeyError(`keys of type ${key.algorithm.name} are not volume keys.`);
}

/** Checks that a key is usable as a chunk-ID key (HMAC-SHA-256). */
export function assertChunkIdKey(key: CryptoKey): void {
  const algorithm = key.algorithm as KeyAlgorithm & { hash?: KeyAlgorithm };
  if (algorithm.name !== 'HMAC' || algorithm.hash?.name !== 'SHA-256') {
    throw new MalformedKeyError('the chunk-ID key must be an HMAC-SHA-256 key.');
  }
}

/** Checks that a key is usable as a data key (AES-256-GCM). */
export function assertDataKey(key: CryptoKey): void {
  const algorithm = key.algorithm as AesKeyAlgorithm;
  if (algorithm.name !== 'AES-GCM' || algorithm.length !== KEY_LENGTH * 8) {
    throw new MalformedKeyError('a data key must be an AES-256-GCM key.');
  }
}

/** Epochs are unsigned 32-bit integers (they are written as u32 in blobs and AAD). */
export function isValidEpoch(epoch: unknown): epoch is number {
  return typeof epoch === 'number' && Number.isInteger(epoch) && epoch >= 0 && epoch <= MAX_EPOCH;
}

function assertKeyLength(raw: Uint8Array, what: string): void {
  if (raw.length !== KEY_LENGTH) {
    throw new MalformedKeyError(
      `a ${what} must be ${KEY_LENGTH} bytes, this one is ${raw.length}.`,
    );
  }
}
