import type { ByteSource } from './byte-source';
import { VolumeReadError } from './errors';

/**
 * The first 8 KiB hold every boot-area structure the detectors look at: the
 * MBR and protective MBR (byte 0), the GPT header at LBA 1 for 512- and
 * 4096-byte sectors (bytes 512 and 4096), the ext superblock (byte 1024) and
 * the FAT boot sector and FAT32 FSInfo sector. Reading it once keeps the
 * detectors from fetching sector 0 again and again.
 */
const HEAD_BYTES = 8192;

/**
 * Reads on behalf of the detectors: ranges are clipped to the image, the boot
 * area is fetched once and shared, and a failing or short read becomes a
 * VolumeReadError. `bytesRequested` is what has been asked of the source.
 */
export class ImageReader {
  readonly size: number;
  #source: ByteSource;
  #head: Promise<Uint8Array> | undefined;

  constructor(source: ByteSource) {
    const { size } = source;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new VolumeReadError(`its size ${String(size)} is not a byte count`);
    }
    this.size = size;
    this.#source = source;
  }

  /**
   * Up to `length` bytes from `offset`: fewer only where the image ends, none
   * when `offset` is past the end. Callers treat a short answer as "this
   * structure is truncated", never as an error.
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= this.size || length <= 0) {
      return new Uint8Array(0);
    }
    const end = Math.min(this.size, offset + length);
    const headLength = Math.min(this.size, HEAD_BYTES);
    if (offset >= headLength) return this.#fetch(offset, end - offset);

    const head = await (this.#head ??= this.#fetch(0, headLength));
    if (end <= headLength) return head.subarray(offset, end);
    const out = new Uint8Array(end - offset);
    out.set(head.subarray(offset));
    out.set(await this.#fetch(headLength, end - headLength), headLength - offset);
    return out;
  }

  async #fetch(offset: number, length: number): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = await this.#source.read(offset, length);
    } catch (cause) {
      throw new VolumeReadError(`reading ${length} bytes at offset ${offset} failed`, { cause });
    }
    if (!(bytes instanceof Uint8Array) || bytes.length < length) {
      const got = bytes instanceof Uint8Array ? `${bytes.length} bytes` : 'no bytes';
      throw new VolumeReadError(
        `reading ${length} bytes at offset ${offset} returned ${got}; the file may have changed`,
      );
    }
    return bytes.length === length ? bytes : bytes.subarray(0, length);
  }
}
