import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BLOB_OVERHEAD,
  CHUNK_SIZE,
  TRANSFER_LENGTH_PREFIX,
  TRANSFER_OVERHEAD,
  blobLength,
  maxTransferBodySize,
  padTransfer,
  paddedTransferSize,
  unpadTransfer,
} from './constants';
import { bytesEqual } from './bytes';
import { MalformedTransferError } from './errors';

describe('transfer padding (RC-4)', () => {
  it('pads every body to CHUNK_SIZE + a fixed overhead, enough for a whole chunk blob', () => {
    expect(paddedTransferSize()).toBe(CHUNK_SIZE + TRANSFER_OVERHEAD);
    expect(maxTransferBodySize()).toBeGreaterThan(blobLength(CHUNK_SIZE) + 4096);
    const announcement = new TextEncoder().encode('{"kind":"epoch-key","epoch":2}');
    const chunk = new Uint8Array(blobLength(CHUNK_SIZE)).fill(7);
    const a = padTransfer(announcement);
    const c = padTransfer(chunk);
    expect(a.length).toBe(c.length);
    expect(unpadTransfer(a)).toEqual(announcement);
    expect(bytesEqual(unpadTransfer(c), chunk)).toBe(true);
  });

  it('round-trips any body that fits (small chunk size)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 + TRANSFER_OVERHEAD - 4 }), (body) => {
        const padded = padTransfer(body, 64);
        expect(padded.length).toBe(paddedTransferSize(64));
        expect(unpadTransfer(padded, 64)).toEqual(body);
      }),
      { numRuns: 50 },
    );
  });

  it('refuses bodies too large, wrong sizes, lying prefixes and non-zero padding', () => {
    expect(() => padTransfer(new Uint8Array(maxTransferBodySize(16) + 1), 16)).toThrow(
      MalformedTransferError,
    );
    const padded = padTransfer(Uint8Array.of(1, 2, 3), 16);
    expect(() => unpadTransfer(padded.subarray(1), 16)).toThrow(/exactly/);
    const lying = padded.slice();
    new DataView(lying.buffer).setUint32(0, 0xffffffff);
    expect(() => unpadTransfer(lying, 16)).toThrow(/declares/);
    const dirty = padded.slice();
    dirty[dirty.length - 1] = 1;
    expect(() => unpadTransfer(dirty, 16)).toThrow(/padding/);
  });

  it('finds one non-zero byte anywhere in the padding, however the bytes are aligned', () => {
    const body = Uint8Array.of(1, 2, 3);
    const padded = padTransfer(body, 64);
    for (let shift = 0; shift < 4; shift++) {
      const backing = new Uint8Array(padded.length + shift);
      backing.set(padded, shift);
      const view = backing.subarray(shift);
      expect(unpadTransfer(view, 64)).toEqual(body);
      const first = TRANSFER_LENGTH_PREFIX + body.length;
      const middle = Math.floor((first + view.length) / 2);
      // Where the unaligned head, the words and the tail meet, and the last byte.
      const places = [first, first + 1, first + 2, first + 3, first + 4, first + 5, middle - 1];
      places.push(
        middle,
        middle + 1,
        middle + 2,
        view.length - 3,
        view.length - 2,
        view.length - 1,
      );
      for (const at of places) {
        view[at] = 0x80;
        expect(() => unpadTransfer(view, 64), `shift ${shift}, byte ${at}`).toThrow(/padding/);
        view[at] = 0;
      }
    }
  });

  it('states the blob overhead of the layout', () => {
    expect(BLOB_OVERHEAD).toBe(4 + 1 + 4 + 12 + 16);
  });
});
