/**
 * Bundles (docs/FORMAT.md §16): one generation's signed manifest and every
 * chunk blob its index names, in one file for a medium of the operator's
 * (seed 000). No key and no plaintext: whoever restores it still needs the
 * keys the escrow releases. This module lays a bundle out, writes its header
 * and trailer, and reads them back, naming a cut-off or altered file.
 */

import { blobLength } from './constants';
import { bytesEqual, concatBytes } from './bytes';
import { MalformedBundleError } from './errors';
import { parseManifest, serializeManifest } from './manifest';
import type { ChunkEntry, SignedManifest } from './manifest-schema';

/** "CSTB" */
export const BUNDLE_MAGIC = new Uint8Array([0x43, 0x53, 0x54, 0x42]);
/** "CSTE" */
export const BUNDLE_END_MAGIC = new Uint8Array([0x43, 0x53, 0x54, 0x45]);
export const BUNDLE_VERSION = 1;
/** Magic, version and the manifest's length. */
export const BUNDLE_HEADER_LENGTH = 9;
/** "CSTE" and the bundle's whole length as a u64. */
export const BUNDLE_TRAILER_LENGTH = 12;
/** Bounds of the manifest's length (FORMAT.md §16). */
export const BUNDLE_MANIFEST_MIN = 2;
export const BUNDLE_MANIFEST_MAX = 2 ** 28;

/** Where one distinct chunk's blob sits in a bundle. */
export interface BundleBlob {
  readonly chunkId: string;
  /** The first position of the index that names it. */
  readonly position: number;
  readonly offset: number;
  readonly length: number;
}

export interface BundleLayout {
  readonly manifest: SignedManifest;
  /** The manifest in its stored form, as the bundle carries it. */
  readonly manifestBytes: Uint8Array<ArrayBuffer>;
  /** The distinct chunks, in the order of their first position. */
  readonly blobs: readonly BundleBlob[];
  readonly byChunkId: ReadonlyMap<string, BundleBlob>;
  /** Offset of the first blob. */
  readonly blobsStart: number;
  /** Offset of the trailer. */
  readonly trailerStart: number;
  /** The whole bundle, trailer included. */
  readonly totalLength: number;
}

/**
 * Where each distinct chunk's blob sits when the blobs start at
 * `blobsStart`. Refuses an index whose repeated chunk IDs disagree on
 * length, epoch or ciphertext hash: its layout would have two readings.
 */
export function bundleBlobs(
  chunks: readonly ChunkEntry[],
  blobsStart: number,
): { blobs: BundleBlob[]; byChunkId: Map<string, BundleBlob>; end: number } {
  const blobs: BundleBlob[] = [];
  const byChunkId = new Map<string, BundleBlob>();
  let offset = blobsStart;
  for (const [position, entry] of chunks.entries()) {
    const known = byChunkId.get(entry.chunkId);
    if (known) {
      const first = chunks[known.position]!;
      if (
        first.length !== entry.length ||
        first.epoch !== entry.epoch ||
        first.ciphertextSha256 !== entry.ciphertextSha256
      ) {
        throw new MalformedBundleError(
          `its index names chunk ${entry.chunkId} at positions ${known.position} and ${position} with different blobs.`,
        );
      }
      continue;
    }
    const blob = { chunkId: entry.chunkId, position, offset, length: blobLength(entry.length) };
    blobs.push(blob);
    byChunkId.set(entry.chunkId, blob);
    offset += blob.length;
  }
  return { blobs, byChunkId, end: offset };
}

/** The layout of `manifest`'s bundle (see bundleBlobs). */
export function bundleLayout(
  manifest: SignedManifest,
  manifestBytes: Uint8Array<ArrayBuffer> = serializeManifest(manifest),
): BundleLayout {
  if (manifestBytes.length < BUNDLE_MANIFEST_MIN || manifestBytes.length > BUNDLE_MANIFEST_MAX) {
    throw new MalformedBundleError(`its manifest is ${manifestBytes.length} bytes long.`);
  }
  const blobsStart = BUNDLE_HEADER_LENGTH + manifestBytes.length;
  const { blobs, byChunkId, end } = bundleBlobs(manifest.index.chunks, blobsStart);
  return {
    manifest,
    manifestBytes,
    blobs,
    byChunkId,
    blobsStart,
    trailerStart: end,
    totalLength: end + BUNDLE_TRAILER_LENGTH,
  };
}

/** Magic, version, the manifest's length and the manifest: the bundle's first bytes. */
export function bundleHead(layout: BundleLayout): Uint8Array<ArrayBuffer> {
  const head = new Uint8Array(BUNDLE_HEADER_LENGTH);
  head.set(BUNDLE_MAGIC, 0);
  head[4] = BUNDLE_VERSION;
  new DataView(head.buffer).setUint32(5, layout.manifestBytes.length);
  return concatBytes(head, layout.manifestBytes);
}

/** "CSTE" ‖ u64 length: the bundle's last bytes, written last. */
export function bundleTrailer(layout: BundleLayout): Uint8Array<ArrayBuffer> {
  const trailer = new Uint8Array(BUNDLE_TRAILER_LENGTH);
  trailer.set(BUNDLE_END_MAGIC, 0);
  new DataView(trailer.buffer).setBigUint64(4, BigInt(layout.totalLength));
  return trailer;
}

/** A bundle in memory, for tests and small images: head, blobs in layout order, trailer. */
export function bundleBytes(
  manifest: SignedManifest,
  blobs: ReadonlyMap<string, Uint8Array>,
): Uint8Array<ArrayBuffer> {
  const layout = bundleLayout(manifest);
  const parts: Uint8Array[] = [bundleHead(layout)];
  for (const blob of layout.blobs) {
    const bytes = blobs.get(blob.chunkId);
    if (!bytes) throw new MalformedBundleError(`chunk ${blob.chunkId} is missing.`);
    parts.push(bytes);
  }
  parts.push(bundleTrailer(layout));
  return concatBytes(...parts);
}

/** The manifest's length from a bundle's first 9 bytes; refuses anything that is not a bundle. */
export function readBundleHeader(head: Uint8Array, fileLength: number): number {
  if (fileLength < BUNDLE_HEADER_LENGTH || head.length < BUNDLE_HEADER_LENGTH) {
    throw new MalformedBundleError(`it is only ${fileLength} bytes long.`, 'not-a-bundle');
  }
  if (!bytesEqual(head.subarray(0, 4), BUNDLE_MAGIC)) {
    throw new MalformedBundleError('it does not start with "CSTB".', 'not-a-bundle');
  }
  if (head[4] !== BUNDLE_VERSION) {
    throw new MalformedBundleError(
      `it has version ${head[4]}; this console reads version 1.`,
      'layout',
      { params: { version: head[4]! } },
    );
  }
  const length = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(5);
  if (length < BUNDLE_MANIFEST_MIN || length > BUNDLE_MANIFEST_MAX) {
    throw new MalformedBundleError(`it says its manifest is ${length} bytes long.`);
  }
  if (BUNDLE_HEADER_LENGTH + length > fileLength) {
    throw new MalformedBundleError(
      `it was cut off inside its manifest: it is ${fileLength} bytes long, its manifest ends at byte ${BUNDLE_HEADER_LENGTH + length}.`,
      'cut-off',
      { params: { length: fileLength, manifestEnd: BUNDLE_HEADER_LENGTH + length } },
    );
  }
  return length;
}

/**
 * Reads a bundle's manifest and checks that the file is exactly as long as
 * its index says and ends with its trailer (FORMAT.md §16 steps 1 and 3).
 * `manifestBytes` are the M bytes after the header, `trailer` the file's
 * last 12 bytes. The manifest's signature is the caller's to verify.
 */
export function readBundle(
  manifestBytes: Uint8Array<ArrayBuffer>,
  fileLength: number,
  trailer: Uint8Array,
): BundleLayout {
  let manifest: SignedManifest;
  try {
    manifest = parseManifest(manifestBytes);
  } catch (cause) {
    throw new MalformedBundleError(
      `its manifest is damaged: ${(cause as Error).message}`,
      'manifest',
      {
        cause,
      },
    );
  }
  const layout = bundleLayout(manifest, manifestBytes);
  if (fileLength < layout.totalLength) {
    const cut = layout.blobs.find((blob) => blob.offset + blob.length > fileLength);
    const where = cut
      ? `chunk ${cut.position} (${cut.chunkId}) is not whole`
      : 'its trailer is missing';
    throw new MalformedBundleError(
      `it was cut off: it is ${fileLength} bytes long, its index needs ${layout.totalLength} (${layout.totalLength - fileLength} bytes missing); ${where}.`,
      'cut-off',
      {
        params: {
          length: fileLength,
          needed: layout.totalLength,
          missing: layout.totalLength - fileLength,
          ...(cut ? { chunk: cut.position, chunkId: cut.chunkId } : {}),
        },
      },
    );
  }
  if (fileLength > layout.totalLength) {
    throw new MalformedBundleError(
      `it has ${fileLength - layout.totalLength} bytes after its end (${fileLength} bytes long, its index needs ${layout.totalLength}).`,
      'extra-bytes',
      {
        params: {
          extra: fileLength - layout.totalLength,
          length: fileLength,
          needed: layout.totalLength,
        },
      },
    );
  }
  if (!bytesEqual(trailer, bundleTrailer(layout))) {
    throw new MalformedBundleError('its last 12 bytes are not its trailer.', 'cut-off');
  }
  return layout;
}

/**
 * How much of an existing file a writer keeps when it continues a bundle
 * (FORMAT.md §16): the longest prefix that ends on a blob boundary and
 * begins with the bytes it would write. 0 when the head differs; never the
 * trailer, which is written again.
 */
export function resumableLength(
  layout: BundleLayout,
  existingHead: Uint8Array,
  existingLength: number,
): number {
  const head = bundleHead(layout);
  if (existingLength < head.length || !bytesEqual(existingHead.subarray(0, head.length), head)) {
    return 0;
  }
  let kept = layout.blobsStart;
  for (const blob of layout.blobs) {
    if (blob.offset + blob.length > existingLength) break;
    kept = blob.offset + blob.length;
  }
  return kept;
}

/** The name a console suggests for the bundle of a generation. */
export function bundleFileName(generation: { volumeId: string; generation: number }): string {
  const safe = generation.volumeId.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  return `${safe}-generation-${generation.generation}.custodian-bundle`;
}
