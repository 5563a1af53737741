import { randomBytes, sha256Hex, toBase64Url, utf8 } from '../../../src/core/crypto/bytes';
import type { Random } from '../domain/ports';

/** Randomness and hashing from WebCrypto, for the site in the page. */
export const webCryptoRandom: Random = {
  token: () => toBase64Url(randomBytes(32)),
  sha256Hex: (text) => sha256Hex(utf8(text)),
};
