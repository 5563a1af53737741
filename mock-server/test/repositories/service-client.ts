import type { P256PublicJwk } from '../../../src/core/contract';
import { canonicalJson, type JsonValue } from '../../../src/core/crypto/canonical-json';
import { CHUNK_SIZE } from '../../../src/core/crypto/constants';
import { decryptChunk, sealChunk, type SealedChunk } from '../../../src/core/crypto/chunk';
import {
  concatBytes,
  fromBase64Url,
  fromHex,
  randomBytes,
  sha256Hex,
  toBase64Url,
  utf8,
} from '../../../src/core/crypto/bytes';
import {
  generateDeviceKeyPair,
  importSigningPublicKeySpki,
  publicKeyFingerprint,
} from '../../../src/core/crypto/device-key';
import { openEnvelope, sealEnvelope } from '../../../src/core/crypto/envelope';
import {
  exportEnvelopePublicKeyJwk,
  generateEnvelopeKeyPair,
} from '../../../src/core/crypto/envelope-key';
import { generateChunkIdKey, generateDataKey } from '../../../src/core/crypto/keys';
import {
  buildManifest,
  openManifestSecret,
  signManifest,
  verifyManifestSignature,
} from '../../../src/core/crypto/manifest';
import type { Receipt } from '../../../src/core/crypto/receipt';
import type { ReleasePolicy } from '../../../src/core/crypto/release-policy';
import { encodeTransfer, type TransferHeader } from '../../../src/core/transfer/frame';
import type { Caller } from '../../src/domain/escrow/context';
import type { SiteServices } from '../../src/site';

/**
 * What a browser sends to back up and restore (as test/support/backup-client.ts
 * does over HTTP), handed straight to the site's services: no server between.
 */
export interface Device {
  readonly keys: CryptoKeyPair;
  readonly fingerprint: string;
}

function p256(jwk: JsonWebKey): P256PublicJwk {
  return { kty: 'EC', crv: 'P-256', x: jwk.x ?? '', y: jwk.y ?? '' };
}

export async function registerDevice(site: SiteServices, caller: Caller): Promise<Device> {
  const keys = await generateDeviceKeyPair();
  const jwk = await globalThis.crypto.subtle.exportKey('jwk', keys.publicKey);
  const registered = await site.volumes.registerDevice(caller, p256(jwk), 'test device');
  const fingerprint = await publicKeyFingerprint(keys.publicKey);
  if (registered.fingerprint !== fingerprint) throw new Error('the site names another device');
  return { keys, fingerprint };
}

/** A deterministic image of `size` bytes (xorshift), different for each seed. */
export function image(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Backs up `bytes` as the next generation of `volumeId` (BK-6, BK-8, BK-10). */
export async function backUp(
  site: SiteServices,
  caller: Caller,
  device: Device,
  volumeId: string,
  bytes: Uint8Array,
  options: { restorers?: readonly string[]; policy?: Partial<ReleasePolicy> } = {},
): Promise<Receipt> {
  const claim = await site.volumes.claim(caller, volumeId, false);
  const chunkIdKey = await generateChunkIdKey({ extractable: true });
  const epoch = claim.epochs.length ? Math.max(...claim.epochs) + 1 : 0;
  const dataKey = await generateDataKey({ extractable: true });
  const envelope = await sealEnvelope(
    { volumeId, chunkIdKey, dataKeys: new Map([[epoch, dataKey]]) },
    site.info.escrowKey.jwk,
    { purpose: 'escrow' },
  );
  const transfers: { header: TransferHeader; payload: Uint8Array }[] = [
    { header: { kind: 'epoch-key', volumeId, epoch }, payload: utf8(envelope) },
  ];
  const sealed: SealedChunk[] = [];
  for (let offset = 0; offset < bytes.length; offset += CHUNK_SIZE) {
    const chunk = await sealChunk(bytes.subarray(offset, offset + CHUNK_SIZE), {
      volumeId,
      epoch,
      chunkIdKey,
      dataKey,
    });
    sealed.push(chunk);
    transfers.push({
      header: { kind: 'chunk', volumeId, chunkId: chunk.chunkId },
      payload: chunk.blob,
    });
  }
  const manifest = await signManifest(
    await buildManifest(
      {
        volumeId,
        generation: claim.nextGeneration,
        previousManifestHash: claim.previousManifestHash,
        chunks: sealed.map((c) => ({
          chunkId: c.chunkId,
          ciphertextSha256: c.ciphertextSha256,
          length: c.length,
          epoch,
        })),
        deviceKeyFingerprint: device.fingerprint,
      },
      { imageSha256: await sha256Hex(bytes), fileName: `${volumeId}.img`, size: bytes.length },
      { dataKey, epoch },
    ),
    device.keys.privateKey,
  );
  const policy: ReleasePolicy = {
    kind: 'reusable',
    approvalRequired: false,
    expiresAt: null,
    ...options.policy,
  };
  transfers.push({
    header: { kind: 'commit', volumeId },
    payload: canonicalJson({
      manifest,
      restorers: [caller.userId, ...(options.restorers ?? [])],
      policy,
    } as unknown as JsonValue),
  });
  let receipt: Receipt | undefined;
  for (const [i, t] of transfers.entries()) {
    const body = encodeTransfer(t.header, t.payload);
    const answer = await site.transfers.put(
      caller,
      claim.pairId,
      claim.seqApplied + 1 + i,
      body,
      await sha256Hex(body),
    );
    if (answer.httpStatus !== 200) throw new Error(`transfer ${i} was buffered, not applied`);
    receipt = answer.ack.receipt ?? receipt;
  }
  if (!receipt) throw new Error('the commit brought no receipt');
  return receipt;
}

/** Asks for the key and reads every chunk back, checking all as a restorer does (RS-2, RS-5). */
export async function restore(
  site: SiteServices,
  caller: Caller,
  volumeId: string,
  generation = 1,
): Promise<Uint8Array> {
  const ephemeral = await generateEnvelopeKeyPair();
  const release = await site.releases.request(caller, volumeId, {
    requestId: toBase64Url(randomBytes(18)),
    generation,
    ephemeralPublicKey: p256(await exportEnvelopePublicKeyJwk(ephemeral.publicKey)),
  });
  if (release.state !== 'released') throw new Error(`the release is ${release.state}`);
  const { keys } = await openEnvelope(release.envelope, ephemeral.privateKey, {
    purpose: 'release',
    volumeId,
    generation,
  });
  const { manifest, devicePublicKey } = await site.releases.manifest(caller, volumeId, generation);
  await verifyManifestSignature(
    manifest,
    await importSigningPublicKeySpki(fromBase64Url(devicePublicKey)),
  );
  const secret = await openManifestSecret(manifest, keys.dataKeys);
  await site.releases.assertMayRead(caller, volumeId);
  const parts: Uint8Array[] = [];
  for (const entry of manifest.index.chunks) {
    const blob = await site.escrow.blobs.get(volumeId, entry.chunkId);
    if (!blob) throw new Error(`the site lost chunk ${entry.chunkId}`);
    parts.push(
      await decryptChunk(blob, {
        volumeId,
        chunkId: fromHex(entry.chunkId),
        epoch: entry.epoch,
        dataKey: keys.dataKeys.get(entry.epoch)!,
        chunkIdKey: keys.chunkIdKey,
      }),
    );
  }
  const restored = concatBytes(...parts);
  if ((await sha256Hex(restored)) !== secret.imageSha256)
    throw new Error('the restored image does not hash to the manifest');
  return restored;
}
