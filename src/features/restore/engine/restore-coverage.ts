/**
 * RS-9 coverage: which chunks of a copy Verify has checked against the
 * signed index, kept per volume, generation and copy. A run checks only what
 * is still unchecked, so partial runs add up; once every chunk was checked a
 * pass is complete, and the next run starts a new pass. Coverage belongs to
 * one signed index: a different manifest starts it again.
 */

import {
  checkChunkAgainstIndex,
  TamperedChunkError,
  type ChunkEntry,
  type ChunkFailure,
  type ManifestIndex,
} from '@/core/crypto';
import {
  CHUNK_BAD,
  CHUNK_GOOD,
  CHUNK_UNCHECKED,
  getCoverage,
  putCoverage,
  type BadChunk,
  type CoverageRecord,
  type VerifiedCopy,
} from '@/shared/storage/restore-progress';

/** Positions checked per step; coverage is saved after each. */
export const VERIFY_BATCH = 8;

/** The outcome per position of one step: null for a good chunk, else the check it failed. */
export type CheckResults = Map<number, ChunkFailure | null>;

/** Checks a run of consecutive positions of one copy. */
export type CopyChecker = (
  positions: readonly number[],
  signal: AbortSignal,
) => Promise<CheckResults>;

export interface CoverageSummary {
  readonly copy: VerifiedCopy;
  readonly total: number;
  readonly checked: number;
  readonly bad: readonly BadChunk[];
  readonly passes: number;
}

export function summarize(record: CoverageRecord): CoverageSummary {
  let checked = 0;
  for (const state of record.chunks) if (state !== CHUNK_UNCHECKED) checked += 1;
  return {
    copy: record.copy,
    total: record.chunks.length,
    checked,
    bad: record.bad,
    passes: record.passes,
  };
}

/** A checker over blobs this browser can read (local copy, or the site's by download). */
export function blobChecker(
  index: ManifestIndex,
  read: (entry: ChunkEntry, signal: AbortSignal) => Promise<Uint8Array | undefined>,
): CopyChecker {
  return async (positions, signal) => {
    const results: CheckResults = new Map();
    for (const position of positions) {
      const entry = index.chunks[position]!;
      const blob = await read(entry, signal);
      try {
        await checkChunkAgainstIndex(index, position, entry.chunkId, blob);
        results.set(position, null);
      } catch (error) {
        if (!(error instanceof TamperedChunkError)) throw error;
        results.set(position, error.failure);
      }
    }
    return results;
  };
}

function freshRecord(
  index: ManifestIndex,
  copy: VerifiedCopy,
  manifestHash: string,
  passes: number,
): CoverageRecord {
  return {
    volumeId: index.volumeId,
    generation: index.generation,
    copy,
    manifestHash,
    chunks: new Uint8Array(index.chunks.length),
    bad: [],
    passes,
    updatedAt: new Date().toISOString(),
  };
}

/** The coverage a run continues: the saved one, a new pass after a complete one, or a fresh one. */
export async function startingCoverage(
  index: ManifestIndex,
  copy: VerifiedCopy,
  manifestHash: string,
): Promise<CoverageRecord> {
  const saved = await getCoverage(index.volumeId, index.generation, copy);
  if (
    !saved ||
    saved.manifestHash !== manifestHash ||
    saved.chunks.length !== index.chunks.length
  ) {
    return freshRecord(index, copy, manifestHash, 0);
  }
  const summary = summarize(saved);
  if (summary.checked === summary.total)
    return freshRecord(index, copy, manifestHash, saved.passes);
  return saved;
}

/** Consecutive runs of unchecked positions, at most VERIFY_BATCH long. */
function* uncheckedBatches(record: CoverageRecord): Generator<number[]> {
  let batch: number[] = [];
  for (let position = 0; position < record.chunks.length; position++) {
    const unchecked = record.chunks[position] === CHUNK_UNCHECKED;
    const breaks = batch.length > 0 && (!unchecked || batch.length === VERIFY_BATCH);
    if (breaks) {
      yield batch;
      batch = [];
    }
    if (unchecked) batch.push(position);
  }
  if (batch.length) yield batch;
}

/**
 * Checks every unchecked chunk of one copy, saving coverage after each step,
 * so a run stopped at any point still counts. Returns the final coverage.
 */
export async function verifyCopy(
  index: ManifestIndex,
  copy: VerifiedCopy,
  manifestHash: string,
  check: CopyChecker,
  options: { signal: AbortSignal; onStep: (summary: CoverageSummary) => void },
): Promise<CoverageSummary> {
  let record = await startingCoverage(index, copy, manifestHash);
  options.onStep(summarize(record));
  for (const batch of uncheckedBatches(record)) {
    options.signal.throwIfAborted();
    const results = await check(batch, options.signal);
    const chunks = new Uint8Array(record.chunks);
    const bad = [...record.bad];
    for (const [position, failure] of results) {
      chunks[position] = failure === null ? CHUNK_GOOD : CHUNK_BAD;
      if (failure !== null) {
        bad.push({ position, chunkId: index.chunks[position]!.chunkId, failure });
      }
    }
    record = { ...record, chunks, bad, updatedAt: new Date().toISOString() };
    const summary = summarize(record);
    if (summary.checked === summary.total) record = { ...record, passes: record.passes + 1 };
    await putCoverage(record);
    options.onStep(summarize(record));
  }
  return summarize(record);
}
