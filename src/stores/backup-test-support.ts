/**
 * Helpers for the backup's tests in jsdom: images as Files that can be
 * sliced and read (jsdom's own Blob cannot), deterministic bytes, and a fix
 * for jsdom's TextEncoder, whose bytes are not `instanceof Uint8Array` of
 * the test's realm (jose checks exactly that when sealing envelopes).
 */

import type { ImageFile } from '@/workers/chunk-reader';

/** Makes TextEncoder return Uint8Arrays of this realm (jsdom test environment only). */
export function useSameRealmTextEncoder(): void {
  const prototype = TextEncoder.prototype as TextEncoder & { __sameRealm?: boolean };
  if (prototype.__sameRealm) return;
  const encode = prototype.encode;
  prototype.encode = function (this: TextEncoder, input?: string) {
    const bytes = encode.call(this, input);
    return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  } as TextEncoder['encode'];
  prototype.__sameRealm = true;
}

/** Deterministic pseudo-random bytes: the same seed gives the same image. */
export function patternBytes(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** An image file over bytes in memory, readable slice by slice. */
export function memoryImageFile(
  bytes: Uint8Array<ArrayBuffer>,
  name = 'disk.img',
  lastModified = 1_700_000_000_000,
): ImageFile & Blob {
  const file = {
    name,
    size: bytes.length,
    lastModified,
    type: 'application/octet-stream',
    slice(start = 0, end = bytes.length) {
      const part = bytes.slice(start, end);
      return { arrayBuffer: async () => part.buffer, size: part.length };
    },
    arrayBuffer: async () => bytes.slice().buffer,
  };
  return file as unknown as ImageFile & Blob;
}
