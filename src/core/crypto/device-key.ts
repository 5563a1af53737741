/**
 * ID-6 device keys and the other ECDSA keys of the format (the site's
 * receipt-signing key): ECDSA on P-256 with SHA-256 (FIPS 186-5), signatures
 * in the IEEE P1363 form r ‖ s (64 bytes) that WebCrypto produces.
 */

import { sha256Hex, toArrayBufferBytes } from './bytes';
import { MalformedKeyError } from './errors';

export const SIGNING_ALGORITHM: EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };
export const SIGNATURE_PARAMS: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
/** P1363 signature length for P-256: 32-byte r ‖ 32-byte s. */
export const SIGNATURE_LENGTH = 64;

/** A new signing key pair; the private half is non-extractable (ID-6). */
export async function generateDeviceKeyPair(): Promise<CryptoKeyPair> {
  return globalThis.crypto.subtle.generateKey(SIGNING_ALGORITHM, false, ['sign', 'verify']);
}

/** DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, RFC 5480) of a public key. */
export async function exportPublicKeySpki(publicKey: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await globalThis.crypto.subtle.exportKey('spki', publicKey));
}

/** Imports a P-256 ECDSA public key from DER SubjectPublicKeyInfo. */
export async function importSigningPublicKeySpki(spki: Uint8Array): Promise<CryptoKey> {
  try {
    return await globalThis.crypto.subtle.importKey(
      'spki',
      toArrayBufferBytes(spki),
      SIGNING_ALGORITHM,
      true,
      ['verify'],
    );
  } catch (cause) {
    throw new MalformedKeyError('the public key is not a P-256 SubjectPublicKeyInfo.', { cause });
  }
}

/** Imports a P-256 ECDSA public key from a JWK (RFC 7517, RFC 7518 §6.2). */
export async function importSigningPublicKeyJwk(jwk: JsonWebKey): Promise<CryptoKey> {
  try {
    return await globalThis.crypto.subtle.importKey(
      'jwk',
      { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
      SIGNING_ALGORITHM,
      true,
      ['verify'],
    );
  } catch (cause) {
    throw new MalformedKeyError('the public key is not a P-256 JWK.', { cause });
  }
}

/** Fingerprint of a public key: SHA-256 of its DER SPKI, lower-case hex. */
export async function publicKeyFingerprint(
  publicKeyOrSpki: CryptoKey | Uint8Array,
): Promise<string> {
  const spki =
    publicKeyOrSpki instanceof Uint8Array
      ? publicKeyOrSpki
      : await exportPublicKeySpki(publicKeyOrSpki);
  return sha256Hex(spki);
}

/** Signs `data` with ECDSA P-256 / SHA-256; the signature is 64 bytes r ‖ s. */
export async function signBytes(
  privateKey: CryptoKey,
  data: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(
    await globalThis.crypto.subtle.sign(
      SIGNATURE_PARAMS,
      privateKey,
      data as Uint8Array<ArrayBuffer>,
    ),
  );
}

/**
 * Verifies a P1363 signature. Returns false (never throws) for a signature of
 * the wrong length or one that does not verify.
 */
export async function verifyBytes(
  publicKey: CryptoKey,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  if (signature.length !== SIGNATURE_LENGTH) return false;
  try {
    return await globalThis.crypto.subtle.verify(
      SIGNATURE_PARAMS,
      publicKey,
      signature as Uint8Array<ArrayBuffer>,
      data as Uint8Array<ArrayBuffer>,
    );
  } catch {
    return false;
  }
}

/** True if `publicKey` is the key with this fingerprint. */
export async function hasFingerprint(publicKey: CryptoKey, fingerprint: string): Promise<boolean> {
  return (await publicKeyFingerprint(publicKey)) === fingerprint;
}
