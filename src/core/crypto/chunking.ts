/**
 * Fixed-size chunking (SPEC §2): an image of `size` bytes is cut into
 * ceil(size / chunkSize) chunks of chunkSize bytes, the last one shorter.
 * An empty image has no chunks. `chunkSize` is a parameter only so that
 * tests can use small chunks; the format fixes it at CHUNK_SIZE.
 */

import { CHUNK_SIZE } from './constants';

/** One chunk's place in the image. */
export interface ChunkRange {
  readonly position: number;
  readonly offset: number;
  readonly length: number;
}

function assertSizes(size: number, chunkSize: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError('An image size must be a non-negative safe integer.');
  }
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new RangeError('A chunk size must be a positive integer.');
  }
}

/** Number of chunks of an image of `size` bytes. */
export function chunkCount(size: number, chunkSize: number = CHUNK_SIZE): number {
  assertSizes(size, chunkSize);
  return Math.ceil(size / chunkSize);
}

/** Plaintext length of the chunk at `position`. */
export function chunkLengthAt(
  position: number,
  size: number,
  chunkSize: number = CHUNK_SIZE,
): number {
  const count = chunkCount(size, chunkSize);
  if (!Number.isInteger(position) || position < 0 || position >= count) {
    throw new RangeError(`Chunk position ${position} is outside an image of ${count} chunks.`);
  }
  return Math.min(chunkSize, size - position * chunkSize);
}

/** The ranges of every chunk, in order (for reading a File slice by slice). */
export function* chunkRanges(size: number, chunkSize: number = CHUNK_SIZE): Generator<ChunkRange> {
  const count = chunkCount(size, chunkSize);
  for (let position = 0; position < count; position++) {
    const offset = position * chunkSize;
    yield { position, offset, length: Math.min(chunkSize, size - offset) };
  }
}

/** Splits bytes held in memory into chunk views (no copy). */
export function* splitIntoChunks(
  data: Uint8Array,
  chunkSize: number = CHUNK_SIZE,
): Generator<Uint8Array> {
  for (const range of chunkRanges(data.length, chunkSize)) {
    yield data.subarray(range.offset, range.offset + range.length);
  }
}
