import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from './bytes';
import { ImageHash } from './image-hash';

describe('ImageHash (BK-7 resumable SHA-256)', () => {
  it('equals one-shot SHA-256 when saved and restored at any split point', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.nat(), async (data, at) => {
        const split = data.length === 0 ? 0 : at % (data.length + 1);
        const first = await ImageHash.create();
        first.update(data.subarray(0, split));
        const state = first.saveState();
        const resumed = await ImageHash.restore(state);
        expect(resumed.bytesHashed).toBe(split);
        resumed.update(data.subarray(split));
        expect(resumed.digestHex()).toBe(await sha256Hex(data));
      }),
      { numRuns: 60 },
    );
  });

  it('knows the SHA-256 of the empty string (FIPS 180-4)', async () => {
    expect((await ImageHash.create()).digestHex()).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('loads a saved state in place of what it hashed so far', async () => {
    const data = new Uint8Array(1000).map((_, i) => i & 0xff);
    const ahead = await ImageHash.create();
    ahead.update(data.subarray(0, 600));
    const behind = await ImageHash.create();
    behind.update(data.subarray(0, 10));
    expect(behind.load(ahead.saveState()).bytesHashed).toBe(600);
    behind.update(data.subarray(600));
    expect(behind.digestHex()).toBe(await sha256Hex(data));
    expect(() => behind.load(new Uint8Array(5))).toThrow(RangeError);
  });

  it('refuses a state that is not its own', async () => {
    await expect(ImageHash.restore(new Uint8Array(3))).rejects.toThrow(RangeError);
    await expect(ImageHash.restore(new Uint8Array(20))).rejects.toThrow(RangeError);
  });
});
