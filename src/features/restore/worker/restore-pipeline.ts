/**
 * The restore of one generation's image (RS-4..RS-6). Chunks are read and
 * opened — checked against the signed index, AEAD-decrypted, chunk ID
 * recomputed — in parallel by the decryption pool, a fixed number in flight
 * (so memory stays flat whatever the image size), and reassembled strictly
 * in image order: the RestoreVerifier accepts each plaintext in order
 * (position, length, incremental image SHA-256), it is written to the output
 * and flushed, and only then is the progress saved, so a resume never
 * trusts bytes that were not verified and written. The whole image is
 * checked against its sealed size and SHA-256 at the end.
 */

import {
  wipe,
  type ManifestIndex,
  type RestoreProgress,
  type RestoreVerifier,
} from '@/core/crypto';
import { ChunkBudget } from '@/shared/workers/chunk-budget';
import type { DecryptPool } from './restore-decrypt-pool';
import { reassembleInOrder } from './restore-reassembly';
import {
  ChunkFailover,
  type ChunkAlert,
  type ChunkRead,
  type ChunkSource,
  type FailoverOptions,
} from './restore-sources';

/**
 * Chunks a restore holds at once, from the start of a chunk's read until its
 * plaintext is written and wiped: each decryption worker has one being
 * opened and one read ahead for it, plus two on their way (read, or waiting
 * for their turn) — with 4 MiB chunks, 4 × 4 MiB for one worker.
 */
export function restoreChunksInFlight(workers: number): number {
  return Math.max(1, workers) * 2 + 2;
}

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
  /** Chunks from this console's own site. */
  readonly fromSite: number;
  /** Chunks from a bundle file (FORMAT.md §16). */
  readonly fromBundle: number;
  /** Chunks from each other site (MS-5), by the name the site directory gives it. */
  readonly fromSites: Readonly<Record<string, number>>;
  /** Positions whose local blob failed the keyless check and was read from a site instead. */
  readonly damagedLocal: readonly number[];
  /** Reports sent to the sites that served blobs failing the keyless check (RS-5, MS-5). */
  readonly alerts: readonly ChunkAlert[];
}

export interface PipelineInput {
  readonly verifier: RestoreVerifier;
  readonly index: ManifestIndex;
  readonly sources: readonly ChunkSource[];
  /** Opens chunks; already given this restore's keys. */
  readonly pool: DecryptPool;
  readonly sink: ImageSink;
  readonly saveProgress: (progress: RestoreProgress) => Promise<void>;
  readonly onProgress: (progress: PipelineProgress) => void;
  readonly signal: AbortSignal;
  /** Chunks in flight at most; restoreChunksInFlight(pool.size) unless given. */
  readonly inFlight?: number;
  /** Counts the chunks in flight (tests read its peak). */
  readonly budget?: ChunkBudget;
  /** How long an unreachable site rests, and the clock it rests by (tests). */
  readonly failover?: Omit<FailoverOptions, 'onAlert'>;
}

interface OpenedChunk {
  readonly read: ChunkRead;
  readonly plaintext: Uint8Array<ArrayBuffer>;
}

/** Runs the restore to its end; returns the verified image SHA-256 (hex). */
export async function runRestorePipeline(input: PipelineInput): Promise<string> {
  const { verifier, index, sources, sink, pool } = input;
  const count = verifier.chunkCount;
  const budget =
    input.budget ?? new ChunkBudget(input.inFlight ?? restoreChunksInFlight(pool.size));
  const counts = { local: 0, site: 0, bundle: 0 };
  const fromSites: Record<string, number> = {};
  const damagedLocal: number[] = [];
  const alerts: ChunkAlert[] = [];

  let offset = verifier.saveProgress().bytesWritten;
  const report = (): void =>
    input.onProgress({
      nextPosition: verifier.nextPosition,
      chunkCount: count,
      bytesWritten: offset,
      fromLocal: counts.local,
      fromSite: counts.site,
      fromBundle: counts.bundle,
      fromSites: { ...fromSites },
      damagedLocal: [...damagedLocal],
      alerts: [...alerts],
    });
  const failover = new ChunkFailover(sources, index, {
    ...input.failover,
    onAlert: (alert) => {
      alerts.push(alert);
      report();
    },
  });

  const countFrom = ({ source }: ChunkRead): void => {
    if (!source) return;
    if (source.site) fromSites[source.site.name] = (fromSites[source.site.name] ?? 0) + 1;
    else counts[source.name] += 1;
  };

  const open = async (position: number, signal: AbortSignal): Promise<OpenedChunk> => {
    const entry = index.chunks[position]!;
    const read = await failover.read(position, signal);
    signal.throwIfAborted();
    const plaintext = await pool.open({ position, entry, chunkId: entry.chunkId }, read.blob);
    return { read, plaintext };
  };

  const write = async (position: number, { read, plaintext }: OpenedChunk): Promise<void> => {
    const entry = index.chunks[position]!;
    try {
      verifier.acceptChunk(position, entry.chunkId, plaintext);
      await sink.write(plaintext, offset);
    } finally {
      wipe(plaintext);
    }
    offset += entry.length;
    await sink.flush();
    await input.saveProgress(verifier.saveProgress());
    countFrom(read);
    if (read.passedOver.some((p) => p.copy === 'local' && p.reason === 'damaged')) {
      damagedLocal.push(position);
    }
    report();
  };

  await sink.truncate(offset);
  report();
  await reassembleInOrder({
    from: verifier.nextPosition,
    to: count,
    budget,
    work: open,
    consume: write,
    discard: ({ plaintext }) => wipe(plaintext),
    signal: input.signal,
  });
  const sha256 = verifier.finish();
  await sink.close();
  return sha256;
}
