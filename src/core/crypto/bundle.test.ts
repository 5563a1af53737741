/**
 * Bundles (FORMAT.md §16): laid out as the format says, read back whole, and
 * a cut-off, lengthened or foreign file named before any key is asked for.
 */

import { describe, expect, it } from 'vitest';
import {
  BUNDLE_HEADER_LENGTH,
  BUNDLE_TRAILER_LENGTH,
  bundleBytes,
  bundleHead,
  bundleLayout,
  readBundle,
  readBundleHeader,
  resumableLength,
} from './bundle';
import { concatBytes } from './bytes';
import { MalformedBundleError } from './errors';
import { serializeManifest } from './manifest';
import { makeBackup, randomImage } from './test-support/backup-fixture';

const CHUNK = 1024;

async function backupWithRepeat() {
  const a = randomImage(CHUNK);
  const b = randomImage(CHUNK);
  // Chunks a, b, a, and a short last one: the repeated chunk is stored once.
  const image = concatBytes(a, b, a, randomImage(100));
  return makeBackup(image, { chunkSize: CHUNK });
}

/** Reads a bundle in memory the way the console reads a file. */
function read(bundle: Uint8Array<ArrayBuffer>) {
  const length = readBundleHeader(bundle.subarray(0, BUNDLE_HEADER_LENGTH), bundle.length);
  return readBundle(
    bundle.slice(BUNDLE_HEADER_LENGTH, BUNDLE_HEADER_LENGTH + length),
    bundle.length,
    bundle.subarray(Math.max(0, bundle.length - BUNDLE_TRAILER_LENGTH)),
  );
}

function failureOf(work: () => unknown): MalformedBundleError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedBundleError);
    return error as MalformedBundleError;
  }
  throw new Error('expected a MalformedBundleError');
}

describe('bundles (FORMAT.md §16)', () => {
  it('lays out the head, each distinct blob once in order of first position, and the trailer', async () => {
    const backup = await backupWithRepeat();
    const bundle = bundleBytes(backup.manifest, backup.blobs);
    const layout = bundleLayout(backup.manifest);
    const manifestBytes = serializeManifest(backup.manifest);

    expect([...bundle.subarray(0, 5)]).toEqual([0x43, 0x53, 0x54, 0x42, 1]);
    expect(new DataView(bundle.buffer).getUint32(5)).toBe(manifestBytes.length);
    expect(layout.blobs.map((blob) => blob.position)).toEqual([0, 1, 3]);
    expect(layout.blobs[0]!.offset).toBe(BUNDLE_HEADER_LENGTH + manifestBytes.length);
    for (const blob of layout.blobs) {
      expect(bundle.subarray(blob.offset, blob.offset + blob.length)).toEqual(
        backup.blobs.get(blob.chunkId),
      );
    }
    expect(bundle.length).toBe(layout.totalLength);
    expect(
      new TextDecoder().decode(bundle.subarray(layout.trailerStart, layout.trailerStart + 4)),
    ).toBe('CSTE');
    expect(new DataView(bundle.buffer).getBigUint64(layout.trailerStart + 4)).toBe(
      BigInt(bundle.length),
    );
    expect(read(bundle).manifest).toEqual(backup.manifest);
  });

  it('names a bundle cut off inside a blob, with the chunk that is not whole', async () => {
    const backup = await backupWithRepeat();
    const bundle = bundleBytes(backup.manifest, backup.blobs);
    const second = bundleLayout(backup.manifest).blobs[1]!;
    const cut = bundle.slice(0, second.offset + 10);
    const error = failureOf(() => read(cut));
    expect(error.failure).toBe('cut-off');
    expect(error.message).toContain('cut off');
    expect(error.message).toContain(`chunk 1 (${second.chunkId})`);
    expect(error.message).toContain(`${bundle.length - cut.length} bytes missing`);
  });

  it('names a bundle that lost only its trailer, and one cut inside its manifest', async () => {
    const backup = await backupWithRepeat();
    const bundle = bundleBytes(backup.manifest, backup.blobs);
    expect(failureOf(() => read(bundle.slice(0, bundle.length - 5))).message).toContain(
      'its trailer is missing',
    );
    const inManifest = failureOf(() => read(bundle.slice(0, 40)));
    expect(inManifest.failure).toBe('cut-off');
    expect(inManifest.message).toContain('inside its manifest');
  });

  it('refuses bytes after the end, a wrong trailer, a foreign file and a damaged manifest', async () => {
    const backup = await backupWithRepeat();
    const bundle = bundleBytes(backup.manifest, backup.blobs);
    const longer = failureOf(() => read(concatBytes(bundle, new Uint8Array(7))));
    expect(longer.failure).toBe('extra-bytes');
    expect(longer.message).toContain('7 bytes after its end');

    const badTrailer = bundle.slice();
    badTrailer[badTrailer.length - 1]! ^= 1;
    expect(failureOf(() => read(badTrailer)).message).toContain('trailer');

    const foreign = bundle.slice();
    foreign[0] = 0x50;
    expect(failureOf(() => read(foreign)).failure).toBe('not-a-bundle');

    const damaged = bundle.slice();
    damaged[BUNDLE_HEADER_LENGTH + 1]! ^= 0x20;
    expect(failureOf(() => read(damaged)).failure).toBe('manifest');
  });

  it('refuses an index that names one chunk ID with two different blobs', async () => {
    const backup = await backupWithRepeat();
    const chunks = backup.manifest.index.chunks.map((entry, i) =>
      i === 2 ? { ...entry, ciphertextSha256: '0'.repeat(64) } : entry,
    );
    const manifest = { ...backup.manifest, index: { ...backup.manifest.index, chunks } };
    expect(failureOf(() => bundleLayout(manifest)).message).toContain('positions 0 and 2');
  });

  it('continues a stopped bundle from its last whole blob, and not at all when the head differs', async () => {
    const backup = await backupWithRepeat();
    const bundle = bundleBytes(backup.manifest, backup.blobs);
    const layout = bundleLayout(backup.manifest);
    const [first, second] = layout.blobs;
    const head = bundleHead(layout);
    expect(resumableLength(layout, bundle, second!.offset + 5)).toBe(second!.offset);
    expect(resumableLength(layout, bundle, first!.offset + first!.length)).toBe(second!.offset);
    expect(resumableLength(layout, bundle, head.length - 1)).toBe(0);
    // A complete file is written again from its trailer.
    expect(resumableLength(layout, bundle, bundle.length)).toBe(layout.trailerStart);
    const other = bundle.slice();
    other[BUNDLE_HEADER_LENGTH + 3]! ^= 1;
    expect(resumableLength(layout, other, bundle.length)).toBe(0);
  });
});
