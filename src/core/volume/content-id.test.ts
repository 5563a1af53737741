/**
 * BK-2 for images no detector recognises, and for bad input: the `content:`
 * ID's exact definition, bounded reads, the two errors, and a property test
 * that arbitrary bytes never make detection throw.
 */
import { createHash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ByteSource, VolumeIdentity, VolumeKind } from './index';
import {
  blobSource,
  CONTENT_WINDOW,
  detectVolumeId,
  EmptyImageError,
  VolumeDetectionError,
  VolumeReadError,
} from './index';

const KiB = 1024;
const MiB = 1024 * KiB;

interface CountingSource extends ByteSource {
  bytesRead: number;
}

function counting(
  size: number,
  bytesAt: (offset: number, length: number) => Uint8Array,
): CountingSource {
  const source: CountingSource = {
    size,
    bytesRead: 0,
    async read(offset, length) {
      source.bytesRead += length;
      return bytesAt(offset, length);
    },
  };
  return source;
}

function memory(bytes: Uint8Array): CountingSource {
  return counting(bytes.length, (offset, length) => bytes.slice(offset, offset + length));
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
function noise(length: number, seed = 0x9e3779b9): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Noise whose boot area is blank, so no boot-sector or superblock signature can appear by chance. */
function unrecognisable(length: number, seed?: number): Uint8Array<ArrayBuffer> {
  const bytes = noise(length, seed);
  bytes.fill(0, 0, Math.min(length, 4096));
  return bytes;
}

/** The definition in content-id.ts, computed independently with node:crypto. */
function expectedContentId(head: Uint8Array, size: number, tail: Uint8Array): string {
  const sizeField = Buffer.alloc(8);
  sizeField.writeBigUInt64BE(BigInt(size));
  const hash = createHash('sha256').update(head).update(sizeField).update(tail).digest('hex');
  return `content:${hash}`;
}

function expectedForBytes(bytes: Uint8Array): string {
  const n = Math.min(MiB, bytes.length);
  return expectedContentId(bytes.subarray(0, n), bytes.length, bytes.subarray(bytes.length - n));
}

describe('content: fallback', () => {
  it('is SHA-256 over first MiB ‖ size (u64 big-endian) ‖ last MiB, windows overlapping below 2 MiB', async () => {
    expect(CONTENT_WINDOW).toBe(MiB);
    const sizes = [1, 511, 512, 2047, 40_000, MiB - 1, MiB, MiB + 1, 2 * MiB - 1, 2 * MiB];
    for (const [i, size] of sizes.entries()) {
      const bytes = unrecognisable(size, i + 1);
      const source = memory(bytes);
      const identity = await detectVolumeId(source);
      expect(identity.kind).toBe('content');
      expect(identity.volumeId).toBe(expectedForBytes(bytes));
      expect(identity.details).toEqual({
        sha256: identity.volumeId.slice('content:'.length),
        size: String(size),
        windowBytes: String(Math.min(MiB, size)),
      });
      // The whole image is read once, plus at most one ISO 9660 descriptor.
      expect(source.bytesRead).toBeLessThanOrEqual(size + 4 * KiB);
    }
  });

  it('hashes each overlapping byte twice for a 1-byte image', async () => {
    const identity = await detectVolumeId(memory(Uint8Array.of(0x41)));
    const message = Uint8Array.of(0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0x41);
    expect(identity.volumeId).toBe(`content:${createHash('sha256').update(message).digest('hex')}`);
  });

  it('reads only the two end windows of a large image, whatever its size', async () => {
    const size = 4 * 1024 * MiB + 123;
    const byteAt = (p: number) =>
      (Math.imul(p >>> 0, 2654435761) >>> 24) ^ (p > 0xffffffff ? 0x5a : 0);
    const bytesAt = (offset: number, length: number) =>
      Uint8Array.from({ length }, (_, i) => (offset + i < 4096 ? 0 : byteAt(offset + i)));
    const source = counting(size, bytesAt);
    const identity = await detectVolumeId(source);
    expect(identity.volumeId).toBe(
      expectedContentId(bytesAt(0, MiB), size, bytesAt(size - MiB, MiB)),
    );
    expect(source.bytesRead).toBeLessThanOrEqual(2 * MiB + 16 * KiB);
  });

  it('gives different IDs to images that differ only in size or only in the middle', async () => {
    const a = unrecognisable(3 * MiB, 7);
    const longer = new Uint8Array(3 * MiB + 1);
    longer.set(a);
    const middle = a.slice();
    middle[Math.floor(1.5 * MiB)]! ^= 0xff;
    const id = async (b: Uint8Array) => (await detectVolumeId(memory(b))).volumeId;
    expect(await id(a)).not.toBe(await id(longer));
    // The middle is outside both windows by design: the ID names the volume, not its content.
    expect(await id(a)).toBe(await id(middle));
  });

  it('falls back for random garbage and for structures cut short', async () => {
    const iso = new Uint8Array(33_000);
    iso.set([1, 0x43, 0x44, 0x30, 0x30, 0x31], 32768);
    const gpt = new Uint8Array(1024);
    gpt.set([0x55, 0xaa], 510);
    gpt[450] = 0xee;
    gpt.set(
      [...'EFI PART'].map((c) => c.charCodeAt(0)),
      512,
    );
    const ext = new Uint8Array(1500);
    ext.set([0x53, 0xef], 1024 + 0x38);
    const zeros512 = new Uint8Array(512);
    zeros512.set([0x55, 0xaa], 510);
    for (const bytes of [noise(64 * KiB), noise(3 * MiB, 99), iso, gpt, ext, zeros512]) {
      const identity = await detectVolumeId(memory(bytes));
      expect(identity.kind).toBe('content');
      expect(identity.volumeId).toBe(expectedForBytes(bytes));
    }
  });
});

describe('bad input', () => {
  it('refuses an empty image with EmptyImageError, reading nothing', async () => {
    const source = memory(new Uint8Array(0));
    const error = await detectVolumeId(source).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmptyImageError);
    expect(error).toBeInstanceOf(VolumeDetectionError);
    expect(error).toMatchObject({
      name: 'EmptyImageError',
      code: 'empty_image',
      message: 'The image is empty (0 bytes): choose a media image file.',
    });
    expect(source.bytesRead).toBe(0);
  });

  it('rejects with VolumeReadError when the source cannot be read, keeping the cause', async () => {
    const cause = new Error('EIO: i/o error');
    const failing: ByteSource = { size: 5 * MiB, read: () => Promise.reject(cause) };
    const error = await detectVolumeId(failing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VolumeReadError);
    expect(error).toMatchObject({ name: 'VolumeReadError', code: 'image_unreadable', cause });
    expect((error as Error).message).toMatch(/^The image could not be read/);
  });

  it('rejects with VolumeReadError when the source delivers fewer bytes than it claims', async () => {
    const shrunk: ByteSource = { size: 5 * MiB, read: async () => new Uint8Array(10) };
    await expect(detectVolumeId(shrunk)).rejects.toMatchObject({
      code: 'image_unreadable',
      message: expect.stringContaining('the file may have changed'),
    });
  });

  it('rejects with VolumeReadError for a size that is not a byte count', async () => {
    for (const size of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const odd: ByteSource = { size, read: async () => new Uint8Array(0) };
      await expect(detectVolumeId(odd)).rejects.toBeInstanceOf(VolumeReadError);
    }
  });
});

describe('blobSource', () => {
  it('slices only the ranges detection asks for and gives the same ID', async () => {
    let sliced = 0;
    class CountingBlob extends Blob {
      override slice(start?: number, end?: number, type?: string): Blob {
        sliced += (end ?? this.size) - (start ?? 0);
        return super.slice(start, end, type);
      }
    }
    const bytes = unrecognisable(5 * MiB, 3);
    const fromBlob = await detectVolumeId(blobSource(new CountingBlob([bytes])));
    expect(fromBlob.volumeId).toBe(expectedForBytes(bytes));
    expect(sliced).toBeLessThanOrEqual(2 * MiB + 16 * KiB);
  });
});

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const FORMS: Record<Exclude<VolumeKind, 'iso9660'>, RegExp> = {
  gpt: new RegExp(`^gpt:${UUID}$`),
  ext2: new RegExp(`^ext2:${UUID}$`),
  ext3: new RegExp(`^ext3:${UUID}$`),
  ext4: new RegExp(`^ext4:${UUID}$`),
  vfat: /^vfat:(?:[^]+:)?[0-9A-F]{4}-[0-9A-F]{4}$/,
  dos: /^dos:[0-9a-f]{8}$/,
  content: /^content:[0-9a-f]{64}$/,
};

function expectWellFormed(identity: VolumeIdentity): void {
  for (const value of Object.values(identity.details)) expect(typeof value).toBe('string');
  if (identity.label !== undefined) {
    expect(identity.label).not.toBe('');
    expect(identity.label).not.toMatch(/[ \t\n\v\f\r]$/);
  }
  // An all-zero identifier counts as absent, so it never appears in an ID.
  const zero = {
    gpt: /:[0-]{36}$/,
    ext2: /:[0-]{36}$/,
    ext3: /:[0-]{36}$/,
    ext4: /:[0-]{36}$/,
    vfat: /:0000-0000$/,
    dos: /:0{8}$/,
  };
  if (identity.kind in zero)
    expect(identity.volumeId).not.toMatch(zero[identity.kind as keyof typeof zero]);
  if (identity.kind === 'iso9660') {
    const { creationDate } = identity.details;
    expect(identity.label !== undefined || creationDate !== undefined).toBe(true);
    expect(creationDate ?? '').toMatch(/^(\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-\d\d)?$/);
    const date = creationDate === undefined ? '' : `:${creationDate}`;
    expect(identity.volumeId).toBe(`iso9660:${identity.label ?? ''}${date}`);
  } else {
    expect(identity.volumeId).toMatch(FORMS[identity.kind]);
  }
}

/** Plants a structure's signature into random bytes so the detectors get past their first check. */
type Plant = (b: Uint8Array, r: Uint8Array) => void;

/** Writes what fits of `values` at `at`; random images may be shorter than the structure. */
function put(b: Uint8Array, values: number[], at: number): void {
  values.forEach((v, i) => {
    if (at + i < b.length) b[at + i] = v;
  });
}
const PLANTS: Record<string, Plant> = {
  none: () => {},
  iso: (b, r) => {
    for (let i = 0; i < 4; i++) {
      put(
        b,
        [r[i]! % 3 === 0 ? 255 : (r[i]! % 2) + 1, 0x43, 0x44, 0x30, 0x30, 0x31],
        32768 + i * 2048,
      );
    }
    const digits = Array.from({ length: 16 }, (_, i) => 0x30 + ((r[i % 8]! + i) % 10));
    put(b, digits, 32768 + 813);
  },
  ext: (b, r) => {
    put(b, [0x53, 0xef], 1024 + 0x38);
    put(b, [r[0]! & 0x1f], 1024 + 0x60);
    put(b, [r[1]! & 0x0f], 1024 + 0x64);
  },
  fat16: (b, r) => {
    put(b, [0xeb, 0x3c, 0x90], 0);
    put(b, [0x00, 0x02, 1 << (r[0]! % 8), 1, 0, 2], 0x0b);
    put(b, [0xf8], 0x15);
    put(b, [0x29], 0x26);
    put(b, [0x55, 0xaa], 510);
  },
  fat32: (b, r) => {
    PLANTS.fat16!(b, r);
    put(b, [0, 0], 0x16);
    put(b, [0, 0], 0x11);
    put(b, [0x29], 0x42);
    put(b, [2, 0, 0, 0], 0x2c);
    put(b, [0, 0], 0x30);
  },
  gpt: (b, r) => {
    put(b, [0x55, 0xaa], 510);
    put(b, [0xee], 450 + 16 * (r[0]! % 4));
    if (b.length < 1024) return;
    // A header whose CRCs are right, so the bounds and entry-array checks are reached.
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const lastLba = Math.floor(b.length / 512) - 1;
    const count = [0, 1, 4, 128, 0x7fffffff][r[1]! % 5]!;
    b.set(
      [...'EFI PART'].map((c) => c.charCodeAt(0)),
      512,
    );
    view.setUint32(512 + 12, 92, true);
    view.setBigUint64(512 + 24, 1n, true);
    view.setBigUint64(512 + 40, BigInt(r[2]! % 40), true);
    view.setBigUint64(512 + 48, BigInt(Math.max(0, lastLba - (r[3]! % 40))), true);
    view.setBigUint64(512 + 72, 2n, true);
    view.setUint32(512 + 80, count, true);
    view.setUint32(512 + 84, r[4]! % 2 === 0 ? 128 : 64, true);
    const array = b.subarray(1024, 1024 + count * 128);
    view.setUint32(512 + 88, zlibCrc32(array), true);
    view.setUint32(512 + 16, 0, true);
    view.setUint32(512 + 16, zlibCrc32(b.subarray(512, 512 + 92)), true);
  },
  mbr: (b) => {
    for (const at of [446, 462, 478, 494]) put(b, [0], at);
    put(b, [0x55, 0xaa], 510);
  },
};

describe('arbitrary bytes', () => {
  it('never make detection throw and always give a well-formed, repeatable ID', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 600 }),
          fc
            .record({ length: fc.integer({ min: 1, max: 70_000 }), seed: fc.integer() })
            .map(({ length, seed }) => noise(length, seed)),
        ),
        fc.constantFrom(...Object.keys(PLANTS)),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        async (random, plant, r) => {
          const bytes = random.slice();
          PLANTS[plant]!(bytes, r);
          const first = await detectVolumeId(memory(bytes));
          expectWellFormed(first);
          expect(await detectVolumeId(memory(bytes))).toEqual(first);
        },
      ),
      { numRuns: 300 },
    );
  });
});
