/**
 * Where an epoch's keys go (BK-8, MS-4): to the home site whole, or, when
 * the operator chose several sites, split k-of-n with one share per site,
 * each sealed to that site's escrow key. The home site's envelope travels in
 * the backup's own stream; every site's is kept in the local copy, sealed,
 * until that site confirms a generation that uses it, so a site that was
 * away is sent the very share made for it and a crash never splits a key
 * twice. No Vue here.
 */

import type { P256PublicJwk, SiteInfo } from '@/core/contract';
import { sealEnvelope, sealToSites, siteFingerprints, type VolumeKeys } from '@/core/crypto';
import type {
  BackupDatabase,
  EscrowPlan,
  EscrowPlanSite,
  GenerationRecord,
} from '@/shared/storage/database';
import type { LocalCopy } from '@/shared/storage/local-copy';
import { BackupError } from './backup-errors';
import { checkSiteKeys } from './backup-keys';
import type { BackupSite } from './backup-site';

type EscrowedGeneration = Pick<GenerationRecord, 'volumeId' | 'generation' | 'siteId' | 'escrow'>;

/** Seals `keys` (extractable) for escrow; returns the home site's envelope. */
export async function sealEpochEscrow(
  localCopy: LocalCopy,
  record: EscrowedGeneration,
  homeEscrowKey: P256PublicJwk,
  keys: VolumeKeys,
): Promise<string> {
  const plan = record.escrow;
  if (!plan) return sealEnvelope(keys, homeEscrowKey, { purpose: 'escrow' });
  const envelopes = await sealToSites(
    keys,
    plan.sites.map((site) => ({ siteId: site.siteId, escrowKey: site.escrowKey })),
    plan.threshold,
    { purpose: 'escrow' },
  );
  const [epoch] = [...keys.dataKeys.keys()];
  await localCopy.putEscrowEnvelopes(
    [...envelopes].map(([siteId, envelope]) => ({
      volumeId: record.volumeId,
      siteId,
      epoch: epoch!,
      generation: record.generation,
      envelope,
    })),
  );
  return envelopes.get(record.siteId)!;
}

/** The home site's envelope of `epoch` made earlier, for a stream rebuilt after a crash. */
export async function keptHomeEnvelope(
  localCopy: LocalCopy,
  record: EscrowedGeneration,
  epoch: number,
): Promise<string> {
  const kept = (await localCopy.escrowEnvelopesFor(record.volumeId, record.siteId)).find(
    (e) => e.epoch === epoch,
  );
  if (!kept) {
    throw new BackupError('chunk_id_key_missing', "This volume's keys are not on this device.", {
      volumeId: record.volumeId,
    });
  }
  return kept.envelope;
}

/** A site the operator chose to keep a share, as this console knows it (MS-1). */
export interface ShareSite {
  readonly siteId: string;
  readonly name: string;
  /** The site fingerprint pinned for it. */
  readonly fingerprint: string;
  readonly site: BackupSite;
}

/**
 * MS-4: the escrow plan of a new volume: the home site first, then each
 * chosen site, every one of them checked to be the site that was pinned, so
 * a share is only ever sealed to a key its fingerprint vouches for.
 */
export async function escrowPlanFor(
  home: BackupSite,
  others: readonly ShareSite[],
  threshold: number,
  db?: BackupDatabase,
): Promise<EscrowPlan> {
  const n = others.length + 1;
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > n) {
    throw new BackupError('threshold_range', 'The number of sites needed is out of range.', {
      n,
    });
  }
  const homeInfo = await home.siteInfo();
  await checkSiteKeys(homeInfo, db);
  const sites: EscrowPlanSite[] = [
    {
      siteId: homeInfo.siteId,
      fingerprint: (await siteFingerprints(homeInfo)).site,
      escrowKey: homeInfo.escrowKey.jwk,
    },
  ];
  for (const other of others) {
    let info: SiteInfo;
    try {
      info = await other.site.siteInfo();
    } catch (error) {
      throw new BackupError(
        'share_site_unreachable',
        'A chosen site cannot be reached, so its share of the keys cannot be sealed to it.',
        { site: other.name },
        { cause: error },
      );
    }
    const presented = await siteFingerprints(info).catch(() => null);
    if (info.siteId !== other.siteId || presented?.site !== other.fingerprint) {
      throw new BackupError('site_key_changed', 'The site is not the one that was pinned.', {
        site: other.name,
        pinned: other.fingerprint.slice(0, 16),
        offered: (presented?.site ?? '').slice(0, 16),
      });
    }
    await checkSiteKeys(info, db);
    sites.push({ siteId: info.siteId, fingerprint: presented.site, escrowKey: info.escrowKey.jwk });
  }
  return { threshold, sites };
}
