/**
 * RS-5/RS-6: every chunk of a restore is checked against the signed index
 * before a byte of it is written, in image order, and the image as a whole
 * against the sealed SHA-256 and size at the end. Any failure stops the
 * restore with an error naming the chunk.
 *
 * Checks per chunk, in this order (docs/FORMAT.md "Restoring"):
 *   order      the chunk fetched is the one the index names at this position
 *   missing    a blob was found for it
 *   length     blob length = 21 + plaintext length + 16
 *   index-hash SHA-256(blob) = ciphertextSha256 of the index
 *   aead       header epoch = index epoch, AES-GCM opens under the AAD
 *   chunk-id   HMAC-SHA-256(chunk-ID key, plaintext) = chunk ID
 */

import { fromHex, sha256Hex, wipe } from './bytes';
import { decryptChunk } from './chunk';
import { blobLength } from './constants';
import { TamperedChunkError, TamperedImageError, WrongKeyError } from './errors';
import { ImageHash } from './image-hash';
import type { VolumeKeys } from './keys';
import type { ChunkEntry, ManifestIndex, ManifestSecret } from './manifest-schema';

/**
 * Checks a blob against the index entry at `position`, without any key
 * (the site's scrub and a restore share it, RS-9). `chunkId` is the ID the
 * blob was fetched or stored under; `blob` undefined means it was not found.
 */
export async function checkChunkAgainstIndex(
  index: ManifestIndex,
  position: number,
  chunkId: string,
  blob: Uint8Array | undefined | null,
): Promise<ChunkEntry> {
  const entry = index.chunks[position];
  if (entry === undefined) {
    throw new TamperedChunkError(
      'order',
      chunkId,
      position,
      `the index has only ${index.chunks.length} chunks`,
    );
  }
  await checkChunkAgainstEntry({ position, entry, chunkId }, blob);
  return entry;
}

/** A chunk of a restore: its position, its entry of the signed index, the ID it was fetched under. */
export interface IndexedChunk {
  readonly position: number;
  readonly entry: ChunkEntry;
  readonly chunkId: string;
}

async function checkChunkAgainstEntry(
  { position, entry, chunkId }: IndexedChunk,
  blob: Uint8Array | undefined | null,
): Promise<void> {
  if (entry.chunkId !== chunkId) {
    throw new TamperedChunkError('order', chunkId, position, `the index names ${entry.chunkId}`);
  }
  if (blob === undefined || blob === null) {
    throw new TamperedChunkError('missing', chunkId, position);
  }
  const expectedLength = blobLength(entry.length);
  if (blob.length !== expectedLength) {
    throw new TamperedChunkError(
      'length',
      chunkId,
      position,
      `the blob is ${blob.length} bytes, the index implies ${expectedLength}`,
    );
  }
  if ((await sha256Hex(blob)) !== entry.ciphertextSha256) {
    throw new TamperedChunkError('index-hash', chunkId, position);
  }
}

/**
 * The checks of one chunk that need no other chunk — index (ID, length,
 * ciphertext SHA-256), AEAD under the entry's epoch key, chunk ID of the
 * plaintext, plaintext length — so that chunks can be opened in parallel
 * (a restore's decryption workers). The checks that depend on order, and
 * the image hash, stay with RestoreVerifier.acceptChunk, which must see
 * every plaintext before it is used. `entry` must come from a signed index
 * of `keys.volumeId`.
 */
export async function openIndexedChunk(
  keys: VolumeKeys,
  chunk: IndexedChunk,
  blob: Uint8Array | undefined | null,
): Promise<Uint8Array<ArrayBuffer>> {
  const { position, entry, chunkId } = chunk;
  await checkChunkAgainstEntry(chunk, blob);
  const dataKey = keys.dataKeys.get(entry.epoch);
  if (!dataKey) {
    throw new WrongKeyError(
      `chunks of epoch ${entry.epoch} (its data key is not among the keys released)`,
    );
  }
  const plaintext = await decryptChunk(blob!, {
    volumeId: keys.volumeId,
    chunkId: fromHex(entry.chunkId),
    epoch: entry.epoch,
    dataKey,
    chunkIdKey: keys.chunkIdKey,
    chunkIndex: position,
  });
  if (plaintext.length !== entry.length) {
    wipe(plaintext);
    throw new TamperedChunkError('length', chunkId, position);
  }
  return plaintext;
}

/** Where a restore stands, to store for a resume. */
export interface RestoreProgress {
  readonly nextPosition: number;
  readonly bytesWritten: number;
  /** ImageHash.saveState() after the last accepted chunk. */
  readonly imageHashState: Uint8Array;
}

/**
 * Opens the chunks of one generation strictly in order and hands back
 * plaintext that may be written; finish() then checks the whole image.
 */
export class RestoreVerifier {
  readonly #index: ManifestIndex;
  readonly #secret: ManifestSecret;
  readonly #keys: VolumeKeys;
  readonly #hash: ImageHash;
  #next: number;
  #written: number;

  private constructor(
    index: ManifestIndex,
    secret: ManifestSecret,
    keys: VolumeKeys,
    hash: ImageHash,
    next: number,
    written: number,
  ) {
    this.#index = index;
    this.#secret = secret;
    this.#keys = keys;
    this.#hash = hash;
    this.#next = next;
    this.#written = written;
  }

  /**
   * `index` must come from a manifest whose signature was verified, and
   * `secret` from openManifestSecret of that manifest.
   */
  static async create(
    index: ManifestIndex,
    secret: ManifestSecret,
    keys: VolumeKeys,
  ): Promise<RestoreVerifier> {
    assertKeysCover(index, keys);
    return new RestoreVerifier(index, secret, keys, await ImageHash.create(), 0, 0);
  }

  /** Continues an interrupted restore (RS-6) from saved progress. */
  static async resume(
    index: ManifestIndex,
    secret: ManifestSecret,
    keys: VolumeKeys,
    progress: RestoreProgress,
  ): Promise<RestoreVerifier> {
    assertKeysCover(index, keys);
    const hash = await ImageHash.restore(progress.imageHashState);
    if (
      progress.nextPosition < 0 ||
      progress.nextPosition > index.chunks.length ||
      hash.bytesHashed !== progress.bytesWritten
    ) {
      throw new RangeError('The saved restore progress does not belong to this generation.');
    }
    return new RestoreVerifier(
      index,
      secret,
      keys,
      hash,
      progress.nextPosition,
      progress.bytesWritten,
    );
  }

  /** Position of the next chunk to open. */
  get nextPosition(): number {
    return this.#next;
  }

  get chunkCount(): number {
    return this.#index.chunks.length;
  }

  /** The index entry of the next chunk, or undefined when all are done. */
  get nextEntry(): ChunkEntry | undefined {
    return this.#index.chunks[this.#next];
  }

  /**
   * Checks and decrypts the chunk at `position` (must be nextPosition),
   * fetched under `chunkId`. Returns the plaintext to write; the caller
   * wipes or releases it after writing.
   */
  async openChunk(
    position: number,
    chunkId: string,
    blob: Uint8Array | undefined | null,
  ): Promise<Uint8Array<ArrayBuffer>> {
    this.#checkOrder(position, chunkId);
    const entry = this.#index.chunks[position]!;
    const plaintext = await openIndexedChunk(this.#keys, { position, entry, chunkId }, blob);
    try {
      this.acceptChunk(position, chunkId, plaintext);
    } catch (error) {
      wipe(plaintext);
      throw error;
    }
    return plaintext;
  }

  /**
   * Takes the plaintext of the chunk at `position` (must be nextPosition),
   * opened by openIndexedChunk — possibly in another worker and out of
   * order — into the image: checks its place and length, and hashes it.
   * Only then may it be written.
   */
  acceptChunk(position: number, chunkId: string, plaintext: Uint8Array): void {
    this.#checkOrder(position, chunkId);
    const entry = this.#index.chunks[position]!;
    if (entry.chunkId !== chunkId) {
      throw new TamperedChunkError('order', chunkId, position, `the index names ${entry.chunkId}`);
    }
    if (plaintext.length !== entry.length) {
      throw new TamperedChunkError(
        'length',
        chunkId,
        position,
        `the plaintext is ${plaintext.length} bytes, the index records ${entry.length}`,
      );
    }
    this.#hash.update(plaintext);
    this.#next += 1;
    this.#written += plaintext.length;
  }

  #checkOrder(position: number, chunkId: string): void {
    if (position !== this.#next) {
      throw new TamperedChunkError(
        'order',
        chunkId,
        position,
        `chunk ${this.#next} was expected next`,
      );
    }
    if (position >= this.#index.chunks.length) {
      throw new TamperedChunkError(
        'order',
        chunkId,
        position,
        `the index has only ${this.#index.chunks.length} chunks`,
      );
    }
  }

  /** Progress after the last accepted chunk, for a resume. */
  saveProgress(): RestoreProgress {
    return {
      nextPosition: this.#next,
      bytesWritten: this.#written,
      imageHashState: this.#hash.saveState(),
    };
  }

  /**
   * Checks that every chunk was opened and that the image matches the sealed
   * size and SHA-256. Returns the image SHA-256 (hex) to show on screen (RS-6).
   */
  finish(): string {
    if (this.#next < this.#index.chunks.length) {
      const entry = this.#index.chunks[this.#next]!;
      throw new TamperedChunkError('missing', entry.chunkId, this.#next, 'the restore ended early');
    }
    if (this.#written !== this.#secret.size) {
      throw new TamperedImageError(
        `it is ${this.#written} bytes, the backup recorded ${this.#secret.size}.`,
      );
    }
    const digest = this.#hash.digestHex();
    if (digest !== this.#secret.imageSha256) {
      throw new TamperedImageError('its SHA-256 differs from the one recorded at backup.');
    }
    return digest;
  }
}

function assertKeysCover(index: ManifestIndex, keys: VolumeKeys): void {
  if (keys.volumeId !== index.volumeId) {
    throw new WrongKeyError(
      `chunks of volume ${index.volumeId} (these keys are for another volume)`,
    );
  }
  for (const chunk of index.chunks) {
    if (!keys.dataKeys.has(chunk.epoch)) {
      throw new WrongKeyError(
        `chunks of epoch ${chunk.epoch} (its data key is not among the keys released)`,
      );
    }
  }
}
