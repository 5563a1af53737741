import { describe, expect, it } from 'vitest';
import { randomBytes, utf8 } from '../crypto/bytes';
import { canonicalJson } from '../crypto/canonical-json';
import { padTransfer, paddedTransferSize, maxTransferBodySize } from '../crypto/constants';
import { MalformedTransferError } from '../crypto/errors';
import { decodeTransfer, encodeTransfer, type TransferHeader } from './frame';

const chunkSize = 64 * 1024;
const volumeId = 'content:frame-test';
const chunkId = 'ab'.repeat(32);

/** The framing spelled out: u16 BE header length ‖ header ‖ payload, then padTransfer. */
function reference(header: TransferHeader, payload: Uint8Array): Uint8Array {
  const headerBytes = canonicalJson(header as never);
  const body = new Uint8Array(2 + headerBytes.length + payload.length);
  new DataView(body.buffer).setUint16(0, headerBytes.length, false);
  body.set(headerBytes, 2);
  body.set(payload, 2 + headerBytes.length);
  return padTransfer(body, chunkSize);
}

describe('transfer frames', () => {
  it('frames a chunk, an epoch key and a commit into padded bodies of one size', () => {
    const cases: [TransferHeader, Uint8Array][] = [
      [{ kind: 'chunk', volumeId, chunkId }, randomBytes(chunkSize + 37)],
      [{ kind: 'epoch-key', volumeId, epoch: 4 }, utf8('{"an":"envelope"}')],
      [{ kind: 'commit', volumeId }, randomBytes(300)],
    ];
    for (const [header, payload] of cases) {
      const padded = encodeTransfer(header, payload, chunkSize);
      expect(padded.length).toBe(paddedTransferSize(chunkSize));
      expect(padded).toEqual(reference(header, payload));
      const decoded = decodeTransfer(padded, chunkSize);
      expect(decoded.header).toEqual(header);
      expect(decoded.payload).toEqual(payload);
    }
  });

  it('refuses a payload that does not fit in a padded transfer', () => {
    const header: TransferHeader = { kind: 'commit', volumeId };
    const headerLength = canonicalJson(header as never).length;
    const fits = new Uint8Array(maxTransferBodySize(chunkSize) - 2 - headerLength);
    expect(encodeTransfer(header, fits, chunkSize).length).toBe(paddedTransferSize(chunkSize));
    expect(() => encodeTransfer(header, new Uint8Array(fits.length + 1), chunkSize)).toThrow(
      MalformedTransferError,
    );
    expect(() => encodeTransfer(header, new Uint8Array(fits.length + 1), chunkSize)).toThrow(
      /does not fit in a padded transfer/,
    );
  });
});
