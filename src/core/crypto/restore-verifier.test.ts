/**
 * RS-5 with parallel decryption (issue #6): chunks opened by
 * openIndexedChunk in any order, then accepted strictly in image order by
 * RestoreVerifier.acceptChunk, give the image whose SHA-256 was sealed, and
 * the order checks still hold.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, sha256Hex } from './bytes';
import { WrongKeyError } from './errors';
import { openManifestSecret } from './manifest';
import { openIndexedChunk, RestoreVerifier } from './restore-verifier';
import { makeBackup, randomImage, type BackupFixture } from './test-support/backup-fixture';

const CHUNK = 1024;
let backup: BackupFixture;

beforeAll(async () => {
  // Three epochs: the pool must open chunks under each epoch's key.
  backup = await makeBackup(randomImage(7 * CHUNK + 300), { chunkSize: CHUNK, rotateEvery: 3 });
});

async function verifier(): Promise<RestoreVerifier> {
  const secret = await openManifestSecret(backup.manifest, backup.keys.dataKeys);
  return RestoreVerifier.create(backup.manifest.index, secret, backup.keys);
}

function chunkAt(position: number) {
  const entry = backup.manifest.index.chunks[position]!;
  return { position, entry, chunkId: entry.chunkId };
}

function openAt(position: number): Promise<Uint8Array<ArrayBuffer>> {
  const chunk = chunkAt(position);
  return openIndexedChunk(backup.keys, chunk, backup.blobs.get(chunk.chunkId));
}

describe('chunks opened out of order, accepted in order', () => {
  it('gives the sealed image across key epochs', async () => {
    const count = backup.manifest.index.chunks.length;
    expect(new Set(backup.manifest.index.chunks.map((c) => c.epoch)).size).toBe(3);
    const backwards = [...Array(count).keys()].reverse();
    const opened = new Map<number, Uint8Array>();
    for (const position of backwards) opened.set(position, await openAt(position));
    const v = await verifier();
    for (let position = 0; position < count; position++) {
      v.acceptChunk(position, chunkAt(position).chunkId, opened.get(position)!);
    }
    const digest = v.finish();
    expect(digest).toBe(await sha256Hex(backup.image));
    expect(concatBytes(...[...Array(count).keys()].map((p) => opened.get(p)!))).toEqual(
      backup.image,
    );
  });

  it('refuses a chunk accepted before its turn', async () => {
    const v = await verifier();
    const second = await openAt(1);
    expect(() => v.acceptChunk(1, chunkAt(1).chunkId, second)).toThrow(
      expect.objectContaining({ name: 'TamperedChunkError', failure: 'order', chunkIndex: 1 }),
    );
    expect(v.nextPosition).toBe(0);
  });

  it('refuses a plaintext given under another chunk ID or of another length', async () => {
    const v = await verifier();
    const first = await openAt(0);
    expect(() => v.acceptChunk(0, chunkAt(1).chunkId, first)).toThrow(/tampered/);
    expect(() => v.acceptChunk(0, chunkAt(0).chunkId, first.subarray(1))).toThrow(
      expect.objectContaining({ failure: 'length', chunkIndex: 0 }),
    );
    expect(() => v.acceptChunk(8, chunkAt(0).chunkId, first)).toThrow(
      expect.objectContaining({ failure: 'order' }),
    );
    v.acceptChunk(0, chunkAt(0).chunkId, first);
    expect(v.nextPosition).toBe(1);
  });
});

describe('openIndexedChunk', () => {
  it('names the chunk of a flipped blob and of a missing one', async () => {
    const chunk = chunkAt(4);
    const flipped = backup.blobs.get(chunk.chunkId)!.slice();
    flipped[flipped.length - 1]! ^= 1;
    await expect(openIndexedChunk(backup.keys, chunk, flipped)).rejects.toMatchObject({
      name: 'TamperedChunkError',
      failure: 'index-hash',
      chunkIndex: 4,
    });
    await expect(openIndexedChunk(backup.keys, chunk, undefined)).rejects.toMatchObject({
      failure: 'missing',
      chunkIndex: 4,
    });
  });

  it('says which epoch has no key', async () => {
    const chunk = chunkAt(7);
    const keys = { ...backup.keys, dataKeys: new Map([...backup.keys.dataKeys].slice(0, 1)) };
    const error = await openIndexedChunk(keys, chunk, backup.blobs.get(chunk.chunkId)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WrongKeyError);
    expect((error as Error).message).toContain(`epoch ${chunk.entry.epoch}`);
  });
});
