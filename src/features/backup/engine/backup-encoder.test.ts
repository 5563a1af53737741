import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { generateChunkIdKey, generateDataKey, ImageHash, sha256Hex } from '@/core/crypto';
import { BackupDatabase, type GenerationRecord } from '@/shared/storage/database';
import { LocalCopy } from '@/shared/storage/local-copy';
import { ChunkBudget } from '@/shared/workers/chunk-budget';
import {
  ImageHashError,
  InProcessChunkHasher,
  type ChunkHasher,
  type HashedChunk,
} from '@/features/backup/worker/chunk-hasher';
import { ChunkLedger } from '@/features/backup/worker/chunk-ledger';
import { ChunkReader, type ImageFile } from '@/features/backup/worker/chunk-reader';
import { InProcessSealPool, type SealOutcome } from '@/features/backup/worker/seal-pool';
import { RunControl } from './backup-control';
import { encodeImage } from './backup-encoder';
import { memoryImageFile, patternBytes } from '@/testing/backup-test-support';

const CHUNK = 4096;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class SlowPool extends InProcessSealPool {
  override async seal(plaintext: ArrayBuffer): Promise<SealOutcome> {
    await sleep(1);
    return super.seal(plaintext);
  }
}

class SlowDisk extends LocalCopy {
  override async saveBatch(...args: Parameters<LocalCopy['saveBatch']>): Promise<void> {
    await sleep(15);
    return super.saveBatch(...args);
  }
}

async function setUp(chunks: number) {
  const db = new BackupDatabase(`encoder-${crypto.randomUUID()}`);
  const localCopy = new SlowDisk(db);
  const bytes = patternBytes(chunks * CHUNK, 3);
  const file = memoryImageFile(bytes);
  let reads = 0;
  const counted: ImageFile = {
    name: file.name,
    size: file.size,
    lastModified: file.lastModified,
    slice: (start, end) => {
      reads += 1;
      return file.slice(start, end);
    },
  };
  const record: GenerationRecord = {
    volumeId: 'ext4:budget',
    generation: 1,
    userId: 'operator',
    siteId: 'site',
    state: 'in-progress',
    kind: 'ext4',
    file: { name: file.name, size: file.size, lastModified: file.lastModified },
    chunkSize: CHUNK,
    chunkCount: chunks,
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
    startedAt: new Date().toISOString(),
  };
  await db.generations.put(record);
  const pool = new SlowPool(2);
  await pool.init({
    volumeId: record.volumeId,
    epoch: 0,
    chunkIdKey: await generateChunkIdKey(),
    dataKey: await generateDataKey(),
    knownChunkIds: [],
  });
  return {
    db,
    localCopy,
    bytes,
    record,
    pool,
    reader: new ChunkReader(counted, CHUNK),
    reads: () => reads,
  };
}

describe('encoder back-pressure (BK-6)', () => {
  it('never holds more than N chunks in memory, whatever the image size', async () => {
    const { localCopy, bytes, record, pool, reader, reads } = await setUp(48);
    const budget = new ChunkBudget(6);
    const hash = await ImageHash.create();
    let stored = 0;
    let lead = 0;
    const held: (() => void)[] = [];
    await encodeImage({
      record,
      reader,
      pool,
      budget,
      localCopy,
      hash,
      ledger: new ChunkLedger(),
      control: new RunControl(),
      // A slow uploader that keeps every blob it is offered for a while.
      handOver: (_entries, blob) => {
        if (!blob) return false;
        held.push(blob.release);
        setTimeout(() => held.shift()?.(), 25);
        return true;
      },
      onStored: ({ nextPosition }) => {
        stored = nextPosition;
        lead = Math.max(lead, reads() - stored);
      },
      elapsedMs: () => 0,
    });
    expect(budget.peak).toBeLessThanOrEqual(6);
    // The reader was held back: it was never more than N chunks ahead of the disk.
    expect(lead).toBeLessThanOrEqual(6);
    expect(budget.peak).toBe(6);
    expect(stored).toBe(48);
    expect(hash.digestHex()).toBe(await sha256Hex(bytes));
    const entries = await localCopy.index(record.volumeId, 1);
    expect(entries).toHaveLength(48);
    expect(await localCopy.outbox(record.volumeId, 1)).toHaveLength(48);
  });

  it('stores chunks in image order even when workers finish out of order', async () => {
    const { localCopy, record, pool, reader } = await setUp(10);
    let next = 0;
    await encodeImage({
      record,
      reader,
      pool,
      budget: new ChunkBudget(8),
      localCopy,
      hash: await ImageHash.create(),
      ledger: new ChunkLedger(),
      control: new RunControl(),
      handOver: (entries) => {
        for (const entry of entries) {
          expect(entry.order).toBeGreaterThan(next);
          next = entry.order;
        }
        return false;
      },
      onStored: () => undefined,
      elapsedMs: () => 0,
    });
    const generation = await localCopy.getGeneration(record.volumeId, 1);
    expect(generation?.nextPosition).toBe(10);
    expect(generation?.file.firstChunkId).toMatch(/^[0-9a-f]{64}$/);
    expect(generation?.file.lastChunkId).toMatch(/^[0-9a-f]{64}$/);
  });

  it("hashes the image in the hasher, in runs of chunks, and the caller's hash goes on from there", async () => {
    const { localCopy, bytes, record, pool, reader } = await setUp(12);
    const hash = await ImageHash.create();
    let hashed = 0;
    const createHasher = (state: Uint8Array<ArrayBuffer>): ChunkHasher => {
      const inner = new InProcessChunkHasher(state);
      return {
        update: (buffer: ArrayBuffer): Promise<HashedChunk> => {
          hashed += 1;
          return inner.update(buffer);
        },
        close: () => inner.close(),
      };
    };
    const run = async (endPosition: number) => {
      const current = (await localCopy.getGeneration(record.volumeId, 1))!;
      await encodeImage({
        record: current,
        reader,
        pool,
        budget: new ChunkBudget(8),
        localCopy,
        hash,
        ledger: new ChunkLedger(),
        control: new RunControl(),
        handOver: () => false,
        onStored: () => undefined,
        elapsedMs: () => 0,
        endPosition,
        createHasher,
      });
    };
    // Two runs of chunks, as around a key rotation (RC-4).
    await run(5);
    expect(hashed).toBe(5);
    expect(hash.bytesHashed).toBe(5 * CHUNK);
    const stored = (await localCopy.getGeneration(record.volumeId, 1))!;
    expect((await ImageHash.restore(new Uint8Array(stored.hashState!))).digestHex()).toBe(
      await sha256Hex(bytes.subarray(0, 5 * CHUNK)),
    );
    await run(12);
    expect(hashed).toBe(12);
    expect(hash.digestHex()).toBe(await sha256Hex(bytes));
  });

  it("counts every chunk's bytes although the hasher takes the buffer away, as a worker does", async () => {
    const { localCopy, record, pool, reader } = await setUp(6);
    const stored: number[] = [];
    await encodeImage({
      record,
      reader,
      pool,
      budget: new ChunkBudget(4),
      localCopy,
      hash: await ImageHash.create(),
      ledger: new ChunkLedger(),
      control: new RunControl(),
      handOver: () => false,
      onStored: ({ bytesStored }) => stored.push(bytesStored),
      elapsedMs: () => 0,
      createHasher: (state) => {
        const inner = new InProcessChunkHasher(state);
        return {
          // Posting to a worker with a transfer list detaches the caller's buffer.
          update: (buffer) => inner.update(structuredClone(buffer, { transfer: [buffer] })),
          close: () => inner.close(),
        };
      },
    });
    expect(stored.at(-1)).toBe(6 * CHUNK);
    expect((await localCopy.getGeneration(record.volumeId, 1))?.bytesStored).toBe(6 * CHUNK);
  });

  it("stops with the hasher's message when the image cannot be hashed, and stores nothing", async () => {
    const { localCopy, record, pool, reader } = await setUp(6);
    const budget = new ChunkBudget(4);
    let calls = 0;
    const error = await encodeImage({
      record,
      reader,
      pool,
      budget,
      localCopy,
      hash: await ImageHash.create(),
      ledger: new ChunkLedger(),
      control: new RunControl(),
      handOver: () => false,
      onStored: () => undefined,
      elapsedMs: () => 0,
      createHasher: () => ({
        update: async () => {
          calls += 1;
          throw new ImageHashError('its worker stopped.');
        },
        close: () => undefined,
      }),
    }).catch((e: unknown) => e);
    expect(calls).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(ImageHashError);
    expect((error as Error).message).toBe(
      "The image's SHA-256 could not be computed: its worker stopped.",
    );
    expect((await localCopy.getGeneration(record.volumeId, 1))?.nextPosition).toBe(0);
  });
});
