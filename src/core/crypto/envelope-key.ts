/**
 * ECDH P-256 key pairs that key envelopes are sealed to (RFC 7518 §4.6):
 * the site's escrow key (BK-8) and the restorer's ephemeral key of one key
 * release (RS-2). Public halves travel as JWKs (RFC 7517).
 */

import { MalformedKeyError } from './errors';

export const AGREEMENT_ALGORITHM: EcKeyImportParams = { name: 'ECDH', namedCurve: 'P-256' };

/**
 * A new ECDH P-256 key pair. The private half is non-extractable unless
 * asked (the site extracts its escrow key only to encrypt it under its
 * master key, ES-4).
 */
export async function generateEnvelopeKeyPair(
  options: { extractable?: boolean } = {},
): Promise<CryptoKeyPair> {
  return globalThis.crypto.subtle.generateKey(AGREEMENT_ALGORITHM, options.extractable ?? false, [
    'deriveBits',
  ]);
}

/** Public JWK {kty, crv, x, y} of an ECDH public key. */
export async function exportEnvelopePublicKeyJwk(publicKey: CryptoKey): Promise<JsonWebKey> {
  const { kty, crv, x, y } = await globalThis.crypto.subtle.exportKey('jwk', publicKey);
  return { kty, crv, x, y };
}

/** Imports an ECDH P-256 public JWK (the point is validated on import). */
export async function importEnvelopePublicKeyJwk(jwk: JsonWebKey): Promise<CryptoKey> {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || jwk.d !== undefined) {
    throw new MalformedKeyError('an envelope public key must be a P-256 public JWK.');
  }
  try {
    return await globalThis.crypto.subtle.importKey(
      'jwk',
      { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y },
      AGREEMENT_ALGORITHM,
      true,
      [],
    );
  } catch (cause) {
    throw new MalformedKeyError('the JWK is not a point on P-256.', { cause });
  }
}
