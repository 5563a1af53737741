/**
 * The decryption workers of a restore (RS-5, issue #6): one per core, each
 * chunk sent to the worker with the fewest chunks waiting, blobs and
 * plaintexts transferred rather than copied — the seal pool's pattern
 * (seal-pool.ts), on the restore side. The pool only opens chunks; the
 * restore takes them back in image order (restore-reassembly.ts).
 *
 * The workers are started with the restore worker, so their code is loaded
 * while the site is known to answer (see restore-job.ts), and are told the
 * keys when the job starts. A worker that dies fails every chunk it held
 * and every later one: the restore stops with a clear error, never hangs.
 */

import {
  TamperedChunkError,
  type ChunkFailure,
  type IndexedChunk,
  type VolumeKeys,
} from '@/core/crypto';
import { cryptoWorkerCount } from '@/shared/workers/crypto-workers';
import { createDecryptHandler, type DecryptHandler } from './restore-decrypt-handler';
import type {
  DecryptFailed,
  DecryptWorkerReply,
  DecryptWorkerRequest,
} from './restore-decrypt-protocol';

export interface DecryptPool {
  readonly size: number;
  /** Resolves once every worker's code is loaded; rejects if one cannot be. */
  readonly ready: Promise<void>;
  /** Gives every worker the keys of this restore. */
  init(keys: VolumeKeys): Promise<void>;
  /**
   * Opens one chunk (openIndexedChunk). `blob` is transferred and unusable
   * afterwards; undefined means no copy held one.
   */
  open(
    chunk: IndexedChunk,
    blob: Uint8Array<ArrayBuffer> | undefined,
  ): Promise<Uint8Array<ArrayBuffer>>;
  /** Stops every worker; chunks still being opened fail with an AbortError. */
  close(): void;
}

/** Decryption workers: one per core, at least one, capped — the same rule as the backup's. */
export function decryptWorkerCount(
  cores: number | undefined = globalThis.navigator?.hardwareConcurrency,
): number {
  return cryptoWorkerCount(cores);
}

/** A worker's failure that is not a tampered chunk, with its original name and code. */
export class DecryptWorkerError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Rebuilds the error a worker reported: a tampered chunk stays a TamperedChunkError (RS-5). */
export function errorOf(reply: DecryptFailed): Error {
  if (reply.code === 'tampered_chunk' && reply.failure && reply.chunkId !== undefined) {
    const error = new TamperedChunkError(
      reply.failure as ChunkFailure,
      reply.chunkId,
      reply.chunkIndex ?? null,
    );
    // The worker's message carries the check's detail (lengths, epochs).
    error.message = reply.message;
    return error;
  }
  return new DecryptWorkerError(reply.name, reply.message, reply.code);
}

function plaintextOf(reply: DecryptWorkerReply): Uint8Array<ArrayBuffer> {
  switch (reply.type) {
    case 'opened':
      return new Uint8Array(reply.plaintext);
    case 'failed':
      throw errorOf(reply);
    case 'ready':
      throw new Error('A decryption worker answered a chunk with "ready".');
  }
}

/** The blob's own buffer, to transfer: a view into a larger buffer is copied first. */
function ownBuffer(blob: Uint8Array<ArrayBuffer>): ArrayBuffer {
  if (blob.byteOffset === 0 && blob.byteLength === blob.buffer.byteLength) return blob.buffer;
  return blob.slice().buffer;
}

/** Runs the workers' code on this thread: same messages, no parallelism (tests, jsdom). */
export class InProcessDecryptPool implements DecryptPool {
  readonly size: number;
  readonly ready = Promise.resolve();
  #handler: DecryptHandler = createDecryptHandler();
  #closed = false;

  constructor(size = 1) {
    this.size = size;
  }

  async init(keys: VolumeKeys): Promise<void> {
    const { reply } = await this.#handler({ type: 'init', keys });
    if (reply.type === 'failed') throw errorOf(reply);
  }

  async open(
    chunk: IndexedChunk,
    blob: Uint8Array<ArrayBuffer> | undefined,
  ): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#closed) throw closedError();
    const { reply } = await this.#handler({
      type: 'open',
      id: 0,
      ...chunk,
      blob: blob ? ownBuffer(blob) : undefined,
    });
    return plaintextOf(reply);
  }

  close(): void {
    this.#closed = true;
  }
}

interface Pending {
  readonly resolve: (reply: DecryptWorkerReply) => void;
  readonly reject: (error: unknown) => void;
}

interface PooledWorker {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  readonly loaded: Promise<void>;
}

function closedError(): DOMException {
  return new DOMException('The decryption workers were stopped.', 'AbortError');
}

/** Real Web Workers, one per core. */
export class WorkerDecryptPool implements DecryptPool {
  readonly size: number;
  readonly ready: Promise<void>;
  #workers: PooledWorker[];
  #nextId = 1;
  /** Set once a worker died or the pool was closed: every later chunk fails with it. */
  #broken: Error | undefined;

  constructor(size: number, spawn: () => Worker = spawnDecryptWorker) {
    this.size = size;
    this.#workers = Array.from({ length: size }, () => this.#wrap(spawn()));
    this.ready = Promise.all(this.#workers.map((pooled) => pooled.loaded)).then(() => undefined);
    // Awaited or not, a failure to load is reported by the chunks as well.
    this.ready.catch(() => undefined);
  }

  #wrap(worker: Worker): PooledWorker {
    let loaded!: () => void;
    let failed!: (error: Error) => void;
    const pooled: PooledWorker = {
      worker,
      pending: new Map(),
      loaded: new Promise<void>((resolve, reject) => {
        loaded = resolve;
        failed = reject;
      }),
    };
    worker.onmessage = (event: MessageEvent<DecryptWorkerReply>) => {
      const reply = event.data;
      if (reply.type === 'ready' && reply.id === undefined) {
        loaded();
        return;
      }
      const id = reply.id ?? 0;
      const waiting = pooled.pending.get(id);
      pooled.pending.delete(id);
      waiting?.resolve(reply);
    };
    const die = (error: Error): void => {
      this.#broken ??= error;
      failed(error);
      for (const waiting of pooled.pending.values()) waiting.reject(error);
      pooled.pending.clear();
      worker.terminate();
    };
    worker.onerror = (event) => {
      event.preventDefault();
      die(
        new DecryptWorkerError(
          'WorkerError',
          `A decryption worker stopped: ${event.message || 'it could not be started or crashed'}.`,
        ),
      );
    };
    worker.onmessageerror = () => {
      die(
        new DecryptWorkerError(
          'WorkerError',
          'A decryption worker sent a message that could not be read.',
        ),
      );
    };
    return pooled;
  }

  #post(
    pooled: PooledWorker,
    id: number,
    request: DecryptWorkerRequest,
    transfer: Transferable[] = [],
  ): Promise<DecryptWorkerReply> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      pooled.pending.set(id, { resolve, reject });
      pooled.worker.postMessage(request, transfer);
    });
  }

  async init(keys: VolumeKeys): Promise<void> {
    await this.ready;
    const replies = await Promise.all(
      this.#workers.map((pooled) => this.#post(pooled, 0, { type: 'init', keys })),
    );
    for (const reply of replies) if (reply.type === 'failed') throw errorOf(reply);
  }

  async open(
    chunk: IndexedChunk,
    blob: Uint8Array<ArrayBuffer> | undefined,
  ): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#broken) throw this.#broken;
    const pooled = this.#workers.reduce((best, w) =>
      w.pending.size < best.pending.size ? w : best,
    );
    const id = this.#nextId++;
    const buffer = blob ? ownBuffer(blob) : undefined;
    const reply = await this.#post(
      pooled,
      id,
      { type: 'open', id, ...chunk, blob: buffer },
      buffer ? [buffer] : [],
    );
    return plaintextOf(reply);
  }

  close(): void {
    const error = closedError();
    this.#broken ??= error;
    for (const pooled of this.#workers) {
      for (const waiting of pooled.pending.values()) waiting.reject(error);
      pooled.pending.clear();
      pooled.worker.terminate();
    }
  }
}

function spawnDecryptWorker(): Worker {
  return new Worker(new URL('./restore-decrypt.worker.ts', import.meta.url), {
    type: 'module',
    name: 'custodian-restore-decrypt',
  });
}

/** Workers where the browser has them, the in-process pool elsewhere. */
export function createDecryptPool(size = decryptWorkerCount()): DecryptPool {
  return typeof Worker === 'undefined'
    ? new InProcessDecryptPool(size)
    : new WorkerDecryptPool(size);
}
