/**
 * Where detection gets an image's bytes from. Detection asks for a few small
 * ranges (and at most two 1 MiB windows), never for the whole image, so a
 * multi-gigabyte image is identified without being loaded (BK-2, BK-6).
 */
export interface ByteSource {
  /** Size of the image in bytes. */
  readonly size: number;
  /**
   * Bytes `[offset, offset + length)`. Detection only asks for ranges inside
   * `[0, size)` and expects exactly `length` bytes back.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A ByteSource over a Blob or File: each read slices only the range asked for. */
export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}
