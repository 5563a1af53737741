/**
 * The pool of crypto workers (BK-6): one worker per core, each chunk sent to
 * the worker with the fewest chunks waiting, plaintext and blobs transferred
 * rather than copied. Where module workers are missing (tests in jsdom) the
 * same handler runs in-process behind the same interface.
 */

import { createSealHandler, type SealHandler } from './seal-handler';
import type { SealInit, SealWorkerReply, SealWorkerRequest } from './seal-protocol';

export type SealOutcome =
  | {
      readonly kind: 'sealed';
      readonly chunkId: string;
      readonly blob: Uint8Array<ArrayBuffer>;
      readonly ciphertextSha256: string;
      readonly length: number;
      readonly epoch: number;
    }
  | { readonly kind: 'known'; readonly chunkId: string; readonly length: number };

export type SealSetup = Omit<SealInit, 'type'>;

export interface SealPool {
  readonly size: number;
  /** Sets every worker up for one backup (keys, epoch, known chunk IDs). */
  init(setup: SealSetup): Promise<void>;
  /** Seals one chunk; `plaintext` is transferred and unusable afterwards. */
  seal(plaintext: ArrayBuffer): Promise<SealOutcome>;
  close(): void;
}

/** A worker's failure, carried back as a value with the original name and code. */
export class SealError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

function outcomeOf(reply: SealWorkerReply): SealOutcome {
  switch (reply.type) {
    case 'sealed':
      return {
        kind: 'sealed',
        chunkId: reply.chunkId,
        blob: new Uint8Array(reply.blob),
        ciphertextSha256: reply.ciphertextSha256,
        length: reply.length,
        epoch: reply.epoch,
      };
    case 'known':
      return { kind: 'known', chunkId: reply.chunkId, length: reply.length };
    case 'failed':
      throw new SealError(reply.name, reply.message, reply.code);
    case 'ready':
      throw new Error('The crypto worker answered a chunk with "ready".');
  }
}

/** Runs the worker's code on this thread: same messages, no parallelism. */
export class InProcessSealPool implements SealPool {
  readonly size: number;
  #handler: SealHandler = createSealHandler();

  constructor(size = 1) {
    this.size = size;
  }

  async init(setup: SealSetup): Promise<void> {
    const { reply } = await this.#handler({ type: 'init', ...setup });
    if (reply.type === 'failed') throw new SealError(reply.name, reply.message, reply.code);
  }

  async seal(plaintext: ArrayBuffer): Promise<SealOutcome> {
    const { reply } = await this.#handler({ type: 'seal', id: 0, plaintext });
    return outcomeOf(reply);
  }

  close(): void {}
}

interface Pending {
  readonly resolve: (reply: SealWorkerReply) => void;
  readonly reject: (error: unknown) => void;
}

interface PooledWorker {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

/** Real Web Workers, one per core. */
export class WorkerSealPool implements SealPool {
  readonly size: number;
  #workers: PooledWorker[];
  #nextId = 1;

  constructor(size: number, spawn: () => Worker = spawnSealWorker) {
    this.size = size;
    this.#workers = Array.from({ length: size }, () => this.#wrap(spawn()));
  }

  #wrap(worker: Worker): PooledWorker {
    const pooled: PooledWorker = { worker, pending: new Map() };
    worker.onmessage = (event: MessageEvent<SealWorkerReply>) => {
      const reply = event.data;
      const id = reply.type === 'ready' ? 0 : (reply.id ?? 0);
      const waiting = pooled.pending.get(id);
      pooled.pending.delete(id);
      waiting?.resolve(reply);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const error = new SealError('WorkerError', event.message || 'A crypto worker stopped.');
      for (const waiting of pooled.pending.values()) waiting.reject(error);
      pooled.pending.clear();
    };
    return pooled;
  }

  #post(
    pooled: PooledWorker,
    id: number,
    request: SealWorkerRequest,
    transfer: Transferable[] = [],
  ): Promise<SealWorkerReply> {
    return new Promise((resolve, reject) => {
      pooled.pending.set(id, { resolve, reject });
      pooled.worker.postMessage(request, transfer);
    });
  }

  async init(setup: SealSetup): Promise<void> {
    const replies = await Promise.all(
      this.#workers.map((pooled) => this.#post(pooled, 0, { type: 'init', ...setup })),
    );
    for (const reply of replies) {
      if (reply.type === 'failed') throw new SealError(reply.name, reply.message, reply.code);
    }
  }

  async seal(plaintext: ArrayBuffer): Promise<SealOutcome> {
    const pooled = this.#workers.reduce((best, w) =>
      w.pending.size < best.pending.size ? w : best,
    );
    const id = this.#nextId++;
    const reply = await this.#post(pooled, id, { type: 'seal', id, plaintext }, [plaintext]);
    return outcomeOf(reply);
  }

  close(): void {
    const error = new SealError('AbortError', 'The crypto workers were stopped.');
    for (const pooled of this.#workers) {
      for (const waiting of pooled.pending.values()) waiting.reject(error);
      pooled.pending.clear();
      pooled.worker.terminate();
    }
    this.#workers = [];
  }
}

function spawnSealWorker(): Worker {
  return new Worker(new URL('./seal.worker.ts', import.meta.url), {
    type: 'module',
    name: 'custodian-seal',
  });
}

/** Workers where the browser has them, the in-process pool elsewhere. */
export function createSealPool(size: number): SealPool {
  return typeof Worker === 'undefined' ? new InProcessSealPool(size) : new WorkerSealPool(size);
}
