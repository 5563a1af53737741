/**
 * The stage limits of the backup pipeline, measured in the page with the
 * product's own modules (bundled by Vite from src/, not copied): each stage
 * alone, on the image chosen in the page's file input, with the format's
 * chunk size and the product's worker count, batch size and upload
 * parallelism. bench/stages.ts drives it through `window.custodianBench`.
 */

import { login } from '@/shared/api/auth';
import { fetchSiteInfo } from '@/shared/api/site';
import { credentialsForSite } from '@/shared/api/site-credentials';
import { putTransfer } from '@/shared/api/transfers';
import { claimVolume, releaseClaim } from '@/shared/api/volumes';
import {
  CHUNK_SIZE,
  ImageHash,
  computeChunkId,
  generateChunkIdKey,
  generateDataKey,
  sealEnvelope,
  sha256Hex,
  toHex,
  utf8,
} from '@/core/crypto';
import { encodeTransfer } from '@/core/transfer/frame';
import {
  BackupDatabase,
  outboxOrderOfPosition,
  type GenerationRecord,
} from '@/shared/storage/database';
import { LocalCopy } from '@/shared/storage/local-copy';
import { ChunkBudget } from '@/shared/workers/chunk-budget';
import { createChunkHasher } from '@/features/backup/worker/chunk-hasher';
import { ChunkReader } from '@/features/backup/worker/chunk-reader';
import {
  UPLOAD_PARALLELISM,
  WRITE_BATCH_CHUNKS,
  maxChunksInMemory,
} from '@/features/backup/engine/backup-tuning';
import { cryptoWorkerCount } from '@/shared/workers/crypto-workers';
import { createSealPool, type SealOutcome } from '@/features/backup/worker/seal-pool';

/** What one stage run reports: bytes of plaintext covered and the time it took. */
export interface StageTiming {
  readonly bytes: number;
  readonly ms: number;
  readonly chunks: number;
}

export interface BenchSetup {
  readonly workers: number;
  readonly chunkSize: number;
  readonly maxChunksInMemory: number;
  readonly writeBatchChunks: number;
  readonly uploadParallelism: number;
  readonly fileSize: number;
}

interface Sealed {
  readonly chunkId: string;
  readonly blob: Uint8Array<ArrayBuffer>;
  readonly ciphertextSha256: string;
  readonly length: number;
  readonly epoch: number;
}

interface Keys {
  readonly chunkIdKey: CryptoKey;
  readonly dataKey: CryptoKey;
}

const VOLUME_PREFIX = 'content:bench-stage-';
const workers = cryptoWorkerCount();
let keys: Keys | undefined;
/** Chunks sealed by prepare(), the input of the IndexedDB and upload stages. */
let sealed: Sealed[] = [];
let runCounter = 0;

function imageFile(): File {
  const input = document.querySelector<HTMLInputElement>('#image');
  const file = input?.files?.[0];
  if (!file) throw new Error('No image chosen in the bench page.');
  return file;
}

async function volumeKeys(): Promise<Keys> {
  // Extractable, because the upload stage escrows them as the product does.
  keys ??= {
    chunkIdKey: await generateChunkIdKey({ extractable: true }),
    dataKey: await generateDataKey({ extractable: true }),
  };
  return keys;
}

function newVolumeId(stage: string): string {
  runCounter += 1;
  return `${VOLUME_PREFIX}${stage}-${Date.now()}-${runCounter}`;
}

function setup(): BenchSetup {
  return {
    workers,
    chunkSize: CHUNK_SIZE,
    maxChunksInMemory: maxChunksInMemory(workers),
    writeBatchChunks: WRITE_BATCH_CHUNKS,
    uploadParallelism: UPLOAD_PARALLELISM,
    fileSize: imageFile().size,
  };
}

/** Reading alone (File.slice → ArrayBuffer), the input every other stage pays for. */
async function read(): Promise<StageTiming> {
  const reader = new ChunkReader(imageFile(), CHUNK_SIZE);
  const started = performance.now();
  let bytes = 0;
  for (let position = 0; position < reader.chunkCount; position++) {
    bytes += (await reader.read(position)).byteLength;
  }
  return { bytes, ms: performance.now() - started, chunks: reader.chunkCount };
}

/**
 * SHA-256 of the whole image (hash-wasm in the hashing worker, as the
 * encoder does) and the chunk ID of each chunk (HMAC-SHA-256, WebCrypto),
 * with as many chunks in flight as the pipeline holds.
 */
async function hash(): Promise<StageTiming & { imageSha256: string }> {
  const { chunkIdKey } = await volumeKeys();
  const reader = new ChunkReader(imageFile(), CHUNK_SIZE);
  const limit = maxChunksInMemory(workers);
  const started = performance.now();
  const hasher = createChunkHasher((await ImageHash.create()).saveState());
  const inFlight: Promise<Uint8Array>[] = [];
  let bytes = 0;
  let state: Uint8Array | undefined;
  try {
    for (let position = 0; position < reader.chunkCount; position++) {
      const buffer = await reader.read(position);
      bytes += buffer.byteLength;
      inFlight.push(
        hasher.update(buffer).then((hashed) => {
          state = hashed.state;
          return computeChunkId(chunkIdKey, new Uint8Array(hashed.buffer));
        }),
      );
      if (inFlight.length >= limit) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } finally {
    hasher.close();
  }
  const imageSha256 = (await ImageHash.restore(state ?? new Uint8Array(0))).digestHex();
  return { bytes, ms: performance.now() - started, chunks: reader.chunkCount, imageSha256 };
}

/**
 * The crypto worker pool (chunk ID, AES-256-GCM, decryption check, blob
 * SHA-256) fed as the encoder feeds it: read, hand over, at most
 * maxChunksInMemory chunks held. With `keep`, the blobs stay for the
 * IndexedDB and upload stages (prepare).
 */
async function seal(keep: boolean): Promise<StageTiming> {
  const { chunkIdKey, dataKey } = await volumeKeys();
  const reader = new ChunkReader(imageFile(), CHUNK_SIZE);
  const pool = createSealPool(workers);
  const budget = new ChunkBudget(maxChunksInMemory(pool.size));
  const volumeId = `${VOLUME_PREFIX}sealed`;
  await pool.init({ volumeId, epoch: 0, chunkIdKey, dataKey, knownChunkIds: [] });
  const kept: Sealed[] = [];
  const outcomes: Promise<void>[] = [];
  let bytes = 0;
  const started = performance.now();
  try {
    for (let position = 0; position < reader.chunkCount; position++) {
      await budget.acquire();
      const buffer = await reader.read(position);
      bytes += buffer.byteLength;
      const index = position;
      outcomes.push(
        pool.seal(buffer).then((outcome: SealOutcome) => {
          if (outcome.kind !== 'sealed') throw new Error('A fresh pool reported a known chunk.');
          if (keep) {
            kept[index] = {
              chunkId: outcome.chunkId,
              blob: outcome.blob,
              ciphertextSha256: outcome.ciphertextSha256,
              length: outcome.length,
              epoch: outcome.epoch,
            };
          }
          budget.release();
        }),
      );
    }
    await Promise.all(outcomes);
  } finally {
    pool.close();
  }
  const ms = performance.now() - started;
  if (keep) sealed = kept;
  return { bytes, ms, chunks: reader.chunkCount };
}

async function prepare(): Promise<StageTiming> {
  sealed = [];
  return seal(true);
}

function requireSealed(): Sealed[] {
  if (sealed.length === 0) throw new Error('Run prepare() before this stage.');
  return sealed;
}

/**
 * The writer's transactions into a fresh database with the product's schema:
 * LocalCopy.saveBatch (bulkPut of the blobs, index entries and outbox, and
 * the generation's progress) of WRITE_BATCH_CHUNKS chunks, one batch at a
 * time, as the encoder stores them.
 */
async function indexedDb(): Promise<StageTiming> {
  const chunks = requireSealed();
  const db = new BackupDatabase(`custodian-bench-${Date.now()}-${++runCounter}`);
  await db.open();
  const localCopy = new LocalCopy(db);
  const volumeId = newVolumeId('idb');
  const now = new Date().toISOString();
  const record: GenerationRecord = {
    volumeId,
    generation: 1,
    userId: 'operator',
    siteId: 'bench',
    state: 'in-progress',
    kind: 'content',
    file: { name: 'bench.img', size: imageFile().size, lastModified: 0 },
    chunkSize: CHUNK_SIZE,
    chunkCount: chunks.length,
    epoch: 0,
    previousManifestHash: null,
    restorers: ['operator'],
    policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
    nextPosition: 0,
    bytesStored: 0,
    bytesConfirmed: 0,
    nextSeq: 1,
    siteSeqApplied: 0,
    transfersSent: 0,
    chunksSkipped: 0,
    elapsedMs: 0,
    startedAt: now,
  };
  await localCopy.createGeneration(record, {
    volumeId,
    userId: 'operator',
    kind: 'content',
    latestGeneration: 0,
    latestManifestHash: null,
    createdAt: now,
    updatedAt: now,
  });
  const hashState = (await ImageHash.create()).saveState();
  let bytes = 0;
  const started = performance.now();
  for (let first = 0; first < chunks.length; first += WRITE_BATCH_CHUNKS) {
    const batch = chunks.slice(first, first + WRITE_BATCH_CHUNKS);
    const entries = batch.map(({ chunkId, ciphertextSha256, length, epoch }) => ({
      chunkId,
      ciphertextSha256,
      length,
      epoch,
    }));
    bytes += batch.reduce((sum, chunk) => sum + chunk.length, 0);
    await localCopy.saveBatch({
      volumeId,
      generation: 1,
      chunks: batch.map((chunk) => ({ volumeId, ...chunk })),
      indexEntries: entries.map((entry, i) => ({
        volumeId,
        generation: 1,
        position: first + i,
        ...entry,
      })),
      outbox: entries.map((entry, i) => ({
        volumeId,
        generation: 1,
        order: outboxOrderOfPosition(first + i),
        kind: 'chunk' as const,
        chunkId: entry.chunkId,
        ciphertextSha256: entry.ciphertextSha256,
      })),
      progress: { nextPosition: first + batch.length, bytesStored: bytes, hashState },
      bytesConfirmed: 0,
    });
  }
  const ms = performance.now() - started;
  db.close();
  await db.delete();
  return { bytes, ms, chunks: chunks.length };
}

async function signIn(userId: string): Promise<void> {
  const [credential] = await credentialsForSite([`custodian-${userId}`]);
  await login({ userId, credential: credential! });
}

/**
 * Pre-encrypted chunks to the site through the product's transfer client:
 * a claim, the epoch key first (BK-8), then every chunk framed and padded
 * (encodeTransfer), its body's SHA-256, and putTransfer, with
 * UPLOAD_PARALLELISM transfers in flight. The claim is given back afterwards.
 */
async function upload(): Promise<StageTiming> {
  const chunks = requireSealed();
  const { chunkIdKey, dataKey } = await volumeKeys();
  const volumeId = newVolumeId('upload');
  const info = await fetchSiteInfo();
  const claim = await claimVolume(volumeId, false);
  const envelope = await sealEnvelope(
    { volumeId, chunkIdKey, dataKeys: new Map([[0, dataKey]]) },
    info.escrowKey.jwk,
    { purpose: 'escrow' },
  );
  const firstSeq = Math.max(claim.seqApplied, ...claim.buffered) + 1;
  let bytes = 0;
  const started = performance.now();
  const epochKey = encodeTransfer({ kind: 'epoch-key', volumeId, epoch: 0 }, utf8(envelope));
  await putTransfer(claim.pairId, firstSeq, epochKey, await sha256Hex(epochKey));
  let next = 0;
  const slot = async (): Promise<void> => {
    while (next < chunks.length) {
      const position = next++;
      const chunk = chunks[position]!;
      const body = encodeTransfer(
        { kind: 'chunk', volumeId, chunkId: chunk.chunkId },
        chunk.blob,
        CHUNK_SIZE,
      );
      await putTransfer(claim.pairId, firstSeq + 1 + position, body, await sha256Hex(body));
      bytes += chunk.length;
    }
  };
  await Promise.all(Array.from({ length: UPLOAD_PARALLELISM }, () => slot()));
  const ms = performance.now() - started;
  await releaseClaim(volumeId);
  return { bytes, ms, chunks: chunks.length };
}

function release(): void {
  sealed = [];
}

const api = {
  setup,
  signIn,
  read,
  hash,
  encrypt: () => seal(false),
  prepare,
  indexedDb,
  upload,
  release,
  toHex,
};

declare global {
  interface Window {
    custodianBench?: typeof api;
  }
}

window.custodianBench = api;
document.querySelector('#state')!.textContent = 'ready';
