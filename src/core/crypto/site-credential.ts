/**
 * The credential a user signs in to one site with (MS-2, docs/FORMAT.md
 * §15). The console never sends the password to any site: it derives a
 * different credential for each site from the password and that site's ID,
 * so what one site receives (and its operator could replay) opens no other
 * site. The site keeps only its own slow verifier of the credential (ID-1).
 */
import { toBase64Url, utf8, wipe } from './bytes';

/**
 * PBKDF2-HMAC-SHA-256 rounds (RFC 8018 §5.2): the OWASP Password Storage
 * Cheat Sheet's count for SHA-256, and the least SPEC MS-2 allows.
 */
export const SITE_CREDENTIAL_ITERATIONS = 600_000;

/** Length of the derived credential in bytes (43 base64url characters). */
export const SITE_CREDENTIAL_BYTES = 32;

/**
 * Domain separation: the salt is this label followed by the site's ID, so a
 * credential can never equal any other PBKDF2 output of the same password
 * that a future part of the format might derive.
 */
export const SITE_CREDENTIAL_LABEL = 'custodian-site-credential-v1:';

/**
 * The salt for `siteId`: UTF-8 of the label followed by the site's ID,
 * verbatim. The label has a fixed length, so no two IDs give the same salt.
 */
export function siteCredentialSalt(siteId: string): Uint8Array<ArrayBuffer> {
  if (siteId === '') throw new RangeError('A site credential needs the site ID.');
  return utf8(SITE_CREDENTIAL_LABEL + siteId);
}

/**
 * credential = base64url(PBKDF2-HMAC-SHA-256(P = UTF-8(NFC(password)),
 * S = UTF-8(label ‖ siteId), c = 600 000, dkLen = 32)).
 * About half a second in a browser; run it once per sign-in, not per request.
 */
export async function deriveSiteCredential(password: string, siteId: string): Promise<string> {
  const salt = siteCredentialSalt(siteId);
  const secret = utf8(password.normalize('NFC'));
  let derived: Uint8Array<ArrayBuffer> | undefined;
  try {
    const key = await globalThis.crypto.subtle.importKey('raw', secret, 'PBKDF2', false, [
      'deriveBits',
    ]);
    derived = new Uint8Array(
      await globalThis.crypto.subtle.deriveBits(
        { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: SITE_CREDENTIAL_ITERATIONS },
        key,
        SITE_CREDENTIAL_BYTES * 8,
      ),
    );
    return toBase64Url(derived);
  } finally {
    wipe(secret);
    wipe(derived);
  }
}

/** The one spelling a credential has: 43 base64url characters of 32 bytes (FORMAT.md §1). */
export const SITE_CREDENTIAL_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
