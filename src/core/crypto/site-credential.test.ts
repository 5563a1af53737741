import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  deriveSiteCredential,
  SITE_CREDENTIAL_ITERATIONS,
  SITE_CREDENTIAL_PATTERN,
} from './site-credential';

/** The definition of FORMAT.md §15, computed independently with node:crypto. */
function expected(password: string, siteId: string): string {
  return pbkdf2Sync(
    Buffer.from(password.normalize('NFC'), 'utf8'),
    Buffer.from(`custodian-site-credential-v1:${siteId}`, 'utf8'),
    600_000,
    32,
    'sha256',
  ).toString('base64url');
}

describe('the site credential (MS-2)', () => {
  const siteId = '6f1c2a9e-4b7d-4e3a-9c51-2d8f0a7b3e64';

  it('is PBKDF2-HMAC-SHA-256 of the password, salted with the label and the site ID, 600 000 rounds', async () => {
    expect(SITE_CREDENTIAL_ITERATIONS).toBe(600_000);
    const credential = await deriveSiteCredential('custodian-operator', siteId);
    expect(credential).toBe(expected('custodian-operator', siteId));
    // The value FORMAT.md §15 prints, so a second implementation can check itself.
    expect(credential).toBe('TGSwuIKsjLh-QNgoJGAEKqHuhaAmExjvnlY4CK3CJvM');
    expect(credential).toMatch(SITE_CREDENTIAL_PATTERN);
  });

  it('differs from site to site for the same password', async () => {
    const [a, b] = await Promise.all([
      deriveSiteCredential('custodian-operator', 'site-a'),
      deriveSiteCredential('custodian-operator', 'site-b'),
    ]);
    expect(a).toBe(expected('custodian-operator', 'site-a'));
    expect(b).toBe(expected('custodian-operator', 'site-b'));
    expect(a).not.toBe(b);
  });

  it('normalizes the password to NFC first, so the same word typed either way signs in', async () => {
    const composed = 'caf\u00e9-au-lait-2026';
    const decomposed = 'cafe\u0301-au-lait-2026';
    const [c, d] = await Promise.all([
      deriveSiteCredential(composed, siteId),
      deriveSiteCredential(decomposed, siteId),
    ]);
    expect(c).toBe(d);
    expect(c).toBe(expected(composed, siteId));
  });

  it('needs a site ID', async () => {
    await expect(deriveSiteCredential('custodian-operator', '')).rejects.toThrow(RangeError);
  });
});
