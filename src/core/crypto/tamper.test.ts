/**
 * RS-5 tamper suite: every way of damaging a stored backup is caught, with
 * its specific typed error, before any of the damaged data is handed out.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, fromHex, toBase64Url, fromBase64Url } from './bytes';
import { decryptChunk } from './chunk';
import { BLOB_HEADER_LENGTH, BLOB_NONCE_OFFSET, CHUNK_SIZE } from './constants';
import {
  BadSignatureError,
  RollbackError,
  TamperedChunkError,
  TamperedImageError,
  type ChunkFailure,
} from './errors';
import {
  checkNotRolledBack,
  manifestHash,
  openManifestSecret,
  parseAndVerifyManifest,
} from './manifest';
import { RestoreVerifier } from './restore-verifier';
import { makeBackup, randomImage, type BackupFixture } from './test-support/backup-fixture';

type Blobs = Map<string, Uint8Array<ArrayBuffer> | undefined>;

/** Restores a backup the way the console does, from `blobs` (default: its own). */
async function restore(
  backup: BackupFixture,
  blobs: Blobs = backup.blobs,
  order?: number[],
): Promise<{ image: Uint8Array; written: Uint8Array[] }> {
  const { manifest, keys } = backup;
  const secret = await openManifestSecret(manifest, keys.dataKeys);
  const verifier = await RestoreVerifier.create(manifest.index, secret, keys);
  const written: Uint8Array[] = [];
  try {
    for (const position of order ?? manifest.index.chunks.map((_, i) => i)) {
      const chunkId = manifest.index.chunks[position]!.chunkId;
      written.push(await verifier.openChunk(position, chunkId, blobs.get(chunkId)));
    }
    verifier.finish();
  } catch (error) {
    Object.assign(error as object, { written });
    throw error;
  }
  return { image: concatBytes(...written), written };
}

async function expectTamper(
  promise: Promise<unknown>,
  failure: ChunkFailure,
  chunkIndex: number | null,
): Promise<TamperedChunkError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TamperedChunkError);
  const tampered = error as TamperedChunkError;
  expect(tampered.failure).toBe(failure);
  if (chunkIndex !== null) expect(tampered.chunkIndex).toBe(chunkIndex);
  expect(tampered.message).toContain('tampered');
  expect(tampered.message).toContain(tampered.chunkId);
  return tampered;
}

function withBlob(
  backup: BackupFixture,
  position: number,
  blob: Uint8Array<ArrayBuffer> | undefined,
): Blobs {
  const blobs: Blobs = new Map(backup.blobs);
  blobs.set(backup.manifest.index.chunks[position]!.chunkId, blob);
  return blobs;
}

function flip(blob: Uint8Array<ArrayBuffer>, offset: number): Uint8Array<ArrayBuffer> {
  const copy = blob.slice();
  copy[offset]! ^= 0x01;
  return copy;
}

describe('tamper suite (RS-5), 5 chunks of 64 bytes', () => {
  let backup: BackupFixture;
  let chunkIds: string[];
  beforeAll(async () => {
    backup = await makeBackup(randomImage(64 * 4 + 10), { chunkSize: 64, rotateEvery: 2 });
    chunkIds = backup.manifest.index.chunks.map((c) => c.chunkId);
  });

  it('restores the untouched backup byte for byte', async () => {
    const { image } = await restore(backup);
    expect(bytesEqual(image, backup.image)).toBe(true);
    expect(chunkIds).toHaveLength(5);
  });

  const regions = {
    nonce: BLOB_NONCE_OFFSET + 3,
    body: BLOB_HEADER_LENGTH + 5,
    tag: -2,
  } as const;

  for (const [region, offset] of Object.entries(regions)) {
    it(`catches a bit flipped in the ${region} of a chunk, against the index and by AEAD`, async () => {
      const original = backup.blobs.get(chunkIds[2]!)!;
      const damaged = flip(original, offset < 0 ? original.length + offset : offset);
      const error = await expectTamper(
        restore(backup, withBlob(backup, 2, damaged)),
        'index-hash',
        2,
      );
      // Nothing of the damaged chunk or after it was handed out.
      expect((error as unknown as { written: Uint8Array[] }).written).toHaveLength(2);
      // Without the index (e.g. a local copy read directly), AES-GCM catches it.
      const entry = backup.manifest.index.chunks[2]!;
      await expectTamper(
        decryptChunk(damaged, {
          volumeId: backup.manifest.index.volumeId,
          chunkId: fromHex(entry.chunkId),
          epoch: entry.epoch,
          dataKey: backup.keys.dataKeys.get(entry.epoch)!,
          chunkIdKey: backup.keys.chunkIdKey,
          chunkIndex: 2,
        }),
        'aead',
        2,
      );
    });
  }

  it('catches two chunks swapped in storage', async () => {
    const blobs: Blobs = new Map(backup.blobs);
    blobs.set(chunkIds[0]!, backup.blobs.get(chunkIds[3]!));
    blobs.set(chunkIds[3]!, backup.blobs.get(chunkIds[0]!));
    await expectTamper(restore(backup, blobs), 'index-hash', 0);
  });

  it('catches chunks delivered out of order', async () => {
    await expectTamper(restore(backup, backup.blobs, [0, 2, 1, 3, 4]), 'order', 2);
  });

  it('catches a dropped chunk, and a restore that stops early', async () => {
    await expectTamper(restore(backup, withBlob(backup, 3, undefined)), 'missing', 3);
    await expectTamper(restore(backup, backup.blobs, [0, 1, 2, 3]), 'missing', 4);
  });

  it('catches a truncated last chunk', async () => {
    const last = backup.blobs.get(chunkIds[4]!)!;
    await expectTamper(
      restore(backup, withBlob(backup, 4, last.slice(0, last.length - 1))),
      'length',
      4,
    );
    await expectTamper(restore(backup, withBlob(backup, 4, last.slice(0, 5))), 'length', 4);
  });

  it('catches a chunk replayed from another volume (same keys, same chunk ID)', async () => {
    const other = await makeBackup(backup.image, {
      chunkSize: 64,
      rotateEvery: 2,
      reuse: backup,
      firstEpoch: 1,
      volumeId: 'gpt:0d3c9a4e-1111-4222-8333-444455556666',
    });
    const foreign = other.blobs.get(chunkIds[1]!)!;
    expect(foreign).toBeDefined();
    await expectTamper(restore(backup, withBlob(backup, 1, foreign)), 'index-hash', 1);
    const entry = backup.manifest.index.chunks[1]!;
    await expectTamper(
      decryptChunk(foreign, {
        volumeId: backup.manifest.index.volumeId,
        chunkId: fromHex(entry.chunkId),
        epoch: entry.epoch,
        dataKey: backup.keys.dataKeys.get(entry.epoch)!,
        chunkIdKey: backup.keys.chunkIdKey,
      }),
      'aead',
      null,
    );
  });

  it('catches a chunk replayed from another epoch', async () => {
    // Chunk 2 is in epoch 2; the same plaintext sealed under epoch 1's key.
    const entry = backup.manifest.index.chunks[2]!;
    expect(entry.epoch).toBe(2);
    const reencrypted = await makeBackup(backup.image, {
      chunkSize: 64,
      reuse: backup,
      firstEpoch: 1,
    });
    const replay = reencrypted.blobs.get(entry.chunkId)!;
    await expectTamper(restore(backup, withBlob(backup, 2, replay)), 'index-hash', 2);
    const params = {
      volumeId: backup.manifest.index.volumeId,
      chunkId: fromHex(entry.chunkId),
      epoch: entry.epoch,
      dataKey: backup.keys.dataKeys.get(entry.epoch)!,
      chunkIdKey: backup.keys.chunkIdKey,
    };
    const error = await expectTamper(decryptChunk(replay, params), 'aead', null);
    expect(error.message).toMatch(/names epoch 1, expected 2/);
    // Relabelling the header to epoch 2 does not help: wrong key and AAD.
    const relabelled = replay.slice();
    new DataView(relabelled.buffer).setUint32(5, 2);
    await expectTamper(decryptChunk(relabelled, params), 'aead', null);
  });

  it('catches an altered index and a forged signature', async () => {
    const altered = structuredClone(backup.manifest);
    [altered.index.chunks[0], altered.index.chunks[1]] = [
      altered.index.chunks[1]!,
      altered.index.chunks[0]!,
    ];
    await expect(parseAndVerifyManifest(altered, backup.deviceKeyPair.publicKey)).rejects.toThrow(
      BadSignatureError,
    );
    const signature = fromBase64Url(backup.manifest.signature);
    signature[10]! ^= 0x80;
    const forged = { ...backup.manifest, signature: toBase64Url(signature) };
    await expect(parseAndVerifyManifest(forged, backup.deviceKeyPair.publicKey)).rejects.toThrow(
      BadSignatureError,
    );
  });

  it('refuses to roll back to an older manifest', async () => {
    const gen2 = await makeBackup(randomImage(64 * 2), {
      chunkSize: 64,
      reuse: backup,
      previous: backup.manifest,
    });
    const known = { generation: 2, manifestHash: await manifestHash(gen2.manifest) };
    await expect(checkNotRolledBack(backup.manifest, known)).rejects.toThrow(RollbackError);
  });

  it('catches an image whose sealed hash does not match (signed by a lying device)', async () => {
    const liar = await makeBackup(backup.image, { chunkSize: 64, reuse: backup, firstEpoch: 3 });
    const secret = await openManifestSecret(liar.manifest, liar.keys.dataKeys);
    const verifier = await RestoreVerifier.create(
      liar.manifest.index,
      { ...secret, imageSha256: '0'.repeat(64) },
      liar.keys,
    );
    for (const [i, entry] of liar.manifest.index.chunks.entries()) {
      await verifier.openChunk(i, entry.chunkId, liar.blobs.get(entry.chunkId));
    }
    expect(() => verifier.finish()).toThrow(TamperedImageError);
  });

  it('resumes an interrupted restore from saved progress', async () => {
    const secret = await openManifestSecret(backup.manifest, backup.keys.dataKeys);
    const first = await RestoreVerifier.create(backup.manifest.index, secret, backup.keys);
    const parts: Uint8Array[] = [];
    for (const i of [0, 1]) {
      const id = chunkIds[i]!;
      parts.push(await first.openChunk(i, id, backup.blobs.get(id)));
    }
    const progress = first.saveProgress();
    const second = await RestoreVerifier.resume(
      backup.manifest.index,
      secret,
      backup.keys,
      progress,
    );
    for (let i = 2; i < chunkIds.length; i++) {
      const id = chunkIds[i]!;
      parts.push(await second.openChunk(i, id, backup.blobs.get(id)));
    }
    expect(second.finish()).toBe(secret.imageSha256);
    expect(bytesEqual(concatBytes(...parts), backup.image)).toBe(true);
  });
});

describe('tamper suite at the real 4 MiB chunk size', () => {
  it('restores 3 chunks of 4 MiB (last one short) and catches one flipped bit', async () => {
    const backup = await makeBackup(randomImage(2 * CHUNK_SIZE + 12_345));
    expect(backup.manifest.index.chunkSize).toBe(CHUNK_SIZE);
    expect(backup.manifest.index.chunks.map((c) => c.length)).toEqual([
      CHUNK_SIZE,
      CHUNK_SIZE,
      12_345,
    ]);
    const { image } = await restore(backup);
    expect(bytesEqual(image, backup.image)).toBe(true);
    const id = backup.manifest.index.chunks[1]!.chunkId;
    const damaged = flip(backup.blobs.get(id)!, BLOB_HEADER_LENGTH + CHUNK_SIZE / 2);
    await expectTamper(restore(backup, withBlob(backup, 1, damaged)), 'index-hash', 1);
  });
});
