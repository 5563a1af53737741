import { describe, expect, it } from 'vitest';
import {
  createWebCryptoHasher,
  PBKDF2_SHA256_ITERATIONS,
} from '../../src/platform/webcrypto-hasher';

const fast = createWebCryptoHasher({ iterations: 1000 });

describe('the WebCrypto PBKDF2 password hasher', () => {
  it('hashes to pbkdf2-sha256$iterations$salt$hash and verifies only the right password', async () => {
    const stored = await fast.hash('correct horse battery');
    expect(stored).toMatch(/^pbkdf2-sha256\$1000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await fast.verify('correct horse battery', stored)).toBe(true);
    expect(await fast.verify('correct horse batterY', stored)).toBe(false);
    expect(await fast.verify('', stored)).toBe(false);
  });

  it('uses the OWASP count for PBKDF2-HMAC-SHA-256 unless told otherwise', async () => {
    expect(PBKDF2_SHA256_ITERATIONS).toBeGreaterThanOrEqual(210_000);
    const stored = await createWebCryptoHasher().hash('correct horse battery');
    expect(stored.split('$')[1]).toBe(String(PBKDF2_SHA256_ITERATIONS));
  });

  it('salts every hash: the same password twice gives two verifiers', async () => {
    const [a, b] = await Promise.all([fast.hash('same password'), fast.hash('same password')]);
    expect(a).not.toBe(b);
    expect(await fast.verify('same password', a)).toBe(true);
    expect(await fast.verify('same password', b)).toBe(true);
  });

  it('verifies with the count the stored string names, whatever it hashes with now', async () => {
    const older = await createWebCryptoHasher({ iterations: 2000 }).hash('correct horse battery');
    expect(await fast.verify('correct horse battery', older)).toBe(true);
  });

  it('matches the PBKDF2-HMAC-SHA-256 test vector of RFC 7914 §11', async () => {
    const dk =
      '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc' +
      '49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783';
    const hash = Buffer.from(dk, 'hex').toString('base64url');
    const salt = Buffer.from('salt').toString('base64url');
    expect(await fast.verify('passwd', `pbkdf2-sha256$1$${salt}$${hash}`)).toBe(true);
    expect(await fast.verify('passwd', `pbkdf2-sha256$2$${salt}$${hash}`)).toBe(false);
  });

  it('treats composed and decomposed accents as the same password (NFC)', async () => {
    const stored = await fast.hash('caf\u00e9 au lait');
    expect(await fast.verify('cafe\u0301 au lait', stored)).toBe(true);
  });

  it('answers false, never throws, for stored strings it does not make', async () => {
    const stored = await fast.hash('correct horse battery');
    const [, , salt, hash] = stored.split('$');
    const flipped = `${hash!.startsWith('A') ? 'B' : 'A'}${hash!.slice(1)}`;
    for (const bad of [
      '',
      'scrypt$32768$8$1$c2FsdA$aGFzaA',
      `pbkdf2-sha512$1000$${salt}$${hash}`,
      `pbkdf2-sha256$1000$${salt}`,
      `pbkdf2-sha256$1000$${salt}$${hash}$extra`,
      `pbkdf2-sha256$0$${salt}$${hash}`,
      `pbkdf2-sha256$01000$${salt}$${hash}`,
      `pbkdf2-sha256$1e3$${salt}$${hash}`,
      `pbkdf2-sha256$99999999999$${salt}$${hash}`,
      `pbkdf2-sha256$1000$${salt}$`,
      `pbkdf2-sha256$1000$***$${hash}`,
      `pbkdf2-sha256$1000$${salt}$${'A'.repeat(100)}`,
      `pbkdf2-sha256$1000$${salt}$${flipped}`,
    ]) {
      expect(await fast.verify('correct horse battery', bad), bad).toBe(false);
    }
  });

  it('refuses an iteration count that is not a whole number from 1 to 10 000 000', () => {
    for (const iterations of [0, -1, 1.5, Number.NaN, 10_000_001]) {
      expect(() => createWebCryptoHasher({ iterations })).toThrow(RangeError);
    }
  });
});
