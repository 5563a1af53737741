import {
  bytesEqual,
  fromBase64Url,
  randomBytes,
  toBase64Url,
  utf8,
  wipe,
} from '../../../src/core/crypto/bytes';
import type { PasswordHasher } from '../domain/ports';

/**
 * Verifiers of site credentials (MS-2) over WebCrypto PBKDF2-HMAC-SHA-256 (RFC 8018 §5.2), for
 * where scrypt is not at hand: the browser (offline demo) and any platform
 * with only `globalThis.crypto`. Stored as the self-describing string
 * `pbkdf2-sha256$iterations$salt$hash` (base64url), so the count can grow.
 */

/**
 * The OWASP Password Storage Cheat Sheet's count for PBKDF2-HMAC-SHA-256
 * (600 000; its 210 000 is the count for HMAC-SHA-512).
 */
export const PBKDF2_SHA256_ITERATIONS = 600_000;

const SCHEME = 'pbkdf2-sha256';
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Refuses stored strings that would make a verification run for minutes or allocate wildly. */
const MAX_ITERATIONS = 10_000_000;
const MAX_HASH_BYTES = 64;

async function derive(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
  bytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const secret = utf8(password.normalize('NFC'));
  try {
    const key = await globalThis.crypto.subtle.importKey('raw', secret, 'PBKDF2', false, [
      'deriveBits',
    ]);
    return new Uint8Array(
      await globalThis.crypto.subtle.deriveBits(
        { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
        key,
        bytes * 8,
      ),
    );
  } finally {
    wipe(secret);
  }
}

function isIterationCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_ITERATIONS;
}

/**
 * A PasswordHasher that hashes with `iterations` rounds (default 600 000)
 * and verifies with whatever count the stored string names. Fewer rounds
 * are for demos and tests only.
 */
export function createWebCryptoHasher(
  options: { readonly iterations?: number } = {},
): PasswordHasher {
  const iterations = options.iterations ?? PBKDF2_SHA256_ITERATIONS;
  if (!isIterationCount(iterations)) {
    throw new RangeError(
      `The PBKDF2 iteration count must be a whole number from 1 to ${MAX_ITERATIONS}.`,
    );
  }
  return {
    async hash(password) {
      const salt = randomBytes(SALT_BYTES);
      const hash = await derive(password, salt, iterations, HASH_BYTES);
      try {
        return [SCHEME, iterations, toBase64Url(salt), toBase64Url(hash)].join('$');
      } finally {
        wipe(hash);
      }
    },
    async verify(password, stored) {
      const parts = stored.split('$');
      if (parts.length !== 4) return false;
      const [scheme, count, saltText, hashText] = parts as [string, string, string, string];
      if (scheme !== SCHEME || !/^[1-9]\d*$/.test(count) || !isIterationCount(Number(count)))
        return false;
      let salt: Uint8Array<ArrayBuffer>;
      let expected: Uint8Array<ArrayBuffer>;
      try {
        salt = fromBase64Url(saltText);
        expected = fromBase64Url(hashText);
      } catch {
        return false;
      }
      if (expected.length === 0 || expected.length > MAX_HASH_BYTES) return false;
      const actual = await derive(password, salt, Number(count), expected.length);
      try {
        // No early exit: the time taken does not tell how much of the hash matched.
        return bytesEqual(actual, expected);
      } finally {
        wipe(actual);
      }
    },
  };
}
