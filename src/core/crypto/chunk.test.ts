import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes';
import {
  ciphertextHash,
  computeChunkId,
  decryptChunk,
  encryptChunk,
  parseChunkBlobHeader,
  sameBytes,
  sealChunk,
  verifyAfterEncrypt,
  type ChunkContext,
} from './chunk';
import { BLOB_HEADER_LENGTH, BLOB_NONCE_OFFSET, BLOB_OVERHEAD, NONCE_LENGTH } from './constants';
import { MalformedBlobError, TamperedChunkError } from './errors';
import { generateChunkIdKey, generateDataKey } from './keys';

const volumeId = 'ext4:3f1b2c4d-0000-4000-8000-00000000abcd';

async function setup(plaintext = new TextEncoder().encode('a chunk of an image')) {
  const chunkIdKey = await generateChunkIdKey();
  const dataKey = await generateDataKey();
  const chunkId = await computeChunkId(chunkIdKey, plaintext);
  const context: ChunkContext = { volumeId, chunkId, epoch: 3 };
  return { chunkIdKey, dataKey, chunkId, context, plaintext };
}

function failureOf(error: unknown): string {
  expect(error).toBeInstanceOf(TamperedChunkError);
  return (error as TamperedChunkError).failure;
}

describe('chunk blobs (BK-6)', () => {
  it('round-trips and writes the documented layout', async () => {
    const { chunkIdKey, dataKey, chunkId, context, plaintext } = await setup();
    const blob = await encryptChunk(plaintext, dataKey, context);
    expect(blob.length).toBe(plaintext.length + BLOB_OVERHEAD);
    expect(new TextDecoder().decode(blob.subarray(0, 4))).toBe('CSTC');
    const header = parseChunkBlobHeader(blob);
    expect(header).toMatchObject({ version: 1, epoch: 3 });
    expect(header.nonce.length).toBe(NONCE_LENGTH);
    const opened = await decryptChunk(blob, { ...context, dataKey, chunkIdKey });
    expect(opened).toEqual(plaintext);
    expect(chunkId.length).toBe(32);
  });

  it('uses a fresh random nonce for every one of 10 000 encryptions under one key', async () => {
    const { dataKey, context } = await setup();
    const plaintext = new Uint8Array(16);
    const nonces = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const blob = await encryptChunk(plaintext, dataKey, context);
      nonces.add(toHex(blob.subarray(BLOB_NONCE_OFFSET, BLOB_HEADER_LENGTH)));
    }
    expect(nonces.size).toBe(10_000);
  });

  it('gives equal plaintexts of a volume equal chunk IDs, and other volumes other IDs', async () => {
    const a = await generateChunkIdKey();
    const b = await generateChunkIdKey();
    const data = new Uint8Array(1000).fill(9);
    expect(toHex(await computeChunkId(a, data))).toBe(toHex(await computeChunkId(a, data.slice())));
    expect(toHex(await computeChunkId(a, data))).not.toBe(toHex(await computeChunkId(b, data)));
  });

  it('binds the blob to volume ID, chunk ID and epoch (AAD)', async () => {
    const { chunkIdKey, dataKey, context, plaintext } = await setup();
    const blob = await encryptChunk(plaintext, dataKey, context);
    const other = { ...context, dataKey, chunkIdKey };
    const attempts = [
      decryptChunk(blob, { ...other, volumeId: 'ext4:another' }),
      decryptChunk(blob, { ...other, chunkId: new Uint8Array(32) }),
    ];
    for (const attempt of attempts) {
      expect(failureOf(await attempt.catch((e: unknown) => e))).toBe('aead');
    }
    // Same key, header rewritten to claim another epoch: the AAD no longer matches.
    const relabelled = blob.slice();
    new DataView(relabelled.buffer).setUint32(5, 4);
    const error = await decryptChunk(relabelled, { ...other, epoch: 4 }).catch((e: unknown) => e);
    expect(failureOf(error)).toBe('aead');
    expect((error as Error).message).toMatch(/tampered/);
  });

  it('rejects a blob whose plaintext is not the chunk its ID names', async () => {
    const { chunkIdKey, dataKey, plaintext } = await setup();
    const wrongId = await computeChunkId(chunkIdKey, new TextEncoder().encode('something else'));
    const context = { volumeId, chunkId: wrongId, epoch: 1 };
    // An encryptor holding the data key but lying about the ID is caught by the HMAC check.
    const blob = await encryptChunk(plaintext, dataKey, context);
    const error = await decryptChunk(blob, { ...context, dataKey, chunkIdKey }).catch((e) => e);
    expect(failureOf(error)).toBe('chunk-id');
  });

  it('reports truncated blobs and foreign bytes with typed errors', async () => {
    const { chunkIdKey, dataKey, context, plaintext } = await setup();
    const blob = await encryptChunk(plaintext, dataKey, context);
    const params = { ...context, dataKey, chunkIdKey, chunkIndex: 7 };
    for (const length of [0, 1, BLOB_HEADER_LENGTH, BLOB_OVERHEAD - 1]) {
      const error = await decryptChunk(blob.subarray(0, length), params).catch((e) => e);
      expect(failureOf(error)).toBe('length');
      expect((error as Error).message).toMatch(/Chunk 7 \([0-9a-f]{64}\) was tampered/);
    }
    const cut = await decryptChunk(blob.subarray(0, blob.length - 1), params).catch((e) => e);
    expect(failureOf(cut)).toBe('aead');
    expect(() => parseChunkBlobHeader(new Uint8Array(BLOB_OVERHEAD))).toThrow(MalformedBlobError);
    const wrongKey = await generateDataKey();
    const error = await decryptChunk(blob, { ...params, dataKey: wrongKey }).catch((e) => e);
    expect(failureOf(error)).toBe('aead');
  });

  it('verifies after encryption and catches a bit flipped before storage', async () => {
    const { dataKey, context, plaintext } = await setup();
    const blob = await encryptChunk(plaintext, dataKey, context);
    await expect(verifyAfterEncrypt(blob, plaintext, dataKey, context)).resolves.toBeUndefined();
    const flipped = blob.slice();
    flipped[BLOB_HEADER_LENGTH]! ^= 1;
    await expect(verifyAfterEncrypt(flipped, plaintext, dataKey, context)).rejects.toThrow(
      TamperedChunkError,
    );
    const changed = plaintext.slice();
    changed[0]! ^= 1;
    await expect(verifyAfterEncrypt(blob, changed, dataKey, context)).rejects.toThrow(
      TamperedChunkError,
    );
  });

  it('catches a change in any byte of a chunk-sized plaintext after encryption, aligned or not', async () => {
    const plaintext = new Uint8Array(4099).map((_, i) => (i * 7) & 0xff);
    const { dataKey, context } = await setup(plaintext);
    const blob = await encryptChunk(plaintext, dataKey, context);
    for (const at of [0, 1, 2048, 4095, 4096, 4098]) {
      const changed = plaintext.slice();
      changed[at]! ^= 0x80;
      await expect(verifyAfterEncrypt(blob, changed, dataKey, context)).rejects.toThrow(
        TamperedChunkError,
      );
    }
    // The same bytes at an offset that is not a multiple of 4.
    const shifted = new Uint8Array(plaintext.length + 1).subarray(1);
    shifted.set(plaintext);
    await expect(verifyAfterEncrypt(blob, shifted, dataKey, context)).resolves.toBeUndefined();
    shifted[4097]! ^= 1;
    await expect(verifyAfterEncrypt(blob, shifted, dataKey, context)).rejects.toThrow(
      TamperedChunkError,
    );
  });

  it('compares bytes word by word and byte by byte alike', () => {
    const a = new Uint8Array(4103).map((_, i) => i & 0xff);
    expect(sameBytes(a, a.slice())).toBe(true);
    expect(sameBytes(a, a.subarray(0, 4102))).toBe(false);
    expect(sameBytes(a.subarray(1), a.slice(1))).toBe(true);
    for (const at of [0, 3, 4, 4099, 4100, 4102]) {
      const b = a.slice();
      b[at]! ^= 1;
      expect(sameBytes(a, b)).toBe(false);
      expect(sameBytes(a.subarray(1), b.subarray(1))).toBe(at === 0);
    }
    expect(sameBytes(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });

  it('seals a chunk into blob and index entry in one call', async () => {
    const { chunkIdKey, dataKey, plaintext } = await setup();
    const sealed = await sealChunk(plaintext, { volumeId, epoch: 2, chunkIdKey, dataKey });
    expect(sealed.chunkId).toMatch(/^[0-9a-f]{64}$/);
    expect(sealed.ciphertextSha256).toBe(await ciphertextHash(sealed.blob));
    expect(sealed.length).toBe(plaintext.length);
    const opened = await decryptChunk(sealed.blob, {
      volumeId,
      chunkId: fromHex(sealed.chunkId),
      epoch: 2,
      dataKey,
      chunkIdKey,
    });
    expect(opened).toEqual(plaintext);
  });
});
