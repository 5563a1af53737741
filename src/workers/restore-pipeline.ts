/**
 * The restore of one generation's image (RS-4..RS-6), strictly in image
 * order: blobs are read a few positions ahead (bounded, so memory stays flat
 * whatever the image size), each is checked and decrypted by the
 * RestoreVerifier (order, index, AEAD, chunk ID), its plaintext is written to
 * the output and flushed, and only then is the progress saved, so a resume
 * never trusts bytes that were not verified and written. The whole image is
 * checked against its sealed size and SHA-256 at the end.
 */

import {
  wipe,
  type ManifestIndex,
  type RestoreProgress,
  type RestoreVerifier,
} from '@/core/crypto';
import { readChunk, type ChunkRead, type ChunkSource, type CopyName } from './restore-sources';

/** Chunks read ahead of the one being written: 4 × 4 MiB in flight at most. */
export const RESTORE_PREFETCH = 4;

/** Where the restored image goes: a file of the origin private file system, or a test's memory. */
export interface ImageSink {
  /** Cuts the output to `size` bytes: a resume drops what followed the saved progress. */
  truncate(size: number): Promise<void>;
  write(bytes: Uint8Array, offset: number): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Deletes the output (tampered chunk, cancelled restore). */
  discard(): Promise<void>;
}

export interface PipelineProgress {
  readonly nextPosition: number;
  readonly chunkCount: number;
  readonly bytesWritten: number;
  readonly fromLocal: number;
  readonly fromSite: number;
  /** Positions whose local blob failed the keyless check and was read from the site instead. */
  readonly damagedLocal: readonly number[];
}

export interface PipelineInput {
  readonly verifier: RestoreVerifier;
  readonly index: ManifestIndex;
  readonly sources: readonly ChunkSource[];
  readonly sink: ImageSink;
  readonly saveProgress: (progress: RestoreProgress) => Promise<void>;
  readonly onProgress: (progress: PipelineProgress) => void;
  readonly signal: AbortSignal;
  readonly prefetch?: number;
}

/** Runs the restore to its end; returns the verified image SHA-256 (hex). */
export async function runRestorePipeline(input: PipelineInput): Promise<string> {
  const { verifier, index, sources, sink } = input;
  const count = verifier.chunkCount;
  const prefetch = Math.max(1, input.prefetch ?? RESTORE_PREFETCH);
  // Reads in flight stop with the restore, whichever way it ends.
  const reads = new AbortController();
  const stop = (): void => reads.abort(input.signal.reason);
  input.signal.addEventListener('abort', stop, { once: true });
  const pending = new Map<number, Promise<ChunkRead>>();
  const counts: Record<CopyName, number> = { local: 0, site: 0 };
  const damagedLocal: number[] = [];

  const schedule = (position: number): void => {
    if (position >= count || pending.has(position)) return;
    const read = readChunk(sources, index, position, reads.signal);
    // A read that fails is reported when its turn comes, not as an unhandled rejection.
    read.catch(() => undefined);
    pending.set(position, read);
  };

  let offset = verifier.saveProgress().bytesWritten;
  const report = (): void =>
    input.onProgress({
      nextPosition: verifier.nextPosition,
      chunkCount: count,
      bytesWritten: offset,
      fromLocal: counts.local,
      fromSite: counts.site,
      damagedLocal: [...damagedLocal],
    });

  try {
    await sink.truncate(offset);
    report();
    for (let position = verifier.nextPosition; position < count; position++) {
      input.signal.throwIfAborted();
      for (let ahead = position; ahead < position + prefetch; ahead++) schedule(ahead);
      const read = await pending.get(position)!;
      pending.delete(position);
      const entry = index.chunks[position]!;
      const plaintext = await verifier.openChunk(position, entry.chunkId, read.blob);
      try {
        await sink.write(plaintext, offset);
      } finally {
        wipe(plaintext);
      }
      offset += entry.length;
      await sink.flush();
      await input.saveProgress(verifier.saveProgress());
      if (read.from) counts[read.from] += 1;
      if (read.passedOver.some((p) => p.copy === 'local' && p.damaged)) damagedLocal.push(position);
      report();
    }
    const sha256 = verifier.finish();
    await sink.close();
    return sha256;
  } finally {
    input.signal.removeEventListener('abort', stop);
    reads.abort();
  }
}
