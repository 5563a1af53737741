/**
 * Manifests (SPEC §2, BK-6, RS-5, RS-7; docs/FORMAT.md "Manifests").
 *
 * signed bytes   = RFC 8785 canonical JSON of {type, index, sealed}
 * signature      = ECDSA P-256 / SHA-256 over the signed bytes, P1363 r ‖ s
 * manifest hash  = SHA-256 of the signed bytes (the signature is left out, as
 *                  ECDSA signatures are malleable and must not change the hash)
 * sealed part    = AES-256-GCM(data key of `sealed.epoch`, canonical secret),
 *                  AAD = "CSTM" ‖ version ‖ SHA-256(canonical index) ‖ u32 epoch
 */

import {
  concatBytes,
  fromBase64Url,
  randomBytes,
  sha256,
  sha256Hex,
  toBase64Url,
  u32be,
  wipe,
} from './bytes';
import { canonicalJson, parseJsonBytes, type JsonValue } from './canonical-json';
import { chunkCount } from './chunking';
import {
  CHUNK_SIZE,
  FORMAT_VERSION,
  MANIFEST_AAD_MAGIC,
  NONCE_LENGTH,
  TAG_LENGTH,
} from './constants';
import { publicKeyFingerprint, signBytes, verifyBytes } from './device-key';
import { describeIssues } from './format-schemas';
import { BadSignatureError, MalformedManifestError, RollbackError, WrongKeyError } from './errors';
import {
  MANIFEST_TYPE,
  manifestIndexSchema,
  manifestSecretSchema,
  signedManifestSchema,
  type ChunkEntry,
  type EscrowSites,
  type ManifestIndex,
  type ManifestSecret,
  type SignedManifest,
  type UnsignedManifest,
} from './manifest-schema';

export interface ManifestDraft {
  readonly volumeId: string;
  readonly generation: number;
  readonly previousManifestHash: string | null;
  readonly chunks: readonly ChunkEntry[];
  readonly deviceKeyFingerprint: string;
  /** Defaults to CHUNK_SIZE. */
  readonly chunkSize?: number;
  /** Defaults to now. */
  readonly createdAt?: string;
  /** MS-4: the sites that keep the keys; absent: the site the manifest goes to. */
  readonly escrow?: EscrowSites;
}

/** The sealed part's AAD: binds it to exactly this index and epoch. */
async function sealedPartAad(
  index: ManifestIndex,
  epoch: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const indexHash = await sha256(canonicalJson(index as JsonValue));
  return concatBytes(MANIFEST_AAD_MAGIC, Uint8Array.of(FORMAT_VERSION), indexHash, u32be(epoch));
}

/**
 * Builds an unsigned manifest: validates the index, checks that it describes
 * an image of `secret.size` bytes, and seals the secret under `dataKey`.
 */
export async function buildManifest(
  draft: ManifestDraft,
  secret: ManifestSecret,
  seal: { readonly dataKey: CryptoKey; readonly epoch: number },
): Promise<UnsignedManifest> {
  const indexResult = manifestIndexSchema.safeParse({
    format: FORMAT_VERSION,
    volumeId: draft.volumeId,
    generation: draft.generation,
    previousManifestHash: draft.previousManifestHash,
    chunkSize: draft.chunkSize ?? CHUNK_SIZE,
    chunks: draft.chunks.map((c) => ({ ...c })),
    createdAt: draft.createdAt ?? new Date().toISOString(),
    deviceKeyFingerprint: draft.deviceKeyFingerprint,
    ...(draft.escrow ? { escrow: draft.escrow } : {}),
  });
  if (!indexResult.success) {
    throw new MalformedManifestError(describeIssues(indexResult.error));
  }
  const secretResult = manifestSecretSchema.safeParse(secret);
  if (!secretResult.success) {
    throw new MalformedManifestError(describeIssues(secretResult.error));
  }
  const index = indexResult.data;
  assertIndexMatchesSize(index, secretResult.data.size);
  const plaintext = canonicalJson(secretResult.data as JsonValue);
  try {
    const nonce = randomBytes(NONCE_LENGTH);
    const ciphertext = new Uint8Array(
      await globalThis.crypto.subtle.encrypt(
        {
          name: 'AES-GCM',
          iv: nonce,
          additionalData: await sealedPartAad(index, seal.epoch),
          tagLength: TAG_LENGTH * 8,
        },
        seal.dataKey,
        plaintext,
      ),
    );
    return {
      type: MANIFEST_TYPE,
      index,
      sealed: { epoch: seal.epoch, nonce: toBase64Url(nonce), ciphertext: toBase64Url(ciphertext) },
    };
  } finally {
    wipe(plaintext);
  }
}

/** The bytes the device key signs and the manifest hash is taken over. */
export function manifestSignedBytes(
  manifest: UnsignedManifest | SignedManifest,
): Uint8Array<ArrayBuffer> {
  return canonicalJson({
    type: manifest.type,
    index: manifest.index,
    sealed: manifest.sealed,
  } as JsonValue);
}

/** Signs with the operator's device key (ID-6). */
export async function signManifest(
  manifest: UnsignedManifest,
  devicePrivateKey: CryptoKey,
): Promise<SignedManifest> {
  const signature = await signBytes(devicePrivateKey, manifestSignedBytes(manifest));
  return { ...manifest, signature: toBase64Url(signature) };
}

/** SHA-256 of the signed bytes, hex: what the next generation names as previous. */
export async function manifestHash(manifest: UnsignedManifest | SignedManifest): Promise<string> {
  return sha256Hex(manifestSignedBytes(manifest));
}

/** The stored form of a manifest: canonical JSON of the whole signed object. */
export function serializeManifest(manifest: SignedManifest): Uint8Array<ArrayBuffer> {
  return canonicalJson(manifest as JsonValue);
}

/**
 * Parses and validates a stored manifest (bytes, JSON text or a parsed
 * value). Does not verify the signature: see verifyManifestSignature.
 */
export function parseManifest(input: Uint8Array | string | unknown): SignedManifest {
  let value: unknown = input;
  try {
    if (input instanceof Uint8Array) value = parseJsonBytes(input);
    else if (typeof input === 'string') value = JSON.parse(input);
  } catch (cause) {
    throw new MalformedManifestError('it is not valid UTF-8 JSON.', { cause });
  }
  const result = signedManifestSchema.safeParse(value);
  if (!result.success) {
    throw new MalformedManifestError(describeIssues(result.error));
  }
  return result.data;
}

/**
 * Checks the signature with the device public key, and that this key is the
 * one the index names. Throws BadSignatureError otherwise.
 */
export async function verifyManifestSignature(
  manifest: SignedManifest,
  devicePublicKey: CryptoKey,
): Promise<void> {
  const fingerprint = await publicKeyFingerprint(devicePublicKey);
  if (fingerprint !== manifest.index.deviceKeyFingerprint) {
    throw new BadSignatureError(
      `manifest of generation ${manifest.index.generation} (it names device key ${manifest.index.deviceKeyFingerprint.slice(0, 16)}…, not this one)`,
    );
  }
  const ok = await verifyBytes(
    devicePublicKey,
    fromBase64Url(manifest.signature),
    manifestSignedBytes(manifest),
  );
  if (!ok) {
    throw new BadSignatureError(`manifest of generation ${manifest.index.generation}`);
  }
}

/**
 * Decrypts and validates the sealed part, and checks that the index
 * describes exactly an image of that size (truncation, RS-5).
 * `dataKeys` maps epochs to data keys.
 */
export async function openManifestSecret(
  manifest: UnsignedManifest | SignedManifest,
  dataKeys: ReadonlyMap<number, CryptoKey>,
): Promise<ManifestSecret> {
  const key = dataKeys.get(manifest.sealed.epoch);
  if (!key) {
    throw new WrongKeyError(
      `manifest's sealed part (it needs the data key of epoch ${manifest.sealed.epoch}, which is not among the keys given)`,
    );
  }
  let plaintext: Uint8Array | undefined;
  try {
    try {
      plaintext = new Uint8Array(
        await globalThis.crypto.subtle.decrypt(
          {
            name: 'AES-GCM',
            iv: fromBase64Url(manifest.sealed.nonce),
            additionalData: await sealedPartAad(manifest.index, manifest.sealed.epoch),
            tagLength: TAG_LENGTH * 8,
          },
          key,
          fromBase64Url(manifest.sealed.ciphertext),
        ),
      );
    } catch {
      throw new WrongKeyError(
        `manifest's sealed part (the key of epoch ${manifest.sealed.epoch} is not its key, or the manifest was altered)`,
      );
    }
    let value: unknown;
    try {
      value = parseJsonBytes(plaintext);
    } catch (cause) {
      throw new MalformedManifestError('its sealed part is not JSON.', { cause });
    }
    const result = manifestSecretSchema.safeParse(value);
    if (!result.success) {
      throw new MalformedManifestError(`sealed part: ${describeIssues(result.error)}`);
    }
    assertIndexMatchesSize(manifest.index, result.data.size);
    return result.data;
  } finally {
    wipe(plaintext);
  }
}

/** Every epoch whose data key is needed to restore this generation. */
export function manifestEpochs(manifest: UnsignedManifest | SignedManifest): number[] {
  const epochs = new Set<number>([manifest.sealed.epoch]);
  for (const chunk of manifest.index.chunks) epochs.add(chunk.epoch);
  return [...epochs].sort((a, b) => a - b);
}

/** Sum of the plaintext lengths in the index. */
export function indexedSize(index: ManifestIndex): number {
  let total = 0;
  for (const chunk of index.chunks) total += chunk.length;
  return total;
}

function assertIndexMatchesSize(index: ManifestIndex, size: number): void {
  const expected = chunkCount(size, index.chunkSize);
  if (index.chunks.length !== expected) {
    throw new MalformedManifestError(
      `the index lists ${index.chunks.length} chunks, an image of ${size} bytes has ${expected}.`,
    );
  }
  const total = indexedSize(index);
  if (total !== size) {
    throw new MalformedManifestError(
      `the chunks of the index add up to ${total} bytes, the image has ${size}.`,
    );
  }
}

/**
 * Checks that `next` directly follows `previous` (SPEC §2 "each naming the
 * previous one"): same volume, generation + 1, and previousManifestHash equal
 * to previous's manifest hash. Throws RollbackError otherwise.
 */
export async function checkSuccession(
  previous: UnsignedManifest | SignedManifest,
  next: UnsignedManifest | SignedManifest,
): Promise<void> {
  if (previous.index.volumeId !== next.index.volumeId) {
    throw new MalformedManifestError(
      `generation ${next.index.generation} belongs to another volume than generation ${previous.index.generation}.`,
    );
  }
  if (next.index.generation !== previous.index.generation + 1) {
    throw new RollbackError(
      `generation ${next.index.generation} cannot follow generation ${previous.index.generation}.`,
    );
  }
  const expected = await manifestHash(previous);
  if (next.index.previousManifestHash !== expected) {
    throw new RollbackError(
      `generation ${next.index.generation} names a previous manifest other than generation ${previous.index.generation}.`,
    );
  }
}

/** The latest generation a restorer already knows of a volume (from a receipt or a past restore). */
export interface KnownGeneration {
  readonly generation: number;
  readonly manifestHash: string;
}

/**
 * RS-7 with rollback protection: when the latest generation is asked for, a
 * manifest older than one already known, or a different manifest with the
 * same number (a fork), is refused with RollbackError.
 */
export async function checkNotRolledBack(
  manifest: UnsignedManifest | SignedManifest,
  known: KnownGeneration,
): Promise<void> {
  if (manifest.index.generation < known.generation) {
    throw new RollbackError(
      `the site offered generation ${manifest.index.generation} as the latest, but generation ${known.generation} is already known.`,
    );
  }
  if (manifest.index.generation === known.generation) {
    const hash = await manifestHash(manifest);
    if (hash !== known.manifestHash) {
      throw new RollbackError(
        `generation ${known.generation} was offered with different content than the one already known.`,
      );
    }
  }
}

/** Parses and verifies in one step; typed errors only. */
export async function parseAndVerifyManifest(
  input: Uint8Array | string | unknown,
  devicePublicKey: CryptoKey,
): Promise<SignedManifest> {
  const manifest = parseManifest(input);
  await verifyManifestSignature(manifest, devicePublicKey);
  return manifest;
}
