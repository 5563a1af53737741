import { describe, expect } from 'vitest';
import type { TrustedSiteRecord } from '../../src/domain/sites/ports';
import { at, type Contract } from './contract';

const key = (c: string) => ({
  jwk: { kty: 'EC' as const, crv: 'P-256' as const, x: c.repeat(43), y: c.repeat(43) },
  fingerprint: c.repeat(64),
});

function site(siteId: string, overrides: Partial<TrustedSiteRecord> = {}): TrustedSiteRecord {
  return {
    siteId,
    name: `Site ${siteId}`,
    url: `https://${siteId}.example`,
    escrowKey: key('a'),
    signingKey: key('b'),
    trustedAt: at(1),
    trustedBy: 'admin',
    lastContactAt: at(1),
    reachable: true,
    refusedFingerprint: null,
    ...overrides,
  };
}

/** The sites a site trusts (MS-1): pinned as stored, one per site ID and per address. */
export function trustedSitesContract(c: Contract): void {
  describe('TrustedSiteRepository', () => {
    c.test('keeps a trusted site as pinned, found by ID and by exact address', async () => {
      const { trustedSites } = c.repos();
      await trustedSites.insert(site('osaka', { name: 'Osaka', trustedBy: null, reachable: null }));
      await trustedSites.insert(site('kyoto', { name: 'Kyoto', lastContactAt: null }));
      expect(await trustedSites.find('osaka')).toEqual(
        site('osaka', { name: 'Osaka', trustedBy: null, reachable: null }),
      );
      expect((await trustedSites.findByUrl('https://kyoto.example'))?.siteId).toBe('kyoto');
      expect(await trustedSites.findByUrl('https://kyoto.example/')).toBeUndefined();
      expect((await trustedSites.list()).map((s) => s.name)).toEqual(['Kyoto', 'Osaka']);
    });

    c.test('refuses a second site with the same ID or the same address', async () => {
      const { trustedSites } = c.repos();
      await trustedSites.insert(site('osaka'));
      await expect(
        trustedSites.insert(site('osaka', { url: 'https://other.example' })),
      ).rejects.toThrow();
      await expect(
        trustedSites.insert(site('other', { url: 'https://osaka.example' })),
      ).rejects.toThrow();
      expect(await trustedSites.list()).toHaveLength(1);
    });

    c.test('records contacts without touching the pins, and removes a site once', async () => {
      const { trustedSites } = c.repos();
      await trustedSites.insert(site('osaka'));
      await trustedSites.recordContact('osaka', { reachable: false });
      await trustedSites.recordContact('osaka', { refusedFingerprint: 'c'.repeat(64) });
      expect(await trustedSites.find('osaka')).toEqual(
        site('osaka', { reachable: false, refusedFingerprint: 'c'.repeat(64) }),
      );
      await trustedSites.recordContact('osaka', {
        lastContactAt: at(9),
        reachable: true,
        refusedFingerprint: null,
      });
      expect(await trustedSites.find('osaka')).toEqual(site('osaka', { lastContactAt: at(9) }));
      expect(await trustedSites.remove('osaka')).toBe(true);
      expect(await trustedSites.remove('osaka')).toBe(false);
      expect(await trustedSites.find('osaka')).toBeUndefined();
    });

    c.test('commits a trust with the work of its transaction, or not at all', async () => {
      const { trustedSites } = c.repos();
      await trustedSites.atomically((tx) => tx.sites.insert(site('osaka')));
      await expect(
        trustedSites.atomically(async (tx) => {
          await tx.sites.insert(site('kyoto'));
          throw new Error('the audit entry could not be written');
        }),
      ).rejects.toThrow('could not be written');
      expect((await trustedSites.list()).map((s) => s.siteId)).toEqual(['osaka']);
    });
  });
}
