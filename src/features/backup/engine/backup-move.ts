/**
 * A volume is not hostage to one browser: when its owner backs it up from a
 * browser that has no key of it (another computer, or this one cleared), the
 * sites that keep its keys hand this browser's device key the volume's
 * chunk-ID key (docs/FORMAT.md "Moving a volume to another device"). Each
 * site checks that the caller owns the volume and that the request is signed
 * by a device key registered to them, and audits the move. No data key
 * comes back: the new generation starts a new epoch with a new data key, and
 * is differential against what the sites already hold, because equal chunks
 * get equal chunk IDs. With keys split k-of-n, k sites each pass on their
 * share and the key is rebuilt here. No Vue here.
 */

import type { Claim, P256PublicJwk, VolumeMove } from '@/core/contract';
import {
  combineReleases,
  exportEnvelopePublicKeyJwk,
  generateEnvelopeKeyPair,
  manifestHash,
  MalformedEnvelopeError,
  openEnvelope,
  openSiteRelease,
  signVolumeMove,
  toNonExtractable,
  wipeRelease,
  type SiteRelease,
} from '@/core/crypto';
import {
  putChunkIdKey,
  putChunkIdKeyEscrowCopy,
  type DeviceKeyRecord,
} from '@/shared/storage/key-store';
import { BackupError } from './backup-errors';
import type { ShareSite } from './backup-escrow';
import { registerDeviceKey } from './backup-keys';
import type { BackupSite } from './backup-site';

export interface MoveDeps {
  readonly site: BackupSite;
  /** The other sites this console is signed in at, for keys split across sites. */
  readonly shareSites?: (siteIds: readonly string[]) => readonly ShareSite[];
  readonly deviceLabel: string;
}

/**
 * Brings the volume's chunk-ID key to this browser from the sites, for the
 * generation after `claim`'s previous one, and keeps it as a generation-1
 * browser keeps it (non-extractable, with a wrapped escrow copy).
 */
export async function moveVolumeHere(
  deps: MoveDeps,
  volumeId: string,
  claim: Claim,
  device: DeviceKeyRecord,
): Promise<void> {
  const generation = claim.nextGeneration - 1;
  const ephemeral = await generateEnvelopeKeyPair();
  const jwk = await exportEnvelopePublicKeyJwk(ephemeral.publicKey);
  const ephemeralPublicKey: P256PublicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
  const statement = {
    volumeId,
    generation,
    deviceFingerprint: device.fingerprint,
    ephemeralPublicKey,
  };
  const body = { ...statement, signature: await signVolumeMove(device.privateKey, statement) };
  const expected = { purpose: 'move' as const, volumeId, generation };

  const home = await deps.site.moveVolume(volumeId, body);
  let key: CryptoKey;
  try {
    ({
      keys: { chunkIdKey: key },
    } = await openEnvelope(home.envelope, ephemeral.privateKey, expected, { extractable: true }));
  } catch (error) {
    if (!(error instanceof MalformedEnvelopeError)) throw error;
    key = await fromShares(deps, volumeId, claim, device, home, ephemeral.privateKey, body);
  }
  await putChunkIdKeyEscrowCopy(volumeId, key);
  await putChunkIdKey(volumeId, await toNonExtractable(key));
}

/** Keys split k-of-n: the home site's share and those of the other sites the signed index names. */
async function fromShares(
  deps: MoveDeps,
  volumeId: string,
  claim: Claim,
  device: DeviceKeyRecord,
  home: VolumeMove,
  privateKey: CryptoKey,
  body: Parameters<BackupSite['moveVolume']>[1],
): Promise<CryptoKey> {
  const generation = body.generation;
  const expected = { purpose: 'move' as const, volumeId, generation };
  const remote = await deps.site.generationManifest(volumeId, generation);
  const escrow = remote.manifest.index.escrow;
  if ((await manifestHash(remote.manifest)) !== claim.previousManifestHash || !escrow) {
    throw new BackupError('volume_move_short', 'The site sent another signed index.', {
      sharesReceived: 0,
      sharesNeeded: escrow?.threshold ?? 1,
      sites: '',
    });
  }
  const homeSiteId = escrow.sites[0]!.siteId;
  const releases: SiteRelease[] = [
    await openSiteRelease(homeSiteId, home.envelope, privateKey, expected),
  ];
  const others = deps.shareSites?.(escrow.sites.slice(1).map((s) => s.siteId)) ?? [];
  const missing: string[] = [];
  await Promise.all(
    others.map(async (other) => {
      try {
        await registerDeviceKey(other.site, device, deps.deviceLabel);
        const answer = await other.site.moveVolume(volumeId, body);
        releases.push(await openSiteRelease(other.siteId, answer.envelope, privateKey, expected));
      } catch {
        missing.push(other.name);
      }
    }),
  );
  const unknown = escrow.sites
    .slice(1)
    .filter((s) => !others.some((o) => o.siteId === s.siteId))
    .map((s) => s.siteId);
  try {
    const combined = await combineReleases(
      releases,
      {
        volumeId,
        threshold: escrow.threshold,
        sites: escrow.sites.map((s) => s.siteId),
        epochs: [],
      },
      { extractable: true },
    );
    return combined.keys.chunkIdKey;
  } catch {
    throw new BackupError('volume_move_short', 'Too few sites passed on their share of the key.', {
      sharesReceived: releases.length,
      sharesNeeded: escrow.threshold,
      sites: [...missing, ...unknown].join(', '),
    });
  } finally {
    releases.forEach(wipeRelease);
  }
}
