/**
 * The site's public keys as this browser first met them (BK-8): keys are
 * wrapped to the escrow key and receipts checked with the signing key, so a
 * changed key must stop a backup rather than be trusted silently.
 */

import type { SiteInfo } from '@/core/contract';
import { backupDatabase, type BackupDatabase, type SitePinRecord } from './database';

export type PinCheck =
  | { readonly outcome: 'pinned-now' | 'matches'; readonly pin: SitePinRecord }
  | {
      readonly outcome: 'mismatch';
      readonly pin: SitePinRecord;
      readonly which: 'escrow' | 'signing';
      readonly offered: string;
    };

/**
 * Compares the site's keys with the pin for its site ID, pinning them on
 * first contact. The fingerprints compared must have been checked against
 * the keys themselves by the caller.
 */
export async function checkSitePin(
  site: Pick<SiteInfo, 'siteId' | 'name' | 'escrowKey' | 'signingKey'>,
  db: BackupDatabase = backupDatabase(),
  now: () => Date = () => new Date(),
): Promise<PinCheck> {
  return db.transaction('rw', db.sitePins, async () => {
    const pin = await db.sitePins.get(site.siteId);
    if (!pin) {
      const record: SitePinRecord = {
        siteId: site.siteId,
        siteName: site.name,
        escrowJwk: { ...site.escrowKey.jwk },
        escrowFingerprint: site.escrowKey.fingerprint,
        signingFingerprint: site.signingKey.fingerprint,
        pinnedAt: now().toISOString(),
      };
      await db.sitePins.put(record);
      return { outcome: 'pinned-now', pin: record } as const;
    }
    if (pin.escrowFingerprint !== site.escrowKey.fingerprint) {
      return {
        outcome: 'mismatch',
        pin,
        which: 'escrow',
        offered: site.escrowKey.fingerprint,
      } as const;
    }
    if (pin.signingFingerprint !== site.signingKey.fingerprint) {
      return {
        outcome: 'mismatch',
        pin,
        which: 'signing',
        offered: site.signingKey.fingerprint,
      } as const;
    }
    return { outcome: 'matches', pin } as const;
  });
}
