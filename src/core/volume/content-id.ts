import { hex } from './byte-fields';
import type { ImageReader } from './image-reader';
import type { VolumeIdentity } from './volume-identity';

/** Size of each end window hashed by the content ID. */
export const CONTENT_WINDOW = 1024 * 1024;

/**
 * Fallback volume ID for images no detector recognises (SPEC §2):
 * `content:` followed by 64 lowercase hex digits of
 *
 *     SHA-256( head ‖ size ‖ tail )
 *
 * where, with n = min(1 MiB, size) and 1 MiB = 1 048 576 bytes,
 *   - head = bytes [0, n) of the image,
 *   - size = the image size in bytes as an unsigned 64-bit big-endian integer,
 *   - tail = bytes [size − n, size) of the image.
 * For images shorter than 2 MiB the two windows overlap (for images of at
 * most 1 MiB both are the whole image); the overlapping bytes are hashed
 * twice, exactly as defined. Only these windows are read, so the cost does
 * not grow with the image.
 */
export async function contentVolumeId(reader: ImageReader): Promise<VolumeIdentity> {
  const { size } = reader;
  const n = Math.min(CONTENT_WINDOW, size);
  let head: Uint8Array;
  let tail: Uint8Array;
  if (size <= 2 * CONTENT_WINDOW) {
    // The windows cover the whole image: read it once.
    const whole = await reader.read(0, size);
    head = whole.subarray(0, n);
    tail = whole.subarray(size - n);
  } else {
    head = await reader.read(0, n);
    tail = await reader.read(size - n, n);
  }

  const message = new Uint8Array(n + 8 + n);
  message.set(head, 0);
  new DataView(message.buffer).setBigUint64(n, BigInt(size), false);
  message.set(tail, n + 8);
  const sha256 = hex(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', message)));

  return {
    kind: 'content',
    volumeId: `content:${sha256}`,
    details: { sha256, size: String(size), windowBytes: String(n) },
  };
}
