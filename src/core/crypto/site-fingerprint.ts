/**
 * The site fingerprint (MS-1, docs/FORMAT.md §14): one hex string that two
 * administrators read to each other before one site trusts another. It
 * covers the site's ID and both of its public keys, so a site that answers
 * at the same address with another ID or another key shows another
 * fingerprint. The console, the site and its command line all compute it
 * here.
 */

import type { SiteInfo, SitePublicKey } from '../contract/site';
import { sha256Hex } from './bytes';
import { canonicalJson } from './canonical-json';
import { publicKeyFingerprint } from './device-key';
import { MalformedKeyError } from './errors';

/** Names what the hash is of, so it cannot be taken for any other SHA-256 of the format. */
export const SITE_FINGERPRINT_DOMAIN = 'custodian site fingerprint v1';

/** What a site fingerprint covers: the site ID and the SPKI fingerprints of its two keys. */
export interface SiteIdentity {
  readonly siteId: string;
  /** SHA-256 of the escrow key's SubjectPublicKeyInfo, lower-case hex. */
  readonly escrowKey: string;
  /** SHA-256 of the receipt-signing key's SubjectPublicKeyInfo, lower-case hex. */
  readonly signingKey: string;
}

/** A site's fingerprint and the two key fingerprints it covers, all checked against the keys. */
export interface SiteFingerprints extends SiteIdentity {
  readonly site: string;
}

/**
 * SHA-256 over the RFC 8785 canonical JSON of
 * `{"domain", "escrowKey", "signingKey", "siteId"}`, 64 lower-case hex digits.
 */
export async function siteFingerprint(identity: SiteIdentity): Promise<string> {
  return sha256Hex(
    canonicalJson({
      domain: SITE_FINGERPRINT_DOMAIN,
      siteId: identity.siteId,
      escrowKey: identity.escrowKey,
      signingKey: identity.signingKey,
    }),
  );
}

/** The SPKI fingerprint of a public key given as a P-256 JWK (ECDH for escrow, ECDSA for signing). */
export async function jwkFingerprint(
  key: SitePublicKey,
  purpose: 'escrow' | 'signing',
): Promise<string> {
  let imported: CryptoKey;
  try {
    imported = await globalThis.crypto.subtle.importKey(
      'jwk',
      { kty: key.jwk.kty, crv: key.jwk.crv, x: key.jwk.x, y: key.jwk.y },
      { name: purpose === 'escrow' ? 'ECDH' : 'ECDSA', namedCurve: 'P-256' },
      true,
      purpose === 'escrow' ? [] : ['verify'],
    );
  } catch (cause) {
    throw new MalformedKeyError(`the site's ${purpose} key is not a P-256 public key.`, { cause });
  }
  return publicKeyFingerprint(imported);
}

/**
 * The fingerprints of what a site says about itself, each computed from the
 * keys it sent rather than taken from the fingerprints it states. A stated
 * fingerprint that is not its key's is refused (MalformedKeyError): such a
 * site is not what it claims to be.
 */
export async function siteFingerprints(
  info: Pick<SiteInfo, 'siteId' | 'escrowKey' | 'signingKey'>,
): Promise<SiteFingerprints> {
  const escrowKey = await jwkFingerprint(info.escrowKey, 'escrow');
  const signingKey = await jwkFingerprint(info.signingKey, 'signing');
  if (escrowKey !== info.escrowKey.fingerprint || signingKey !== info.signingKey.fingerprint) {
    throw new MalformedKeyError("the site's keys do not match the fingerprints it states.");
  }
  const identity = { siteId: info.siteId, escrowKey, signingKey };
  return { ...identity, site: await siteFingerprint(identity) };
}
