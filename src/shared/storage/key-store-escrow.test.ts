import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  computeChunkId,
  exportRawKey,
  generateChunkIdKey,
  generateDataKey,
  toNonExtractable,
} from '@/core/crypto';
import {
  closeKeyStore,
  deleteChunkIdKey,
  deletePendingDataKey,
  getChunkIdKeyForEscrow,
  getPendingDataKey,
  putChunkIdKeyEscrowCopy,
  putPendingDataKey,
  unwrapPendingDataKey,
  wipeAllKeys,
} from './key-store';

describe('escrow copies in the key store (BK-8, BK-9)', () => {
  afterEach(async () => {
    await wipeAllKeys();
    await closeKeyStore();
  });

  it('keeps a chunk-ID key wrapped and gives it back extractable only for sealing', async () => {
    const original = await generateChunkIdKey({ extractable: true });
    await putChunkIdKeyEscrowCopy('ext4:1', original);
    await closeKeyStore();
    const copy = await getChunkIdKeyForEscrow('ext4:1');
    expect(copy?.extractable).toBe(true);
    expect(await exportRawKey(copy!)).toEqual(await exportRawKey(original));
    const data = new Uint8Array([1, 2, 3]);
    expect(await computeChunkId(copy!, data)).toEqual(await computeChunkId(original, data));
    await deleteChunkIdKey('ext4:1');
    expect(await getChunkIdKeyForEscrow('ext4:1')).toBeUndefined();
  });

  it('keeps a pending data key until the site confirms its generation, then drops it', async () => {
    const original = await generateDataKey({ extractable: true });
    await putPendingDataKey('ext4:1', 2, 5, original, await toNonExtractable(original));
    const stored = await getPendingDataKey('ext4:1', 2);
    expect(stored).toMatchObject({ volumeId: 'ext4:1', generation: 2, epoch: 5 });
    expect(stored!.key.extractable).toBe(false);
    expect(await exportRawKey(await unwrapPendingDataKey(stored!))).toEqual(
      await exportRawKey(original),
    );
    await expect(putPendingDataKey('ext4:1', 3, 6, original, original)).rejects.toThrow(
      /extractable/,
    );
    await deletePendingDataKey('ext4:1', 2);
    expect(await getPendingDataKey('ext4:1', 2)).toBeUndefined();
  });
});
