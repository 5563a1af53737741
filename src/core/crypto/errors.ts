/**
 * Named errors of the crypto core. Each has a stable `code` (for programs and
 * translations) and an English `message` that says what happened; none ever
 * carries key material or plaintext.
 */

export type CryptoErrorCode =
  | 'tampered_chunk'
  | 'tampered_image'
  | 'bad_signature'
  | 'wrong_key'
  | 'malformed_envelope'
  | 'envelope_context_mismatch'
  | 'malformed_manifest'
  | 'rollback'
  | 'malformed_receipt'
  | 'receipt_mismatch'
  | 'malformed_registration'
  | 'malformed_blob'
  | 'malformed_transfer'
  | 'malformed_key'
  | 'unsupported_format'
  | 'key_shares'
  | 'malformed_bundle';

export class CustodianCryptoError extends Error {
  readonly code: CryptoErrorCode;

  constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** What check a chunk failed (RS-5). */
export type ChunkFailure = 'aead' | 'chunk-id' | 'index-hash' | 'length' | 'missing' | 'order';

const FAILURE_TEXT: Record<ChunkFailure, string> = {
  aead: 'its authenticated encryption does not verify',
  'chunk-id': 'its decrypted content does not match its chunk ID',
  'index-hash': 'its ciphertext does not match the SHA-256 in the signed index',
  length: 'its length does not match the signed index',
  missing: 'it is missing',
  order: 'it is not the chunk the signed index names at this position',
};

/**
 * RS-5: a chunk failed a check. The message names the chunk and contains the
 * word "tampered", which the console and tests look for (SPEC §6).
 */
export class TamperedChunkError extends CustodianCryptoError {
  readonly chunkIndex: number | null;
  readonly chunkId: string;
  readonly failure: ChunkFailure;

  constructor(
    failure: ChunkFailure,
    chunkId: string,
    chunkIndex: number | null = null,
    detail?: string,
  ) {
    const where = chunkIndex === null ? `Chunk ${chunkId}` : `Chunk ${chunkIndex} (${chunkId})`;
    super(
      'tampered_chunk',
      `${where} was tampered with or damaged: ${FAILURE_TEXT[failure]}${detail ? ` (${detail})` : ''}.`,
    );
    this.chunkIndex = chunkIndex;
    this.chunkId = chunkId;
    this.failure = failure;
  }
}

/** The restored image as a whole does not match its sealed SHA-256 or size. */
export class TamperedImageError extends CustodianCryptoError {
  constructor(message: string) {
    super('tampered_image', `The restored image was tampered with or damaged: ${message}`);
  }
}

/** A signature (manifest, receipt, registration file) does not verify. */
export class BadSignatureError extends CustodianCryptoError {
  constructor(what: string) {
    super(
      'bad_signature',
      `The signature of the ${what} does not verify: it was altered or signed by another key.`,
    );
  }
}

/** Decryption failed because the key is not the one the data was encrypted to. */
export class WrongKeyError extends CustodianCryptoError {
  constructor(what: string) {
    super('wrong_key', `The ${what} cannot be opened with this key.`);
  }
}

export class MalformedEnvelopeError extends CustodianCryptoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('malformed_envelope', `Malformed key envelope: ${message}`, options);
  }
}

/** An envelope opened fine but was made for another purpose, volume or epoch set. */
export class EnvelopeContextError extends CustodianCryptoError {
  constructor(message: string) {
    super('envelope_context_mismatch', `The key envelope was made for something else: ${message}`);
  }
}

export class MalformedManifestError extends CustodianCryptoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('malformed_manifest', `Malformed manifest: ${message}`, options);
  }
}

/** A manifest is older than, or forks from, the latest one already known. */
export class RollbackError extends CustodianCryptoError {
  constructor(message: string) {
    super('rollback', `Rollback detected: ${message}`);
  }
}

export class MalformedReceiptError extends CustodianCryptoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('malformed_receipt', `Malformed receipt: ${message}`, options);
  }
}

/** BK-10: a receipt verified but says something other than what was registered. */
export class ReceiptMismatchError extends CustodianCryptoError {
  readonly field: string;

  constructor(field: string, message: string) {
    super('receipt_mismatch', `The receipt does not match the backup: ${message}`);
    this.field = field;
  }
}

export class MalformedRegistrationError extends CustodianCryptoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('malformed_registration', `Malformed registration file: ${message}`, options);
  }
}

/** A chunk blob too short or with a wrong magic or version to be read at all. */
export class MalformedBlobError extends CustodianCryptoError {
  constructor(message: string) {
    super('malformed_blob', `Malformed chunk blob: ${message}`);
  }
}

export class MalformedTransferError extends CustodianCryptoError {
  constructor(message: string) {
    super('malformed_transfer', `Malformed transfer: ${message}`);
  }
}

/** Raw key bytes or an imported key of the wrong length, type or algorithm. */
export class MalformedKeyError extends CustodianCryptoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('malformed_key', `Unusable key: ${message}`, options);
  }
}

/** Data written by a newer (or unknown) version of the format. */
export class UnsupportedFormatError extends CustodianCryptoError {
  constructor(what: string, version: unknown) {
    super(
      'unsupported_format',
      `The ${what} uses format version ${String(version)}, which this version of Custodian cannot read.`,
    );
  }
}

/** Why the shares of a volume's keys did not give the keys (MS-4, MS-5). */
export type KeySharesFailure = 'too-few' | 'duplicate' | 'wrong-site' | 'do-not-combine';

/**
 * Key shares from the sites do not rebuild the keys. `sites` names the sites
 * whose share is at fault where that can be told, else every site whose
 * share took part.
 */
export class KeySharesError extends CustodianCryptoError {
  constructor(
    readonly failure: KeySharesFailure,
    message: string,
    readonly sites: readonly string[] = [],
  ) {
    super('key_shares', message);
  }
}

/** How a bundle file is wrong (FORMAT.md §16). */
export type BundleFailure = 'not-a-bundle' | 'cut-off' | 'extra-bytes' | 'manifest' | 'layout';

/**
 * A bundle file is not one, was cut off, has bytes after its end, or
 * carries a damaged manifest; the message says which, and where.
 */
export class MalformedBundleError extends CustodianCryptoError {
  readonly failure: BundleFailure;
  /** The figures of the message (lengths, the chunk not whole), for a translated sentence. */
  readonly params: Readonly<Record<string, string | number>>;

  constructor(
    detail: string,
    failure: BundleFailure = 'layout',
    options: { cause?: unknown; params?: Record<string, string | number> } = {},
  ) {
    super('malformed_bundle', `The bundle file is not usable: ${detail}`, { cause: options.cause });
    this.failure = failure;
    this.params = options.params ?? {};
  }
}
