import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes } from './bytes';
import { chunkCount, chunkLengthAt, chunkRanges, splitIntoChunks } from './chunking';
import { CHUNK_SIZE } from './constants';

/** Lengths around the interesting boundaries: 0, exact multiples and ±1. */
function interestingLength(chunkSize: number) {
  return fc.oneof(
    fc.constant(0),
    fc
      .integer({ min: 0, max: 6 })
      .chain((k) =>
        fc.constantFrom(k * chunkSize, k * chunkSize + 1, Math.max(0, k * chunkSize - 1)),
      ),
    fc.integer({ min: 0, max: chunkSize * 6 }),
  );
}

describe('chunking', () => {
  it('splits and reassembles any length, with every chunk full but the last', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 64 })
          .chain((chunkSize) => fc.tuple(fc.constant(chunkSize), interestingLength(chunkSize))),
        ([chunkSize, length]) => {
          const data = Uint8Array.from({ length }, (_, i) => (i * 31) & 0xff);
          const chunks = [...splitIntoChunks(data, chunkSize)];
          expect(chunks.length).toBe(chunkCount(length, chunkSize));
          expect(chunks.length).toBe(Math.ceil(length / chunkSize));
          chunks.forEach((chunk, i) => {
            expect(chunk.length).toBe(chunkLengthAt(i, length, chunkSize));
            if (i < chunks.length - 1) expect(chunk.length).toBe(chunkSize);
            else expect(chunk.length).toBeGreaterThan(0);
          });
          expect(concatBytes(...chunks)).toEqual(data);
          const ranges = [...chunkRanges(length, chunkSize)];
          expect(ranges.map((r) => r.offset)).toEqual(chunks.map((_, i) => i * chunkSize));
        },
      ),
    );
  });

  it('uses 4 MiB chunks by default', () => {
    expect(chunkCount(0)).toBe(0);
    expect(chunkCount(1)).toBe(1);
    expect(chunkCount(CHUNK_SIZE)).toBe(1);
    expect(chunkCount(CHUNK_SIZE + 1)).toBe(2);
    expect(chunkLengthAt(1, CHUNK_SIZE + 1)).toBe(1);
    expect(() => chunkLengthAt(2, CHUNK_SIZE + 1)).toThrow(RangeError);
    expect(() => chunkCount(-1)).toThrow(RangeError);
  });
});
