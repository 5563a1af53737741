/**
 * Builds complete backups in memory for tests: keys, sealed chunks and a
 * signed manifest, exactly as the backup pipeline does (BK-6), but in one
 * call and with optional small chunks and key rotation.
 */

import { sealChunk } from '../chunk';
import { splitIntoChunks } from '../chunking';
import { CHUNK_SIZE } from '../constants';
import { generateDeviceKeyPair, publicKeyFingerprint } from '../device-key';
import { ImageHash } from '../image-hash';
import { generateChunkIdKey, generateDataKey, type VolumeKeys } from '../keys';
import { buildManifest, manifestHash, signManifest } from '../manifest';
import type { ChunkEntry, ManifestSecret, SignedManifest } from '../manifest-schema';

export interface BackupFixture {
  readonly keys: VolumeKeys & { readonly dataKeys: Map<number, CryptoKey> };
  readonly deviceKeyPair: CryptoKeyPair;
  readonly manifest: SignedManifest;
  readonly secret: ManifestSecret;
  /** Blobs by chunk ID hex. */
  readonly blobs: Map<string, Uint8Array<ArrayBuffer>>;
  readonly image: Uint8Array;
}

export interface BackupOptions {
  readonly volumeId?: string;
  readonly chunkSize?: number;
  /** Start a new epoch (new data key) after this many chunks (RC-4). */
  readonly rotateEvery?: number;
  readonly firstEpoch?: number;
  readonly generation?: number;
  readonly previous?: SignedManifest;
  /** Reuse keys and device of an earlier backup of the same volume. */
  readonly reuse?: Pick<BackupFixture, 'keys' | 'deviceKeyPair'>;
  readonly fileName?: string;
}

/** Random bytes of any length (getRandomValues takes at most 64 KiB per call). */
export function randomImage(length: number): Uint8Array<ArrayBuffer> {
  const image = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65_536) {
    crypto.getRandomValues(image.subarray(offset, Math.min(length, offset + 65_536)));
  }
  return image;
}

export async function makeBackup(
  image: Uint8Array,
  options: BackupOptions = {},
): Promise<BackupFixture> {
  const volumeId = options.volumeId ?? 'iso9660:TEST_VOLUME:2026-11-21-13-30-00-00';
  const chunkSize = options.chunkSize ?? CHUNK_SIZE;
  const deviceKeyPair = options.reuse?.deviceKeyPair ?? (await generateDeviceKeyPair());
  const chunkIdKey =
    options.reuse?.keys.chunkIdKey ?? (await generateChunkIdKey({ extractable: true }));
  const dataKeys = new Map<number, CryptoKey>(options.reuse?.keys.dataKeys ?? []);
  let epoch = options.firstEpoch ?? (dataKeys.size ? Math.max(...dataKeys.keys()) + 1 : 1);
  dataKeys.set(epoch, await generateDataKey({ extractable: true }));

  const blobs = new Map<string, Uint8Array<ArrayBuffer>>();
  const chunks: ChunkEntry[] = [];
  const hash = await ImageHash.create();
  let position = 0;
  for (const plaintext of splitIntoChunks(image, chunkSize)) {
    if (options.rotateEvery && position > 0 && position % options.rotateEvery === 0) {
      epoch += 1;
      dataKeys.set(epoch, await generateDataKey({ extractable: true }));
    }
    const sealed = await sealChunk(plaintext, {
      volumeId,
      epoch,
      chunkIdKey,
      dataKey: dataKeys.get(epoch)!,
    });
    hash.update(plaintext);
    // An equal chunk reuses the blob made first, as the backup pipeline does.
    const earlier = chunks.find((entry) => entry.chunkId === sealed.chunkId);
    if (earlier) {
      chunks.push(earlier);
      position += 1;
      continue;
    }
    blobs.set(sealed.chunkId, sealed.blob);
    chunks.push({
      chunkId: sealed.chunkId,
      ciphertextSha256: sealed.ciphertextSha256,
      length: sealed.length,
      epoch: sealed.epoch,
    });
    position += 1;
  }
  const secret: ManifestSecret = {
    imageSha256: hash.digestHex(),
    fileName: options.fileName ?? 'test.iso',
    size: image.length,
  };
  const generation =
    options.generation ?? (options.previous ? options.previous.index.generation + 1 : 1);
  const unsigned = await buildManifest(
    {
      volumeId,
      generation,
      previousManifestHash: options.previous ? await manifestHash(options.previous) : null,
      chunkSize,
      chunks,
      deviceKeyFingerprint: await publicKeyFingerprint(deviceKeyPair.publicKey),
    },
    secret,
    { dataKey: dataKeys.get(epoch)!, epoch },
  );
  const manifest = await signManifest(unsigned, deviceKeyPair.privateKey);
  return {
    keys: { volumeId, chunkIdKey, dataKeys },
    deviceKeyPair,
    manifest,
    secret,
    blobs,
    image,
  };
}
