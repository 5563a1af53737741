import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesEqual,
  concatBytes,
  fromBase64Url,
  fromHex,
  randomBytes,
  toBase64Url,
  toHex,
  wipe,
} from './bytes';

describe('bytes', () => {
  it('round-trips hex and base64url for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(fromHex(toHex(bytes))).toEqual(bytes);
        expect(fromBase64Url(toBase64Url(bytes))).toEqual(bytes);
      }),
    );
  });

  it('matches RFC 4648 §10 test vectors (base64url, unpadded)', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['f', 'Zg'],
      ['fo', 'Zm8'],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg'],
      ['fooba', 'Zm9vYmE'],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of cases) {
      expect(toBase64Url(new TextEncoder().encode(plain))).toBe(encoded);
    }
    expect(toBase64Url(Uint8Array.of(0xfb, 0xff))).toBe('-_8');
  });

  it('refuses non-canonical or foreign base64url and bad hex', () => {
    expect(() => fromBase64Url('Zg==')).toThrow(RangeError);
    expect(() => fromBase64Url('Zh')).toThrow(/trailing bits/);
    expect(() => fromBase64Url('Z')).toThrow(/length/);
    expect(() => fromBase64Url('a+b/')).toThrow(/alphabet/);
    expect(() => fromHex('abc')).toThrow(/even/);
    expect(() => fromHex('zz')).toThrow(/hex digit/);
  });

  it('compares, concatenates and wipes', () => {
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(bytesEqual(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false);
    expect(concatBytes(Uint8Array.of(1), Uint8Array.of(), Uint8Array.of(2, 3))).toEqual(
      Uint8Array.of(1, 2, 3),
    );
    const secret = randomBytes(100_000);
    wipe(secret);
    expect(secret.every((b) => b === 0)).toBe(true);
  });
});
