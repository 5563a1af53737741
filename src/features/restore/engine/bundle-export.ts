/**
 * Exports one generation as a bundle (RS-11, FORMAT.md §16, seed 000): its signed
 * manifest and every blob its index names, for a medium of the operator's.
 * Blobs come from this browser's local copy, else from the site; each is
 * checked against the signed index before it is written (no key is needed,
 * and none is in the file). Written in order, the trailer last, so a bundle
 * that stopped is never taken for a whole one; exporting again to the same
 * file continues from its last whole blob.
 */

import {
  bundleHead,
  bundleLayout,
  bundleTrailer,
  checkChunkAgainstIndex,
  resumableLength,
  TamperedChunkError,
  type BundleLayout,
  type SignedManifest,
} from '@/core/crypto';
import type { ChunkSource } from '@/features/restore/worker/restore-sources';

/** Where the bundle is written: a file the operator chose, or a download being put together. */
export interface BundleTarget {
  /** How many bytes the file holds already, and its first `length` bytes (for a resume). */
  existing(length: number): Promise<{ size: number; head: Uint8Array }>;
  /** Keeps the first `length` bytes and writes on from there. */
  keep(length: number): Promise<void>;
  write(bytes: Uint8Array<ArrayBuffer>): Promise<void>;
  /**
   * Everything written is kept, even when the export stopped early
   * (`complete` false), so that it can continue.
   */
  close(complete: boolean): Promise<void>;
}

export interface BundleProgress {
  readonly written: number;
  readonly total: number;
  /** Bytes found in the file already and kept. */
  readonly resumedFrom: number;
}

export interface ExportRequest {
  readonly manifest: SignedManifest;
  /** Tried in order for each blob: the local copy, then the site. */
  readonly sources: readonly ChunkSource[];
  readonly target: BundleTarget;
  readonly onProgress?: (progress: BundleProgress) => void;
  readonly signal?: AbortSignal;
}

/** No source holds a good blob of a chunk: the bundle cannot be whole. */
export class ChunkUnavailableError extends Error {
  readonly code = 'bundle_chunk_unavailable';

  constructor(
    readonly position: number,
    readonly chunkId: string,
  ) {
    super(
      `Chunk ${position} (${chunkId}) is neither in this browser's copy nor at the site in good condition.`,
    );
    this.name = 'ChunkUnavailableError';
  }
}

async function goodBlob(
  layout: BundleLayout,
  position: number,
  chunkId: string,
  sources: readonly ChunkSource[],
  signal: AbortSignal | undefined,
): Promise<Uint8Array<ArrayBuffer>> {
  const { index } = layout.manifest;
  let lastError: unknown;
  for (const source of sources) {
    let blob: Uint8Array<ArrayBuffer> | undefined;
    try {
      blob = await source.read(index.volumeId, index.chunks[position]!, signal, 'quick');
    } catch (error) {
      if (signal?.aborted) throw error;
      lastError = error;
      continue;
    }
    if (!blob) continue;
    try {
      await checkChunkAgainstIndex(index, position, chunkId, blob);
      return blob;
    } catch (error) {
      if (!(error instanceof TamperedChunkError)) throw error;
    }
  }
  // A site that could not be reached says so; otherwise no copy was good.
  throw lastError ?? new ChunkUnavailableError(position, chunkId);
}

/** Writes the bundle of `manifest` to `target`, continuing what the target already holds of it. */
export async function exportBundle(request: ExportRequest): Promise<BundleLayout> {
  const { target, signal } = request;
  const layout = bundleLayout(request.manifest);
  const head = bundleHead(layout);
  let complete = false;
  try {
    const existing = await target.existing(head.length);
    const kept = existing.size > 0 ? resumableLength(layout, existing.head, existing.size) : 0;
    await target.keep(kept);
    let written = kept;
    const report = () =>
      request.onProgress?.({ written, total: layout.totalLength, resumedFrom: kept });
    report();
    if (kept === 0) {
      await target.write(head);
      written = head.length;
    }
    for (const blob of layout.blobs) {
      signal?.throwIfAborted();
      if (blob.offset < written) continue;
      await target.write(
        await goodBlob(layout, blob.position, blob.chunkId, request.sources, signal),
      );
      written = blob.offset + blob.length;
      report();
    }
    await target.write(bundleTrailer(layout));
    written = layout.totalLength;
    complete = true;
    report();
  } finally {
    await target.close(complete);
  }
  return layout;
}

/** The File System Access API's save handle, as far as a bundle export uses it. */
export interface SaveHandle {
  /** The name of the file the operator chose. */
  readonly name: string;
  getFile(): Promise<Blob>;
  createWritable(options: { keepExistingData: boolean }): Promise<{
    truncate(size: number): Promise<void>;
    seek(position: number): Promise<void>;
    write(data: Uint8Array<ArrayBuffer>): Promise<void>;
    close(): Promise<void>;
  }>;
}

/** A file the operator chose with the File System Access API, continued where it holds a bundle's start. */
export function fileTarget(handle: SaveHandle): BundleTarget {
  let writable: Awaited<ReturnType<SaveHandle['createWritable']>> | undefined;
  return {
    async existing(length) {
      const file = await handle.getFile();
      const head = new Uint8Array(await file.slice(0, length).arrayBuffer());
      return { size: file.size, head };
    },
    async keep(length) {
      writable = await handle.createWritable({ keepExistingData: length > 0 });
      await writable.truncate(length);
      await writable.seek(length);
    },
    async write(bytes) {
      await writable!.write(bytes);
    },
    async close() {
      await writable?.close();
      writable = undefined;
    },
  };
}

/**
 * A download put together in the browser's blob storage, one part per blob,
 * so that no more than one blob is held in this page at a time. `onComplete`
 * receives the whole file once the trailer is written; a download that
 * stopped is dropped.
 */
export function downloadTarget(onComplete: (file: Blob) => void): BundleTarget {
  const parts: Blob[] = [];
  return {
    existing: () => Promise.resolve({ size: 0, head: new Uint8Array() }),
    keep: () => Promise.resolve(),
    write(bytes) {
      parts.push(new Blob([bytes]));
      return Promise.resolve();
    },
    close(complete) {
      if (complete) onComplete(new Blob(parts, { type: 'application/octet-stream' }));
      return Promise.resolve();
    },
  };
}
