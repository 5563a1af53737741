/**
 * The parallel restore of one image (issue #6, RS-5, RS-6) with real
 * crypto: chunks opened out of order by the decryption pool are written in
 * image order and give the sealed image across key epochs; progress is
 * saved only after a chunk is written and flushed; a tampered chunk in the
 * middle stops the run naming it, after exactly the chunks before it; an
 * abort stops it; no plaintext is left unwiped; and never more than the
 * in-flight bound of chunks exists at once.
 */

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  openManifestSecret,
  RestoreVerifier,
  TamperedChunkError,
  type IndexedChunk,
  type RestoreProgress,
  type VolumeKeys,
} from '@/core/crypto';
import {
  makeBackup,
  randomImage,
  type BackupFixture,
} from '@/core/crypto/test-support/backup-fixture';
import { ChunkBudget } from '@/shared/workers/chunk-budget';
import { InProcessDecryptPool, type DecryptPool } from './restore-decrypt-pool';
import { restoreChunksInFlight, runRestorePipeline, type ImageSink } from './restore-pipeline';
import type { ChunkSource } from './restore-sources';

const CHUNK = 512;
let backup: BackupFixture;

beforeAll(async () => {
  backup = await makeBackup(randomImage(11 * CHUNK + 77), { chunkSize: CHUNK, rotateEvery: 4 });
});

/** A pool that hands results back in the order `delay` releases them, and counts what it holds. */
class ReorderingPool implements DecryptPool {
  readonly ready = Promise.resolve();
  readonly plaintexts: Uint8Array[] = [];
  opening = 0;
  peakOpening = 0;
  #inner = new InProcessDecryptPool();

  constructor(
    readonly size: number,
    private readonly delay: <T>(result: Promise<T>, label: string) => Promise<T>,
  ) {}

  init(keys: VolumeKeys): Promise<void> {
    return this.#inner.init(keys);
  }

  async open(chunk: IndexedChunk, blob: Uint8Array<ArrayBuffer> | undefined) {
    this.opening += 1;
    this.peakOpening = Math.max(this.peakOpening, this.opening);
    try {
      const opened = this.#inner.open(chunk, blob);
      // Its failure is seen when the delay releases it.
      opened.catch(() => undefined);
      const plaintext = await this.delay(opened, `open ${chunk.position}`);
      this.plaintexts.push(plaintext);
      return plaintext;
    } finally {
      this.opening -= 1;
    }
  }

  close(): void {
    this.#inner.close();
  }
}

type Event = { kind: 'write' | 'flush'; at: number } | { kind: 'save'; progress: RestoreProgress };

class MemorySink implements ImageSink {
  bytes = new Uint8Array(0);
  flushed = 0;
  readonly events: Event[] = [];
  closed = false;

  async truncate(size: number) {
    this.bytes = this.bytes.slice(0, size);
  }
  async write(data: Uint8Array, offset: number) {
    const next = new Uint8Array(Math.max(this.bytes.length, offset + data.length));
    next.set(this.bytes);
    next.set(data, offset);
    this.bytes = next;
    this.events.push({ kind: 'write', at: offset });
  }
  async flush() {
    this.flushed = this.bytes.length;
    this.events.push({ kind: 'flush', at: this.bytes.length });
  }
  async close() {
    this.closed = true;
  }
  async discard() {
    this.bytes = new Uint8Array(0);
  }
}

function siteSource(blobs: ReadonlyMap<string, Uint8Array<ArrayBuffer>>): ChunkSource {
  return { name: 'site', read: async (_volumeId, entry) => blobs.get(entry.chunkId)?.slice() };
}

async function run(
  pool: DecryptPool,
  options: {
    blobs?: ReadonlyMap<string, Uint8Array<ArrayBuffer>>;
    signal?: AbortSignal;
    budget?: ChunkBudget;
    sink?: MemorySink;
    saved?: RestoreProgress[];
  } = {},
) {
  const secret = await openManifestSecret(backup.manifest, backup.keys.dataKeys);
  const verifier = await RestoreVerifier.create(backup.manifest.index, secret, backup.keys);
  await pool.init(backup.keys);
  const sink = options.sink ?? new MemorySink();
  const saved = options.saved ?? [];
  const sha256 = await runRestorePipeline({
    verifier,
    index: backup.manifest.index,
    sources: [siteSource(options.blobs ?? backup.blobs)],
    pool,
    sink,
    saveProgress: async (progress) => {
      // RS-6: what a resume would trust is on disk already.
      expect(sink.flushed).toBe(progress.bytesWritten);
      saved.push(progress);
      sink.events.push({ kind: 'save', progress });
    },
    onProgress: () => undefined,
    signal: options.signal ?? new AbortController().signal,
    ...(options.budget ? { budget: options.budget } : {}),
  });
  return { sha256, sink, saved };
}

const positions = (count: number) => Array.from({ length: count }, (_, i) => i);

describe('runRestorePipeline with a decryption pool', () => {
  it('writes chunks that finish in any order in image order, across key epochs', async () => {
    const count = backup.manifest.index.chunks.length;
    expect(new Set(backup.manifest.index.chunks.map((c) => c.epoch)).size).toBe(3);
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 4 }), async (s, workers) => {
        const pool = new ReorderingPool(workers, (result, label) => s.schedule(result, label));
        const budget = new ChunkBudget(restoreChunksInFlight(workers));
        const { sha256, sink, saved } = await s.waitFor(run(pool, { budget }));
        expect(sha256).toBe(backup.secret.imageSha256);
        expect(sink.bytes).toEqual(backup.image);
        expect(sink.closed).toBe(true);
        expect(saved.map((p) => p.nextPosition)).toEqual(positions(count).map((p) => p + 1));
        const writes = sink.events.flatMap((e) => (e.kind === 'write' ? [e.at] : []));
        expect(writes).toEqual(positions(count).map((p) => p * CHUNK));
        // Each chunk: written, flushed, then its progress saved.
        expect(sink.events.map((e) => e.kind)).toEqual(
          positions(count).flatMap(() => ['write', 'flush', 'save']),
        );
        expect(budget.peak).toBeLessThanOrEqual(restoreChunksInFlight(workers));
        expect(pool.peakOpening).toBeLessThanOrEqual(restoreChunksInFlight(workers));
        // Every plaintext was wiped once written.
        expect(pool.plaintexts).toHaveLength(count);
        expect(pool.plaintexts.every((p) => p.every((byte) => byte === 0))).toBe(true);
      }),
      { numRuns: 12 },
    );
  });

  it('opens several chunks at once, but never more than the bound', async () => {
    const pool = new ReorderingPool(3, async (result) => result);
    const budget = new ChunkBudget(restoreChunksInFlight(3));
    await run(pool, { budget });
    expect(budget.limit).toBe(8);
    expect(budget.peak).toBeGreaterThan(1);
    expect(budget.peak).toBeLessThanOrEqual(8);
  });

  it('stops at a tampered chunk in the middle, naming it, after exactly the chunks before it', async () => {
    const tampered = 6;
    const blobs = new Map(backup.blobs);
    const id = backup.manifest.index.chunks[tampered]!.chunkId;
    const flipped = blobs.get(id)!.slice();
    flipped[40]! ^= 0x01;
    blobs.set(id, flipped);
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        const pool = new ReorderingPool(3, (result, label) => s.schedule(result, label));
        const sink = new MemorySink();
        const saved: RestoreProgress[] = [];
        const error = await s.waitFor(
          run(pool, { blobs, sink, saved }).then(
            () => undefined,
            (e: unknown) => e,
          ),
        );
        await s.waitIdle();
        expect(error).toBeInstanceOf(TamperedChunkError);
        expect(error).toMatchObject({ chunkIndex: tampered, chunkId: id });
        expect((error as Error).message).toContain('tampered');
        expect(sink.bytes).toEqual(backup.image.subarray(0, tampered * CHUNK));
        expect(saved.at(-1)?.nextPosition).toBe(tampered);
        // Chunks opened ahead of the tampered one never reach the output and are wiped.
        expect(pool.plaintexts.every((p) => p.every((byte) => byte === 0))).toBe(true);
      }),
      { numRuns: 12 },
    );
  });

  it('stops on abort: nothing more is written and the chunks opened ahead are wiped', async () => {
    const controller = new AbortController();
    const sink = new MemorySink();
    const pool = new ReorderingPool(2, async (result) => result);
    const write = sink.write.bind(sink);
    let writes = 0;
    sink.write = async (data, offset) => {
      await write(data, offset);
      writes += 1;
      if (writes === 3)
        controller.abort(new DOMException('The restore was stopped.', 'AbortError'));
    };
    const error = await run(pool, { sink, signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(writes).toBe(3);
    expect(sink.bytes).toEqual(backup.image.subarray(0, 3 * CHUNK));
    await until(() => pool.opening === 0);
    expect(pool.plaintexts.every((p) => p.every((byte) => byte === 0))).toBe(true);
  });
});

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve));
  expect(done()).toBe(true);
}
