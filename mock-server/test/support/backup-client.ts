import { createHash, randomUUID } from 'node:crypto';
import {
  type Claim,
  type GenerationManifest,
  type KeyRelease,
  type SiteInfo,
  type TransferAck,
} from '../../../src/core/contract';
import { canonicalJson, type JsonValue } from '../../../src/core/crypto/canonical-json';
import { CHUNK_SIZE } from '../../../src/core/crypto/constants';
import { decryptChunk, sealChunk, type SealedChunk } from '../../../src/core/crypto/chunk';
import { fromBase64Url, fromHex, utf8 } from '../../../src/core/crypto/bytes';
import {
  exportPublicKeySpki,
  generateDeviceKeyPair,
  importSigningPublicKeySpki,
  publicKeyFingerprint,
} from '../../../src/core/crypto/device-key';
import {
  generateEnvelopeKeyPair,
  exportEnvelopePublicKeyJwk,
} from '../../../src/core/crypto/envelope-key';
import { openEnvelope, sealEnvelope } from '../../../src/core/crypto/envelope';
import { generateChunkIdKey, generateDataKey } from '../../../src/core/crypto/keys';
import {
  buildManifest,
  manifestHash,
  openManifestSecret,
  signManifest,
  verifyManifestSignature,
} from '../../../src/core/crypto/manifest';
import type { ReleasePolicy } from '../../../src/core/crypto/release-policy';
import type { Receipt } from '../../../src/core/crypto/receipt';
import { encodeTransfer, type TransferHeader } from '../../../src/core/transfer/frame';
import {
  createRegistrationFile,
  type RegistrationFile,
} from '../../../src/core/crypto/registration';
import type { Client, HttpAnswer } from './test-site';

/**
 * What a browser does to back up and restore, written with the core library
 * over the real HTTP API: the server tests use it to drive whole flows.
 */
export interface Operator {
  readonly userId: string;
  readonly client: Client;
  readonly device: CryptoKeyPair;
  readonly fingerprint: string;
  /** Chunk-ID keys of this operator's volumes (kept on the device, SPEC §2). */
  readonly chunkIdKeys: Map<string, CryptoKey>;
}

export async function newOperator(client: Client, userId = 'operator'): Promise<Operator> {
  const device = await generateDeviceKeyPair();
  const { kty, crv, x, y } = await globalThis.crypto.subtle.exportKey('jwk', device.publicKey);
  const answer = await client.request('POST', '/api/devices', {
    json: { publicKey: { kty, crv, x, y }, label: 'test' },
  });
  if (answer.status !== 200) throw new Error(`device registration failed: ${answer.text}`);
  return {
    userId,
    client,
    device,
    fingerprint: await publicKeyFingerprint(device.publicKey),
    chunkIdKeys: new Map(),
  };
}

export function randomImage(size: number, seed = 1): Uint8Array {
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

export interface BackupOptions {
  readonly restorers?: readonly string[];
  readonly policy?: Partial<ReleasePolicy>;
  /** Send transfers in this order of their positions (default: in order). */
  readonly deliveryOrder?: (count: number) => number[];
  /** Leave the n-th chunk out of the transfers while the manifest still lists it. */
  readonly omitChunk?: number;
  /** MS-3: a copy whose keys the site with this ID escrows: no epoch key goes to this site. */
  readonly keysAt?: string;
}

export interface BackupResult {
  readonly claim: Claim;
  readonly receipt: Receipt;
  readonly sentChunks: number;
  readonly acks: TransferAck[];
}

export const enc = encodeURIComponent;

export async function putTransfer(
  client: Client,
  pairId: string,
  seq: number,
  header: TransferHeader,
  payload: Uint8Array,
): Promise<HttpAnswer> {
  const body = Buffer.from(encodeTransfer(header, payload));
  return client.request('PUT', `/api/pairs/${pairId}/transfers/${seq}`, {
    raw: body,
    headers: {
      'content-type': 'application/octet-stream',
      'x-custodian-body-sha256': createHash('sha256').update(body).digest('hex'),
    },
  });
}

/** Backs up `image` as a new generation of `volumeId`, as the browser does (BK-6, BK-8). */
export async function backUp(
  op: Operator,
  site: SiteInfo,
  volumeId: string,
  image: Uint8Array,
  options: BackupOptions = {},
): Promise<BackupResult> {
  const claimAnswer = await op.client.request('POST', `/api/volumes/${enc(volumeId)}/claim`, {
    json: { resume: false },
  });
  if (claimAnswer.status !== 200)
    throw Object.assign(new Error(`claim refused: ${claimAnswer.text}`), { answer: claimAnswer });
  const claim = claimAnswer.json as Claim;
  let chunkIdKey = op.chunkIdKeys.get(volumeId);
  if (!chunkIdKey) {
    chunkIdKey = await generateChunkIdKey({ extractable: true });
    op.chunkIdKeys.set(volumeId, chunkIdKey);
  }
  const epoch = claim.epochs.length ? Math.max(...claim.epochs) + 1 : 0;
  const dataKey = await generateDataKey({ extractable: true });
  const envelope = await sealEnvelope(
    { volumeId, chunkIdKey, dataKeys: new Map([[epoch, dataKey]]) },
    site.escrowKey.jwk,
    { purpose: 'escrow' },
  );

  const transfers: { header: TransferHeader; payload: Uint8Array }[] =
    options.keysAt === undefined
      ? [{ header: { kind: 'epoch-key', volumeId, epoch }, payload: utf8(envelope) }]
      : [];
  const sealed: SealedChunk[] = [];
  let sentChunks = 0;
  for (
    let offset = 0;
    offset < image.length || (offset === 0 && image.length === 0);
    offset += CHUNK_SIZE
  ) {
    const chunk = await sealChunk(image.subarray(offset, offset + CHUNK_SIZE), {
      volumeId,
      epoch,
      chunkIdKey,
      dataKey,
    });
    const head = await op.client.request(
      'HEAD',
      `/api/volumes/${enc(volumeId)}/chunks/${chunk.chunkId}`,
    );
    if (head.status === 200) {
      sealed.push({
        ...chunk,
        ciphertextSha256: String(head.headers['x-custodian-ciphertext-sha256']),
        epoch: Number(head.headers['x-custodian-chunk-epoch']),
      });
    } else if (
      !transfers.some((t) => t.header.kind === 'chunk' && t.header.chunkId === chunk.chunkId)
    ) {
      transfers.push({
        header: { kind: 'chunk', volumeId, chunkId: chunk.chunkId },
        payload: chunk.blob,
      });
      sealed.push(chunk);
      sentChunks++;
    } else {
      sealed.push(sealed.find((s) => s.chunkId === chunk.chunkId)!);
    }
    if (image.length === 0) break;
  }
  const unsigned = await buildManifest(
    {
      volumeId,
      generation: claim.nextGeneration,
      previousManifestHash: claim.previousManifestHash,
      chunks: sealed.map((c) => ({
        chunkId: c.chunkId,
        ciphertextSha256: c.ciphertextSha256,
        length: c.length,
        epoch: c.epoch,
      })),
      deviceKeyFingerprint: op.fingerprint,
    },
    {
      imageSha256: createHash('sha256').update(image).digest('hex'),
      fileName: `${volumeId}.img`,
      size: image.length,
    },
    { dataKey, epoch },
  );
  const manifest = await signManifest(unsigned, op.device.privateKey);
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
      restorers: [op.userId, ...(options.restorers ?? [])],
      policy,
      ...(options.keysAt === undefined ? {} : { keysAt: options.keysAt }),
    } as unknown as JsonValue),
  });

  const firstChunk = options.keysAt === undefined ? 1 : 0;
  if (options.omitChunk !== undefined) transfers.splice(firstChunk + options.omitChunk, 1);
  const order = options.deliveryOrder?.(transfers.length) ?? transfers.map((_, i) => i);
  const acks: TransferAck[] = [];
  let receipt: Receipt | undefined;
  for (const position of order) {
    const t = transfers[position]!;
    const answer = await putTransfer(
      op.client,
      claim.pairId,
      claim.seqApplied + 1 + position,
      t.header,
      t.payload,
    );
    if (answer.status !== 200 && answer.status !== 202) {
      throw Object.assign(new Error(`transfer ${position} refused: ${answer.text}`), { answer });
    }
    const ack = answer.json as TransferAck;
    acks.push(ack);
    if (ack.receipt) receipt = ack.receipt;
  }
  if (!receipt) {
    // The commit was buffered: ask again for it now that everything arrived.
    const last = transfers.length - 1;
    const again = await putTransfer(
      op.client,
      claim.pairId,
      claim.seqApplied + 1 + last,
      transfers[last]!.header,
      transfers[last]!.payload,
    );
    receipt = (again.json as TransferAck).receipt;
  }
  if (!receipt) throw new Error('no receipt after the commit');
  return { claim, receipt, sentChunks, acks };
}

export interface Restored {
  readonly image: Uint8Array;
  readonly release: KeyRelease;
}

export async function requestRelease(
  client: Client,
  volumeId: string,
  generation: number,
  requestId = randomUUID(),
  ephemeral?: CryptoKeyPair,
) {
  const pair = ephemeral ?? (await generateEnvelopeKeyPair());
  const answer = await client.request('POST', `/api/volumes/${enc(volumeId)}/key-release`, {
    json: {
      requestId,
      generation,
      ephemeralPublicKey: await exportEnvelopePublicKeyJwk(pair.publicKey),
    },
  });
  return { answer, pair, requestId };
}

/** Restores a generation as a restorer does (RS-2, RS-5): keys, manifest, chunks, checks. */
export async function restore(client: Client, volumeId: string, generation = 1): Promise<Restored> {
  const { answer, pair } = await requestRelease(client, volumeId, generation);
  if (answer.status !== 200)
    throw Object.assign(new Error(`release refused: ${answer.text}`), { answer });
  const release = answer.json as KeyRelease;
  if (release.state !== 'released') throw new Error(`release is ${release.state}`);
  const { keys } = await openEnvelope(release.envelope, pair.privateKey, {
    purpose: 'release',
    volumeId,
    generation,
  });
  const m = (
    await client.request('GET', `/api/volumes/${enc(volumeId)}/generations/${generation}/manifest`)
  ).json as GenerationManifest;
  await verifyManifestSignature(
    m.manifest,
    await importSigningPublicKeySpki(fromBase64Url(m.devicePublicKey)),
  );
  const secret = await openManifestSecret(m.manifest, keys.dataKeys);
  const parts: Uint8Array[] = [];
  for (const entry of m.manifest.index.chunks) {
    const blob = await client.request(
      'GET',
      `/api/volumes/${enc(volumeId)}/chunks/${entry.chunkId}`,
    );
    if (blob.status !== 200) throw new Error(`chunk ${entry.chunkId} answered ${blob.status}`);
    const bytes = new Uint8Array(blob.body);
    parts.push(
      await decryptChunk(bytes, {
        volumeId,
        chunkId: fromHex(entry.chunkId),
        epoch: entry.epoch,
        dataKey: keys.dataKeys.get(entry.epoch)!,
        chunkIdKey: keys.chunkIdKey,
      }),
    );
  }
  const image = Buffer.concat(parts);
  if (createHash('sha256').update(image).digest('hex') !== secret.imageSha256)
    throw new Error('restored image hash differs');
  return { image: new Uint8Array(image), release };
}

/**
 * An offline registration file (BK-9) of a one-chunk image owned by
 * "operator" with "restorer" named, signed by `signer`'s device key and
 * sealed to `site`'s escrow key.
 */
export async function offlineRegistration(
  site: Pick<SiteInfo, 'siteId' | 'escrowKey'>,
  signer: Pick<Operator, 'device' | 'fingerprint'>,
  volumeId: string,
): Promise<RegistrationFile> {
  const image = randomImage(5000);
  const chunkIdKey = await generateChunkIdKey({ extractable: true });
  const dataKey = await generateDataKey({ extractable: true });
  const { chunkId, ciphertextSha256, length } = await sealChunk(image, {
    volumeId,
    epoch: 0,
    chunkIdKey,
    dataKey,
  });
  const manifest = await signManifest(
    await buildManifest(
      {
        volumeId,
        generation: 1,
        previousManifestHash: null,
        chunks: [{ chunkId, ciphertextSha256, length, epoch: 0 }],
        deviceKeyFingerprint: signer.fingerprint,
      },
      {
        imageSha256: createHash('sha256').update(image).digest('hex'),
        fileName: 'offline.img',
        size: image.length,
      },
      { dataKey, epoch: 0 },
    ),
    signer.device.privateKey,
  );
  return createRegistrationFile({
    siteId: site.siteId,
    owner: 'operator',
    restorers: ['restorer'],
    policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
    manifest,
    keys: { volumeId, chunkIdKey, dataKeys: new Map([[0, dataKey]]) },
    siteEscrowPublicKey: site.escrowKey.jwk,
    deviceKeyPair: signer.device,
  });
}

export { exportPublicKeySpki, manifestHash };
