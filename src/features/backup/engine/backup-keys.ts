/**
 * The keys a backup needs (ID-6, BK-8): this browser's device key for the
 * operator, registered with the site; the site's public keys, checked
 * against their fingerprints and the pins; and the volume's chunk-ID key and
 * the generation's data key.
 */

import type { P256PublicJwk, SiteInfo, SitePublicKey } from '@/core/contract';
import {
  generateChunkIdKey,
  generateDataKey,
  generateDeviceKeyPair,
  importSigningPublicKeyJwk,
  publicKeyFingerprint,
  toNonExtractable,
} from '@/core/crypto';
import {
  getChunkIdKey,
  getChunkIdKeyForEscrow,
  getDeviceKey,
  putChunkIdKey,
  putChunkIdKeyEscrowCopy,
  putDeviceKey,
  putPendingDataKey,
  type DeviceKeyRecord,
} from '@/shared/storage/key-store';
import { checkSitePin } from '@/shared/storage/site-pins';
import type { BackupDatabase } from '@/shared/storage/database';
import { BackupError } from './backup-errors';
import type { BackupSite } from './backup-site';

/** This browser's device key for `userId`, made on first use (ID-6). */
export async function ensureDeviceKey(userId: string): Promise<DeviceKeyRecord> {
  const existing = await getDeviceKey(userId);
  if (existing) return existing;
  const pair = await generateDeviceKeyPair();
  const record: DeviceKeyRecord = {
    userId,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    fingerprint: await publicKeyFingerprint(pair.publicKey),
    createdAt: new Date().toISOString(),
  };
  await putDeviceKey(record);
  return record;
}

export async function publicJwkOf(publicKey: CryptoKey): Promise<P256PublicJwk> {
  const jwk = await globalThis.crypto.subtle.exportKey('jwk', publicKey);
  return { kty: 'EC', crv: 'P-256', x: jwk.x ?? '', y: jwk.y ?? '' };
}

/**
 * Registers the device key with the site. Registering it again is harmless,
 * and doing it at every backup covers a site that lost or never saw it.
 */
export async function registerDeviceKey(
  site: BackupSite,
  device: DeviceKeyRecord,
  label: string,
): Promise<void> {
  await site.registerDevice({ publicKey: await publicJwkOf(device.publicKey), label });
  if (!device.registeredAt) {
    await putDeviceKey({ ...device, registeredAt: new Date().toISOString() });
  }
}

async function fingerprintOf(key: SitePublicKey, algorithm: 'ECDH' | 'ECDSA'): Promise<string> {
  const imported = await globalThis.crypto.subtle.importKey(
    'jwk',
    { ...key.jwk },
    { name: algorithm, namedCurve: 'P-256' },
    true,
    algorithm === 'ECDH' ? [] : ['verify'],
  );
  return publicKeyFingerprint(imported);
}

/**
 * BK-8: the site's keys must be the ones their fingerprints name, and the
 * ones this browser pinned on first contact. Returns the receipt-checking key.
 */
export async function checkSiteKeys(site: SiteInfo, db?: BackupDatabase): Promise<CryptoKey> {
  const escrow = await fingerprintOf(site.escrowKey, 'ECDH').catch(() => null);
  const signing = await fingerprintOf(site.signingKey, 'ECDSA').catch(() => null);
  if (escrow !== site.escrowKey.fingerprint || signing !== site.signingKey.fingerprint) {
    throw new BackupError(
      'site_key_invalid',
      'The site offered public keys that do not match their own fingerprints.',
    );
  }
  const pin = await checkSitePin(site, db);
  if (pin.outcome === 'mismatch') {
    const pinned = pin.which === 'escrow' ? pin.pin.escrowFingerprint : pin.pin.signingFingerprint;
    throw new BackupError(
      'site_key_changed',
      `The site's ${pin.which} key changed since this browser first met the site.`,
      { pinned: pinned.slice(0, 16), offered: pin.offered.slice(0, 16), site: site.name },
    );
  }
  return importSigningPublicKeyJwk(site.signingKey.jwk);
}

/** The keys of one generation being backed up. */
export interface GenerationKeys {
  /** Non-extractable: chunk IDs. */
  readonly chunkIdKey: CryptoKey;
  /** Extractable, only until the epoch key is sealed for the site. */
  readonly chunkIdKeyForEscrow: CryptoKey;
  /** Non-extractable: chunks and the manifest's sealed part. */
  readonly dataKey: CryptoKey;
  /** Extractable, only until the epoch key is sealed for the site. */
  readonly dataKeyForEscrow: CryptoKey;
  readonly epoch: number;
}

/**
 * A new generation's keys: a new volume gets a new chunk-ID key (kept
 * non-extractable here, with a wrapped escrow copy); an owned volume reuses
 * this browser's, unless the owner retires the keys released so far
 * (`retire`: the site's count of releases now), when it gets a new one
 * too, so that no chunk of the generation is one sealed before; every
 * generation gets a new data key and epoch.
 */
export async function makeGenerationKeys(
  volumeId: string,
  generation: number,
  epoch: number,
  retire?: { readonly releases: number },
): Promise<GenerationKeys> {
  let chunkIdKey: CryptoKey | undefined;
  let chunkIdKeyForEscrow: CryptoKey | undefined;
  if (generation === 1 || retire) {
    chunkIdKeyForEscrow = await generateChunkIdKey({ extractable: true });
    chunkIdKey = await toNonExtractable(chunkIdKeyForEscrow);
    await putChunkIdKey(volumeId, chunkIdKey, retire?.releases ?? 0);
    await putChunkIdKeyEscrowCopy(volumeId, chunkIdKeyForEscrow);
  } else {
    chunkIdKey = await getChunkIdKey(volumeId);
    chunkIdKeyForEscrow = await getChunkIdKeyForEscrow(volumeId);
    if (!chunkIdKey || !chunkIdKeyForEscrow) {
      throw new BackupError(
        'chunk_id_key_missing',
        "This volume's chunk-ID key is not on this device.",
        { volumeId },
      );
    }
  }
  const dataKeyForEscrow = await generateDataKey({ extractable: true });
  const dataKey = await toNonExtractable(dataKeyForEscrow);
  await putPendingDataKey(volumeId, generation, epoch, dataKeyForEscrow, dataKey);
  return { chunkIdKey, chunkIdKeyForEscrow, dataKey, dataKeyForEscrow, epoch };
}

/** A new epoch's data key (RC-4) with the volume's chunk-ID key, both ready to escrow. */
export interface EpochKey {
  readonly epoch: number;
  /** Non-extractable: the chunks encrypted from now on. */
  readonly dataKey: CryptoKey;
  /** Extractable, only until it is sealed for the site. */
  readonly dataKeyForEscrow: CryptoKey;
  readonly chunkIdKeyForEscrow: CryptoKey;
}

/**
 * RC-4 rotation: a new data key for `epoch`, kept as the generation's
 * pending key in place of the previous epoch's (whose escrow envelope is
 * already sealed in the outbox) until the site confirms the generation.
 */
export async function makeEpochKey(
  volumeId: string,
  generation: number,
  epoch: number,
): Promise<EpochKey> {
  const chunkIdKeyForEscrow = await getChunkIdKeyForEscrow(volumeId);
  if (!chunkIdKeyForEscrow) {
    throw new BackupError(
      'chunk_id_key_missing',
      "This volume's chunk-ID key is not on this device.",
      { volumeId },
    );
  }
  const dataKeyForEscrow = await generateDataKey({ extractable: true });
  const dataKey = await toNonExtractable(dataKeyForEscrow);
  await putPendingDataKey(volumeId, generation, epoch, dataKeyForEscrow, dataKey);
  return { epoch, dataKey, dataKeyForEscrow, chunkIdKeyForEscrow };
}
