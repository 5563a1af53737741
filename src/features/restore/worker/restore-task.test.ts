/**
 * One restore job with its decryption pool (issue #6, RS-5, RS-6): a
 * tampered chunk discards the partial output and names the chunk; Cancel
 * stops the pool's work at once; a pool worker that dies ends the job with
 * a clear failure, keeping what was verified for a resume; whichever way
 * the job ends, its pool is closed.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { openManifestSecret, type IndexedChunk, type VolumeKeys } from '@/core/crypto';
import {
  makeBackup,
  randomImage,
  type BackupFixture,
} from '@/core/crypto/test-support/backup-fixture';
import { DecryptWorkerError, InProcessDecryptPool, type DecryptPool } from './restore-decrypt-pool';
import type { ImageSink } from './restore-pipeline';
import type { RestoreJobStart } from './restore-protocol';
import type { ChunkSource } from './restore-sources';
import { startRestoreTask } from './restore-task';

const CHUNK = 256;
let backup: BackupFixture;
let start: RestoreJobStart;

beforeAll(async () => {
  backup = await makeBackup(randomImage(10 * CHUNK), { chunkSize: CHUNK, rotateEvery: 4 });
  start = {
    type: 'start',
    restoreId: 'restore-1',
    index: backup.manifest.index,
    secret: await openManifestSecret(backup.manifest, backup.keys.dataKeys),
    keys: backup.keys,
    source: 'site',
  };
});

/** The in-process pool, with a hook before each chunk and a record of its closing. */
class WatchedPool implements DecryptPool {
  readonly size = 2;
  readonly ready = Promise.resolve();
  closed = 0;
  #inner = new InProcessDecryptPool();

  constructor(
    private readonly before: (position: number) => Promise<void> = async () => undefined,
  ) {}

  init(keys: VolumeKeys): Promise<void> {
    return this.#inner.init(keys);
  }

  async open(chunk: IndexedChunk, blob: Uint8Array<ArrayBuffer> | undefined) {
    await this.before(chunk.position);
    return this.#inner.open(chunk, blob);
  }

  close(): void {
    this.closed += 1;
    this.#inner.close();
  }
}

function memorySink() {
  const state = { bytes: 0, discarded: false, closed: false };
  const sink: ImageSink = {
    truncate: async (size) => void (state.bytes = size),
    write: async (data, offset) => void (state.bytes = Math.max(state.bytes, offset + data.length)),
    flush: async () => undefined,
    close: async () => void (state.closed = true),
    discard: async () => void (state.discarded = true),
  };
  return { sink, state };
}

function site(blobs: ReadonlyMap<string, Uint8Array<ArrayBuffer>>): ChunkSource {
  return { name: 'site', read: async (_v, entry) => blobs.get(entry.chunkId)?.slice() };
}

function run(
  pool: DecryptPool,
  blobs = backup.blobs,
  onSaved: (nextPosition: number) => void = () => undefined,
) {
  const { sink, state } = memorySink();
  const saved: number[] = [];
  const task = startRestoreTask(
    start,
    {
      openSink: async () => sink,
      local: site(new Map()),
      site: site(blobs),
      saveProgress: async (_id, progress) => {
        saved.push(progress.nextPosition);
        onSaved(progress.nextPosition);
      },
      pool,
    },
    () => undefined,
  );
  return { task, state, saved };
}

describe('startRestoreTask with a decryption pool', () => {
  it('restores the image and closes the pool', async () => {
    const pool = new WatchedPool();
    const { task, state } = run(pool);
    expect(await task.outcome).toEqual({
      type: 'complete',
      sha256: backup.secret.imageSha256,
      bytesWritten: backup.image.length,
    });
    expect(state.closed).toBe(true);
    expect(pool.closed).toBeGreaterThan(0);
  });

  it('stops at a tampered chunk naming it, and discards the partial image', async () => {
    const blobs = new Map(backup.blobs);
    const id = backup.manifest.index.chunks[5]!.chunkId;
    const swapped = backup.blobs.get(backup.manifest.index.chunks[6]!.chunkId)!;
    blobs.set(id, swapped);
    const pool = new WatchedPool();
    const { task, state, saved } = run(pool, blobs);
    const outcome = await task.outcome;
    expect(outcome).toMatchObject({
      type: 'failed',
      error: { name: 'TamperedChunkError', code: 'tampered_chunk', chunkIndex: 5, chunkId: id },
    });
    expect(outcome.type === 'failed' && outcome.error.message).toContain('tampered');
    expect(state.discarded).toBe(true);
    expect(saved.at(-1)).toBe(5);
    expect(pool.closed).toBeGreaterThan(0);
  });

  it('Cancel stops a chunk stuck in the pool at once, and the job says it was stopped', async () => {
    // Chunk 2 is being decrypted and never finishes (a stuck worker).
    const pool = new WatchedPool(async (position) => {
      if (position === 2) await new Promise(() => undefined);
    });
    const { task, state, saved } = run(pool, backup.blobs, (nextPosition) => {
      // Chunks 0 and 1 are written; once every pending callback has run the
      // restore waits for chunk 2, and the user presses Cancel.
      if (nextPosition === 2) setTimeout(() => task.cancel(true));
    });
    const outcome = await task.outcome;
    expect(outcome).toMatchObject({ type: 'failed', error: { code: 'cancelled' } });
    expect(saved).toEqual([1, 2]);
    expect(pool.closed).toBeGreaterThan(0);
    expect(state.discarded).toBe(true);
  });

  it('a pool worker that dies ends the job with a clear failure and keeps what was verified', async () => {
    const pool = new WatchedPool(async (position) => {
      if (position === 7) {
        throw new DecryptWorkerError('WorkerError', 'A decryption worker stopped: out of memory.');
      }
    });
    const { task, state, saved } = run(pool);
    const outcome = await task.outcome;
    expect(outcome).toEqual({
      type: 'failed',
      error: { name: 'WorkerError', message: 'A decryption worker stopped: out of memory.' },
    });
    expect(state.discarded).toBe(false);
    expect(state.closed).toBe(true);
    expect(saved.at(-1)).toBe(7);
  });
});
