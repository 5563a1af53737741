/**
 * The restore's decryption workers (issue #6): chunks go to the worker with
 * the fewest waiting, keys travel as CryptoKeys (never bytes), blobs are
 * transferred, a tampered chunk comes back as a TamperedChunkError naming
 * it, and a worker that dies or a pool that is closed fails its chunks at
 * once instead of leaving the restore waiting. Workers are stood in for by
 * objects that run the same handler behind structured cloning.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { TamperedChunkError } from '@/core/crypto';
import {
  makeBackup,
  randomImage,
  type BackupFixture,
} from '@/core/crypto/test-support/backup-fixture';
import { createDecryptHandler } from './restore-decrypt-handler';
import { decryptWorkerCount, DecryptWorkerError, WorkerDecryptPool } from './restore-decrypt-pool';
import type { DecryptWorkerRequest } from './restore-decrypt-protocol';

const CHUNK = 256;
let backup: BackupFixture;

beforeAll(async () => {
  backup = await makeBackup(randomImage(9 * CHUNK), { chunkSize: CHUNK, rotateEvery: 5 });
});

/** A stand-in for a module worker: the same handler, messages cloned and buffers transferred. */
class FakeWorker {
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  onmessageerror: (() => void) | null = null;
  readonly received: DecryptWorkerRequest[] = [];
  terminated = false;
  /** Holds replies back until released (a busy worker). */
  hold = false;
  readonly held: (() => void)[] = [];
  #handle = createDecryptHandler();

  constructor(loads = true) {
    if (loads) queueMicrotask(() => this.#reply({ type: 'ready' }, []));
  }

  postMessage(message: DecryptWorkerRequest, transfer: Transferable[] = []): void {
    const cloned = structuredClone(message, { transfer });
    this.received.push(message);
    void this.#handle(cloned).then(({ reply, transfer: back }) => {
      const send = () => this.#reply(reply, back);
      if (this.hold) this.held.push(send);
      else send();
    });
  }

  crash(message: string): void {
    this.onerror?.({ message, preventDefault: () => undefined } as ErrorEvent);
  }

  terminate(): void {
    this.terminated = true;
  }

  #reply(reply: unknown, transfer: Transferable[]): void {
    if (this.terminated) return;
    this.onmessage?.({ data: structuredClone(reply, { transfer }) } as MessageEvent);
  }
}

function poolOf(workers: FakeWorker[]): WorkerDecryptPool {
  let next = 0;
  return new WorkerDecryptPool(workers.length, () => workers[next++] as unknown as Worker);
}

function chunkAt(position: number) {
  const entry = backup.manifest.index.chunks[position]!;
  return { position, entry, chunkId: entry.chunkId };
}

function blobAt(position: number): Uint8Array<ArrayBuffer> {
  return backup.blobs.get(chunkAt(position).chunkId)!.slice();
}

describe('WorkerDecryptPool', () => {
  it('opens chunks of every epoch across its workers, given the keys as CryptoKeys', async () => {
    const workers = [new FakeWorker(), new FakeWorker(), new FakeWorker()];
    const pool = poolOf(workers);
    await pool.ready;
    await pool.init(backup.keys);
    for (const worker of workers) {
      const init = worker.received[0]!;
      expect(init.type).toBe('init');
      if (init.type !== 'init') continue;
      expect(init.keys.chunkIdKey).toBeInstanceOf(CryptoKey);
      expect([...init.keys.dataKeys.values()].every((k) => k instanceof CryptoKey)).toBe(true);
    }
    const count = backup.manifest.index.chunks.length;
    const blobs = Array.from({ length: count }, (_, p) => blobAt(p));
    const opened = await Promise.all(blobs.map((blob, p) => pool.open(chunkAt(p), blob)));
    expect(new Uint8Array(opened.flatMap((p) => [...p]))).toEqual(backup.image);
    // Transferred, not copied: the caller's blobs are gone.
    expect(blobs.every((blob) => blob.byteLength === 0)).toBe(true);
    // Spread over the workers, three chunks each.
    expect(workers.map((w) => w.received.length - 1)).toEqual([3, 3, 3]);
    pool.close();
    expect(workers.every((w) => w.terminated)).toBe(true);
  });

  it('gives back a tampered chunk as a TamperedChunkError naming it', async () => {
    const pool = poolOf([new FakeWorker()]);
    await pool.init(backup.keys);
    const blob = blobAt(4);
    blob[30]! ^= 0x80;
    const error = await pool.open(chunkAt(4), blob).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TamperedChunkError);
    expect(error).toMatchObject({
      code: 'tampered_chunk',
      chunkIndex: 4,
      chunkId: chunkAt(4).chunkId,
      failure: 'index-hash',
    });
    expect((error as Error).message).toMatch(/^Chunk 4 .* tampered/);
    const missing = await pool.open(chunkAt(2), undefined).catch((e: unknown) => e);
    expect(missing).toMatchObject({
      name: 'TamperedChunkError',
      failure: 'missing',
      chunkIndex: 2,
    });
  });

  it('fails the chunks of a worker that dies, and every later one, instead of waiting', async () => {
    const workers = [new FakeWorker(), new FakeWorker()];
    const pool = poolOf(workers);
    await pool.init(backup.keys);
    workers[0]!.hold = true;
    const first = pool.open(chunkAt(0), blobAt(0));
    const second = pool.open(chunkAt(1), blobAt(1));
    expect(await second).toHaveLength(CHUNK);
    workers[0]!.crash('out of memory');
    const error = await first.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DecryptWorkerError);
    expect(error).toMatchObject({
      name: 'WorkerError',
      message: 'A decryption worker stopped: out of memory.',
    });
    await expect(pool.open(chunkAt(2), blobAt(2))).rejects.toBe(error);
    expect(workers[0]!.terminated).toBe(true);
  });

  it('says so when a worker cannot be started', async () => {
    const broken = new FakeWorker(false);
    const pool = poolOf([new FakeWorker(), broken]);
    broken.crash('');
    await expect(pool.ready).rejects.toThrow(
      'A decryption worker stopped: it could not be started or crashed.',
    );
    await expect(pool.init(backup.keys)).rejects.toThrow(/decryption worker stopped/);
  });

  it('stops chunks being opened when it is closed (a cancelled restore)', async () => {
    const worker = new FakeWorker();
    const pool = poolOf([worker]);
    await pool.init(backup.keys);
    worker.hold = true;
    const pending = pool.open(chunkAt(0), blobAt(0));
    pool.close();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await expect(pool.open(chunkAt(1), blobAt(1))).rejects.toMatchObject({ name: 'AbortError' });
    expect(worker.terminated).toBe(true);
  });
});

describe('decryptWorkerCount', () => {
  it('is one per core, at least one, capped', () => {
    expect(decryptWorkerCount(undefined)).toBeGreaterThanOrEqual(1);
    expect(decryptWorkerCount(0)).toBe(1);
    expect(decryptWorkerCount(4)).toBe(4);
    expect(decryptWorkerCount(64)).toBe(8);
  });
});
