import { describe, expect, it } from 'vitest';
import type { SiteInfo } from '../contract/site';
import { MalformedKeyError } from './errors';
import { jwkFingerprint, siteFingerprint, siteFingerprints } from './site-fingerprint';

const hex = (c: string) => c.repeat(64);

/** A site's public keys as /api/site gives them, from fresh key pairs. */
async function siteInfo(siteId: string): Promise<SiteInfo> {
  const subtle = globalThis.crypto.subtle;
  const escrow = await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, [
    'deriveBits',
  ]);
  const signing = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const key = async (pair: CryptoKeyPair, purpose: 'escrow' | 'signing') => {
    const { x, y } = await subtle.exportKey('jwk', pair.publicKey);
    const jwk = { kty: 'EC' as const, crv: 'P-256' as const, x: x!, y: y! };
    return { jwk, fingerprint: await jwkFingerprint({ jwk, fingerprint: '' }, purpose) };
  };
  return {
    siteId,
    name: 'Osaka',
    version: '1',
    demo: false,
    escrowKey: await key(escrow, 'escrow'),
    signingKey: await key(signing, 'signing'),
  };
}

describe('site fingerprint (MS-1)', () => {
  it('is SHA-256 of the canonical JSON of the site ID and both key fingerprints', async () => {
    // sha256('{"domain":"custodian site fingerprint v1","escrowKey":"aa…","signingKey":"bb…","siteId":"site-tokyo"}')
    expect(
      await siteFingerprint({ siteId: 'site-tokyo', escrowKey: hex('a'), signingKey: hex('b') }),
    ).toBe('5ee4f6d1fed2467f417b248211b4d9f2bc1226d06ba9c01aed985cb2211264be');
  });

  it('changes with the site ID and with either key', async () => {
    const base = { siteId: 'site-tokyo', escrowKey: hex('a'), signingKey: hex('b') };
    const fingerprints = await Promise.all([
      siteFingerprint(base),
      siteFingerprint({ ...base, siteId: 'site-osaka' }),
      siteFingerprint({ ...base, escrowKey: hex('c') }),
      siteFingerprint({ ...base, signingKey: hex('c') }),
      // The two keys are not interchangeable.
      siteFingerprint({ ...base, escrowKey: hex('b'), signingKey: hex('a') }),
    ]);
    expect(new Set(fingerprints).size).toBe(fingerprints.length);
  });

  it('is computed from the keys a site sends, and refuses fingerprints that are not theirs', async () => {
    const info = await siteInfo('site-osaka');
    const computed = await siteFingerprints(info);
    expect(computed).toEqual({
      siteId: 'site-osaka',
      escrowKey: info.escrowKey.fingerprint,
      signingKey: info.signingKey.fingerprint,
      site: await siteFingerprint({
        siteId: 'site-osaka',
        escrowKey: info.escrowKey.fingerprint,
        signingKey: info.signingKey.fingerprint,
      }),
    });
    const other = await siteInfo('site-osaka');
    const swapped = {
      ...info,
      escrowKey: { ...other.escrowKey, fingerprint: info.escrowKey.fingerprint },
    };
    await expect(siteFingerprints(swapped)).rejects.toBeInstanceOf(MalformedKeyError);
    const broken = {
      ...info,
      signingKey: { ...info.signingKey, jwk: { ...info.signingKey.jwk, x: 'AAAA' } },
    };
    await expect(siteFingerprints(broken)).rejects.toBeInstanceOf(MalformedKeyError);
  });
});
