/**
 * BK-6/BK-7: the SHA-256 of a whole image (FIPS 180-4), computed
 * incrementally as chunks stream by. Its state can be saved into IndexedDB
 * and restored, so a reload resumes hashing where it stopped instead of
 * reading the image again. WebCrypto has no incremental digest, hence
 * hash-wasm.
 */

import { createSHA256, type IHasher } from 'hash-wasm';
import { toArrayBufferBytes } from './bytes';

export class ImageHash {
  #hasher: IHasher;
  #bytes: number;

  private constructor(hasher: IHasher, bytes: number) {
    this.#hasher = hasher;
    this.#bytes = bytes;
  }

  /** A fresh hash of zero bytes. */
  static async create(): Promise<ImageHash> {
    const hasher = await createSHA256();
    hasher.init();
    return new ImageHash(hasher, 0);
  }

  /**
   * Continues from a state made by saveState(). The state is opaque: it
   * holds hash-wasm's internal state after an 8-byte big-endian count of the
   * bytes hashed so far.
   */
  static async restore(state: Uint8Array): Promise<ImageHash> {
    if (state.length < 8) {
      throw new RangeError('A saved image hash state is at least 8 bytes.');
    }
    const hash = new ImageHash(await createSHA256(), 0);
    return hash.load(state);
  }

  /** Continues from a state made by saveState(), in place of the bytes hashed so far. */
  load(state: Uint8Array): this {
    if (state.length < 8) {
      throw new RangeError('A saved image hash state is at least 8 bytes.');
    }
    const bytes = Number(
      new DataView(state.buffer, state.byteOffset, state.byteLength).getBigUint64(0, false),
    );
    try {
      this.#hasher.load(toArrayBufferBytes(state.subarray(8)));
    } catch (cause) {
      throw new RangeError('The saved image hash state is not a SHA-256 state.', { cause });
    }
    this.#bytes = bytes;
    return this;
  }

  /** Bytes hashed so far. */
  get bytesHashed(): number {
    return this.#bytes;
  }

  update(data: Uint8Array): this {
    this.#hasher.update(data);
    this.#bytes += data.length;
    return this;
  }

  /** The current state, to store for a resume. Hashing may continue afterwards. */
  saveState(): Uint8Array<ArrayBuffer> {
    const inner = this.#hasher.save();
    const state = new Uint8Array(8 + inner.length);
    new DataView(state.buffer).setBigUint64(0, BigInt(this.#bytes), false);
    state.set(inner, 8);
    return state;
  }

  /** Finishes the hash: lower-case hex. The object cannot be updated afterwards. */
  digestHex(): string {
    return this.#hasher.digest('hex');
  }
}
