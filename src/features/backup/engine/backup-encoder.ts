/**
 * The local half of the pipeline (BK-6): read the image chunk by chunk,
 * hash it incrementally (in a worker of its own), have the crypto workers
 * identify, encrypt and verify each chunk, then store the blobs, the index
 * and the outbox in order, in batched transactions. A chunk budget bounds what is in memory;
 * the saved hash state and position make a reload resume after the last
 * stored batch (BK-7).
 */

import type { ChunkEntry, ImageHash } from '@/core/crypto';
import {
  outboxOrderOfPosition,
  type ChunkRecord,
  type GenerationRecord,
  type ChunkOutboxRecord,
  type IndexEntryRecord,
  type OutboxRecord,
} from '@/shared/storage/database';
import type { LocalCopy } from '@/shared/storage/local-copy';
import type { ChunkBudget } from '@/shared/workers/chunk-budget';
import { createChunkHasher, type ChunkHasher } from '@/features/backup/worker/chunk-hasher';
import type { ChunkLedger } from '@/features/backup/worker/chunk-ledger';
import type { ChunkReader } from '@/features/backup/worker/chunk-reader';
import { WRITE_BATCH_CHUNKS } from '@/features/backup/engine/backup-tuning';
import type { SealOutcome, SealPool } from '@/features/backup/worker/seal-pool';
import type { RunControl } from './backup-control';

/** A stored blob offered to the uploader so it need not read it back from IndexedDB. */
export interface BlobHandover {
  readonly chunkId: string;
  readonly blob: Uint8Array<ArrayBuffer>;
  /** Returns the chunk's memory permit; call once the blob is no longer held. */
  readonly release: () => void;
}

export interface EncoderParams {
  readonly record: GenerationRecord;
  readonly reader: ChunkReader;
  readonly pool: SealPool;
  readonly budget: ChunkBudget;
  readonly localCopy: LocalCopy;
  readonly hash: ImageHash;
  readonly ledger: ChunkLedger;
  readonly control: RunControl;
  /** New outbox entries, after they are stored; returns true if it keeps the blob. */
  readonly handOver: (entries: readonly OutboxRecord[], blob?: BlobHandover) => boolean;
  /** Called after every stored batch. */
  readonly onStored: (state: { nextPosition: number; bytesStored: number }) => void;
  /** Running time so far, stored with each batch. */
  readonly elapsedMs: () => number;
  /** Stop before this position (a key rotation, RC-4); the image's end if absent. */
  readonly endPosition?: number;
  /** Hashes the chunks on from `hash`'s state (default: a worker where there are workers). */
  readonly createHasher?: (state: Uint8Array<ArrayBuffer>) => ChunkHasher;
}

interface InFlight {
  readonly position: number;
  readonly length: number;
  /** The image hash state after this chunk; settles before `outcome` does. */
  readonly hashState: Promise<Uint8Array<ArrayBuffer>>;
  readonly outcome: Promise<SealOutcome>;
  settled: boolean;
}

/** Encrypts and stores the image from the record's next position to its end. */
export async function encodeImage(params: EncoderParams): Promise<void> {
  const { record, reader, pool, budget, control } = params;
  const end = Math.min(params.endPosition ?? reader.chunkCount, reader.chunkCount);
  const hasher = (params.createHasher ?? createChunkHasher)(params.hash.saveState());
  let lastHashState: Uint8Array<ArrayBuffer> | undefined;
  const queue: InFlight[] = [];
  let failure: unknown;
  const stopReading = new AbortController();
  const onStop = (): void => stopReading.abort(control.signal.reason);
  control.signal.addEventListener('abort', onStop, { once: true });
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const waitForChange = (): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
    });

  const readAll = async (): Promise<void> => {
    for (let position = record.nextPosition; position < end; position++) {
      await control.gate();
      await budget.acquire(stopReading.signal);
      if (failure !== undefined) {
        budget.release();
        return;
      }
      let buffer: ArrayBuffer;
      try {
        buffer = await reader.read(position);
      } catch (error) {
        budget.release();
        throw error;
      }
      queue.push(startSealing(position, buffer, hasher, pool, notify));
      notify();
    }
  };

  const writeAll = async (): Promise<void> => {
    let nextPosition = record.nextPosition;
    let bytesStored = record.bytesStored;
    let file = record.file;
    while (nextPosition < end) {
      if (failure !== undefined) return;
      if (queue.length === 0) {
        await waitForChange();
        continue;
      }
      const batch = takeBatch(queue);
      const outcomes = await Promise.all(batch.map((item) => item.outcome));
      await control.gate();

      const placed = placeBatch(params, batch, outcomes, file);
      const { chunks, indexEntries, outbox, handovers, released } = placed;
      file = placed.file;
      bytesStored += placed.bytes;
      const last = batch[batch.length - 1]!;
      nextPosition = last.position + 1;
      const hashState = await last.hashState;
      try {
        await params.localCopy.saveBatch({
          volumeId: record.volumeId,
          generation: record.generation,
          chunks,
          indexEntries,
          outbox,
          progress: {
            nextPosition,
            bytesStored,
            hashState,
            file,
            elapsedMs: params.elapsedMs(),
          },
          bytesConfirmed: params.ledger.bytesConfirmed,
        });
      } catch (error) {
        budget.release(released + handovers.length);
        throw error;
      }
      budget.release(released);
      lastHashState = hashState;
      handOverInOrder(params, outbox, handovers);
      params.onStored({ nextPosition, bytesStored });
    }
  };

  // Fail fast: the first error ends the stage; the other task stops at its next check,
  // or when the runner stops the run.
  try {
    await runBoth();
    // The caller's hash goes on from where the hasher stopped (the next run of chunks).
    if (lastHashState) params.hash.load(lastHashState);
  } finally {
    control.signal.removeEventListener('abort', onStop);
    hasher.close();
  }

  function runBoth(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let finished = 0;
      for (const task of [readAll(), writeAll()]) {
        task.then(
          () => {
            finished += 1;
            if (finished === 2) resolve();
          },
          (error: unknown) => {
            if (failure === undefined) failure = error;
            stopReading.abort(error);
            notify();
            for (const item of queue.splice(0)) item.outcome.catch(() => undefined);
            reject(error);
          },
        );
      }
    });
  }
}

/** Hashes the chunk in image order, then hands it on to a crypto worker. */
function startSealing(
  position: number,
  buffer: ArrayBuffer,
  hasher: ChunkHasher,
  pool: SealPool,
  notify: () => void,
): InFlight {
  // Taken before the hasher is given the buffer: a worker's hasher detaches it.
  const length = buffer.byteLength;
  const hashed = hasher.update(buffer);
  const item: InFlight = {
    position,
    length,
    hashState: hashed.then((h) => h.state),
    outcome: hashed.then((h) => pool.seal(h.buffer)),
    settled: false,
  };
  item.hashState.catch(() => undefined);
  item.outcome.then(
    () => {
      item.settled = true;
      notify();
    },
    () => {
      item.settled = true;
      notify();
    },
  );
  return item;
}

/** The next write batch: the oldest chunk, and up to a batch of the settled ones after it. */
function takeBatch(queue: InFlight[]): InFlight[] {
  const batch = [queue.shift()!];
  while (batch.length < WRITE_BATCH_CHUNKS && queue[0]?.settled) batch.push(queue.shift()!);
  return batch;
}

/** What one batch adds to the local copy, and the memory permits it gives back. */
interface PlacedBatch {
  readonly chunks: ChunkRecord[];
  readonly indexEntries: IndexEntryRecord[];
  readonly outbox: ChunkOutboxRecord[];
  readonly handovers: BlobHandover[];
  /** Permits of chunks whose blob is not kept (known already, or not new). */
  readonly released: number;
  readonly file: GenerationRecord['file'];
  /** Plaintext bytes of the batch. */
  readonly bytes: number;
}

/**
 * Places each chunk of the batch in the ledger (BK-6: a chunk the site or
 * the local copy holds is not stored again) and makes its index entry, its
 * outbox entry and, for a new blob, its chunk record.
 */
function placeBatch(
  params: EncoderParams,
  batch: readonly InFlight[],
  outcomes: readonly SealOutcome[],
  startFile: GenerationRecord['file'],
): PlacedBatch {
  const { record, reader, budget, ledger } = params;
  const chunks: ChunkRecord[] = [];
  const indexEntries: IndexEntryRecord[] = [];
  const outbox: ChunkOutboxRecord[] = [];
  const handovers: BlobHandover[] = [];
  let released = 0;
  let file = startFile;
  let bytes = 0;
  batch.forEach((item, i) => {
    const outcome = outcomes[i]!;
    const sealed: ChunkEntry | undefined =
      outcome.kind === 'sealed'
        ? {
            chunkId: outcome.chunkId,
            ciphertextSha256: outcome.ciphertextSha256,
            length: outcome.length,
            epoch: outcome.epoch,
          }
        : undefined;
    const placed = ledger.place(outcome.chunkId, item.length, sealed);
    const entry = ledger.entry(outcome.chunkId)!;
    indexEntries.push({
      volumeId: record.volumeId,
      generation: record.generation,
      position: item.position,
      ...entry,
    });
    if (placed === 'new' || placed === 'queue-local') {
      outbox.push({
        volumeId: record.volumeId,
        generation: record.generation,
        order: outboxOrderOfPosition(item.position),
        kind: 'chunk',
        chunkId: entry.chunkId,
        ciphertextSha256: entry.ciphertextSha256,
        ...(placed === 'queue-local' ? { probe: true } : {}),
      });
    }
    if (placed === 'new' && outcome.kind === 'sealed') {
      chunks.push({ volumeId: record.volumeId, ...entry, blob: outcome.blob });
      handovers.push({
        chunkId: entry.chunkId,
        blob: outcome.blob,
        release: () => budget.release(),
      });
    } else {
      released += 1;
    }
    if (item.position === 0) file = { ...file, firstChunkId: outcome.chunkId };
    if (item.position === reader.chunkCount - 1) file = { ...file, lastChunkId: outcome.chunkId };
    bytes += item.length;
  });
  return { chunks, indexEntries, outbox, handovers, released, file, bytes };
}

/**
 * Hands the stored entries to the uploader in order, each new chunk with
 * its blob; the uploader keeps a few, and the permits of the rest go back.
 */
function handOverInOrder(
  params: EncoderParams,
  outbox: readonly ChunkOutboxRecord[],
  handovers: readonly BlobHandover[],
): void {
  const blobs = new Map(handovers.map((h) => [h.chunkId, h]));
  for (const entry of outbox) {
    const handover = blobs.get(entry.chunkId);
    if (handover) blobs.delete(entry.chunkId);
    const kept = params.handOver([entry], handover);
    if (handover && !kept) handover.release();
  }
  for (const leftover of blobs.values()) leftover.release();
}
