import { describe, expect, it } from 'vitest';
import { siteFingerprintInputSchema, siteOrigin } from './trusted-sites';

describe('site addresses (MS-1)', () => {
  it('are origins as a browser sends them', () => {
    expect(siteOrigin('https://Osaka.Example')).toBe('https://osaka.example');
    expect(siteOrigin(' https://osaka.example:443/ ')).toBe('https://osaka.example');
    expect(siteOrigin('http://127.0.0.1:8788')).toBe('http://127.0.0.1:8788');
    expect(siteOrigin('http://[::1]:8788/')).toBe('http://[::1]:8788');
  });

  it('refuse anything else', () => {
    for (const address of [
      'osaka.example:8788',
      'ftp://osaka.example',
      'https://',
      'https://osaka.example/admin/sites',
      'https://osaka.example/?x=1',
      'https://osaka.example/#top',
      'https://user:pw@osaka.example',
      'javascript:alert(1)',
      '',
    ]) {
      expect([address, siteOrigin(address)]).toEqual([address, null]);
    }
  });
});

describe('site fingerprints as typed', () => {
  it('are read in either case, grouped with spaces or colons', () => {
    const plain = '0123456789abcdef'.repeat(4);
    const grouped = plain.toUpperCase().match(/.{4}/g)!.join(':');
    expect(siteFingerprintInputSchema.parse(grouped)).toBe(plain);
    expect(siteFingerprintInputSchema.parse(plain.match(/.{8}/g)!.join(' '))).toBe(plain);
    expect(siteFingerprintInputSchema.safeParse(plain.slice(1)).success).toBe(false);
    expect(siteFingerprintInputSchema.safeParse(`${plain.slice(1)}g`).success).toBe(false);
  });
});
