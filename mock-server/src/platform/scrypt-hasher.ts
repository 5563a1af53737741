import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { PasswordHasher } from '../domain/ports';

/**
 * Site credentials (MS-2, never passwords) are kept only as scrypt verifiers
 * (ID-1), in a self-describing string `scrypt$N$r$p$salt$hash` (base64url)
 * so parameters can grow later.
 */
export const SCRYPT_COST = 1 << 15;
const PARAMS = { r: 8, p: 1, keyLength: 32 } as const;

function derive(
  password: string,
  salt: Buffer,
  N: number,
  r: number,
  p: number,
  keyLength: number,
): Promise<Buffer> {
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * 2 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/**
 * A hasher whose new verifiers cost `cost` (scrypt's N). Sites use
 * SCRYPT_COST; tests that start hundreds of sites pass a lower one. Every
 * verifier is checked with the cost written in it, whichever made it.
 */
export function createScryptHasher(cost: number = SCRYPT_COST): PasswordHasher {
  return {
    hash: async (password) => {
      const salt = randomBytes(16);
      const key = await derive(password, salt, cost, PARAMS.r, PARAMS.p, PARAMS.keyLength);
      return [
        'scrypt',
        cost,
        PARAMS.r,
        PARAMS.p,
        salt.toString('base64url'),
        key.toString('base64url'),
      ].join('$');
    },
    verify: verifyScrypt,
  };
}

export const scryptHasher: PasswordHasher = createScryptHasher();

async function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(
    password,
    Buffer.from(salt, 'base64url'),
    Number(n),
    Number(r),
    Number(p),
    expected.length,
  );
  return key.length === expected.length && timingSafeEqual(key, expected);
}
