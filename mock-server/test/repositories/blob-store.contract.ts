import { describe, expect } from 'vitest';
import { type Contract } from './contract';
import { chunkId } from './fixtures';

const bytes = (...values: number[]) => new Uint8Array(values);

/** Chunk blobs by (volume ID, chunk ID): first writer wins, headers, deletion. */
export function blobStoreContract(c: Contract): void {
  describe('BlobStore', () => {
    c.test('stores a blob once; the first writer wins and later ones hear it exists', async () => {
      const { blobs } = c.repos();
      expect(await blobs.put('vol-1', chunkId(1), bytes(1, 2, 3))).toBe('stored');
      expect(await blobs.put('vol-1', chunkId(1), bytes(9, 9))).toBe('exists');
      expect(await blobs.get('vol-1', chunkId(1))).toEqual(bytes(1, 2, 3));
      expect(await blobs.get('vol-1', chunkId(2))).toBeUndefined();
      // The same chunk ID under another volume is another blob.
      expect(await blobs.get('vol-2', chunkId(1))).toBeUndefined();
      expect(await blobs.put('vol-2', chunkId(1), bytes(4))).toBe('stored');
      expect(await blobs.get('vol-2', chunkId(1))).toEqual(bytes(4));
    });

    c.test('of 20 concurrent writers of one blob, exactly one stores it', async () => {
      const { blobs } = c.repos();
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => blobs.put('vol-1', chunkId(1), bytes(i, i, i))),
      );
      expect(answers.filter((a) => a === 'stored')).toHaveLength(1);
      const winner = answers.indexOf('stored');
      expect(await blobs.get('vol-1', chunkId(1))).toEqual(bytes(winner, winner, winner));
    });

    c.test('reads the head of a blob: its first bytes, or all of a shorter one', async () => {
      const { blobs } = c.repos();
      await blobs.put('vol-1', chunkId(1), bytes(1, 2, 3, 4, 5));
      expect(await blobs.head('vol-1', chunkId(1), 2)).toEqual(bytes(1, 2));
      expect(await blobs.head('vol-1', chunkId(1), 5)).toEqual(bytes(1, 2, 3, 4, 5));
      expect(await blobs.head('vol-1', chunkId(1), 64)).toEqual(bytes(1, 2, 3, 4, 5));
      expect(await blobs.head('vol-1', chunkId(1), 0)).toEqual(bytes());
      expect(await blobs.head('vol-1', chunkId(2), 2)).toBeUndefined();
    });

    c.test('keeps an empty blob as an empty blob', async () => {
      const { blobs } = c.repos();
      expect(await blobs.put('vol-1', chunkId(1), bytes())).toBe('stored');
      expect(await blobs.get('vol-1', chunkId(1))).toEqual(bytes());
      expect(await blobs.head('vol-1', chunkId(1), 4)).toEqual(bytes());
    });

    c.test('deletes a blob, which can then be stored anew; deleting nothing is fine', async () => {
      const { blobs } = c.repos();
      await blobs.put('vol-1', chunkId(1), bytes(1));
      await blobs.put('vol-1', chunkId(2), bytes(2));
      await blobs.delete('vol-1', chunkId(1));
      await blobs.delete('vol-1', chunkId(1));
      await blobs.delete('vol-9', chunkId(1));
      expect(await blobs.get('vol-1', chunkId(1))).toBeUndefined();
      expect(await blobs.get('vol-1', chunkId(2))).toEqual(bytes(2));
      expect(await blobs.put('vol-1', chunkId(1), bytes(7))).toBe('stored');
      expect(await blobs.get('vol-1', chunkId(1))).toEqual(bytes(7));
    });

    c.test('takes any volume ID, even one that looks like a path', async () => {
      const { blobs } = c.repos();
      for (const volumeId of ['', '../..', 'a/b', 'C:\\x', 'ボリューム']) {
        expect(await blobs.put(volumeId, chunkId(1), bytes(volumeId.length))).toBe('stored');
      }
      expect(await blobs.get('../..', chunkId(1))).toEqual(bytes(5));
      expect(await blobs.get('', chunkId(1))).toEqual(bytes(0));
    });

    c.test('refuses a chunk ID that is not 64 lower-case hex digits, in every method', async () => {
      const { blobs } = c.repos();
      for (const bad of ['A'.repeat(64), 'a'.repeat(63), `${'a'.repeat(64)}/`, '../x', '']) {
        await expect(blobs.put('vol-1', bad, bytes(1))).rejects.toThrow('64 lower-case hex');
        await expect(blobs.get('vol-1', bad)).rejects.toThrow('64 lower-case hex');
        await expect(blobs.head('vol-1', bad, 1)).rejects.toThrow('64 lower-case hex');
        await expect(blobs.delete('vol-1', bad)).rejects.toThrow('64 lower-case hex');
      }
    });

    c.test('keeps its own copy: changing the bytes given or returned changes nothing', async () => {
      const { blobs } = c.repos();
      const given = bytes(1, 2, 3);
      await blobs.put('vol-1', chunkId(1), given);
      given[0] = 0;
      const got = (await blobs.get('vol-1', chunkId(1)))!;
      got[1] = 0;
      const head = (await blobs.head('vol-1', chunkId(1), 3))!;
      head[2] = 0;
      expect(await blobs.get('vol-1', chunkId(1))).toEqual(bytes(1, 2, 3));
    });
  });
}
