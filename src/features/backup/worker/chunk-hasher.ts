/**
 * The image's SHA-256 (BK-6, BK-7) off the page's main thread: each chunk's
 * buffer is transferred to a hashing worker, hashed after every chunk given
 * before it, and transferred back with the hash state after it. The main
 * thread, which also writes IndexedDB and sends the transfers, no longer
 * spends its time in SHA-256, and hashing overlaps reading, sealing and
 * storing. Where module workers are missing (tests in jsdom) the same
 * handler runs in-process behind the same interface.
 */

import { ImageHash } from '@/core/crypto';

/** A chunk's buffer, given back, and the image hash state after it. */
export interface HashedChunk {
  readonly buffer: ArrayBuffer;
  readonly state: Uint8Array<ArrayBuffer>;
}

export interface ChunkHasher {
  /** Hashes `buffer` after everything given before; `buffer` is transferred and comes back. */
  update(buffer: ArrayBuffer): Promise<HashedChunk>;
  close(): void;
}

export type ChunkHashRequest =
  | { readonly type: 'init'; readonly state: Uint8Array<ArrayBuffer> }
  | { readonly type: 'update'; readonly id: number; readonly buffer: ArrayBuffer };

export type ChunkHashReply =
  | {
      readonly type: 'hashed';
      readonly id: number;
      readonly buffer: ArrayBuffer;
      readonly state: Uint8Array<ArrayBuffer>;
    }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };

/** The image hash could not be computed; the backup stops with this message. */
export class ImageHashError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`The image's SHA-256 could not be computed: ${message}`, options);
    this.name = 'ImageHashError';
  }
}

export type ChunkHashHandler = (
  request: ChunkHashRequest,
) => Promise<{ reply: ChunkHashReply; transfer: Transferable[] } | undefined>;

/** What the hashing worker does, one request after the other, in order. */
export function createChunkHashHandler(): ChunkHashHandler {
  let hash: Promise<ImageHash> = Promise.reject(new Error('it was not given a starting state.'));
  hash.catch(() => undefined);
  let queue: Promise<unknown> = Promise.resolve();
  return (request) => {
    const work = queue.then(async () => {
      if (request.type === 'init') {
        hash = ImageHash.restore(request.state);
        hash.catch(() => undefined);
        return undefined;
      }
      try {
        const image = await hash;
        image.update(new Uint8Array(request.buffer));
        const reply: ChunkHashReply = {
          type: 'hashed',
          id: request.id,
          buffer: request.buffer,
          state: image.saveState(),
        };
        return { reply, transfer: [request.buffer] };
      } catch (error) {
        const reply: ChunkHashReply = {
          type: 'failed',
          id: request.id,
          message: error instanceof Error ? error.message : String(error),
        };
        return { reply, transfer: [] };
      }
    });
    queue = work;
    return work;
  };
}

function outcomeOf(reply: ChunkHashReply): HashedChunk {
  if (reply.type === 'failed') throw new ImageHashError(reply.message);
  return { buffer: reply.buffer, state: reply.state };
}

/** Runs the worker's code on this thread: same messages, no parallelism. */
export class InProcessChunkHasher implements ChunkHasher {
  #handler = createChunkHashHandler();

  constructor(state: Uint8Array<ArrayBuffer>) {
    void this.#handler({ type: 'init', state });
  }

  async update(buffer: ArrayBuffer): Promise<HashedChunk> {
    const answer = await this.#handler({ type: 'update', id: 0, buffer });
    return outcomeOf(answer!.reply);
  }

  close(): void {}
}

/** A dedicated worker. */
export class WorkerChunkHasher implements ChunkHasher {
  #worker: Worker | undefined;
  #pending = new Map<
    number,
    { resolve: (reply: ChunkHashReply) => void; reject: (error: unknown) => void }
  >();
  #nextId = 1;
  #failure: Error | undefined;

  constructor(state: Uint8Array<ArrayBuffer>, spawn: () => Worker = spawnChunkHashWorker) {
    const worker = spawn();
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<ChunkHashReply>) => {
      const waiting = this.#pending.get(event.data.id);
      this.#pending.delete(event.data.id);
      waiting?.resolve(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(new ImageHashError(event.message || 'its worker stopped.'));
    };
    const request: ChunkHashRequest = { type: 'init', state };
    worker.postMessage(request);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiting of this.#pending.values()) waiting.reject(error);
    this.#pending.clear();
  }

  async update(buffer: ArrayBuffer): Promise<HashedChunk> {
    const worker = this.#worker;
    if (this.#failure) throw this.#failure;
    if (!worker) throw new ImageHashError('it was stopped.');
    const id = this.#nextId++;
    const reply = await new Promise<ChunkHashReply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const request: ChunkHashRequest = { type: 'update', id, buffer };
      worker.postMessage(request, [buffer]);
    });
    return outcomeOf(reply);
  }

  close(): void {
    this.#fail(new ImageHashError('it was stopped.'));
    this.#worker?.terminate();
    this.#worker = undefined;
  }
}

function spawnChunkHashWorker(): Worker {
  return new Worker(new URL('./chunk-hash.worker.ts', import.meta.url), {
    type: 'module',
    name: 'custodian-image-hash',
  });
}

/** A worker where the browser has them, the in-process hasher elsewhere. */
export function createChunkHasher(state: Uint8Array<ArrayBuffer>): ChunkHasher {
  return typeof Worker === 'undefined'
    ? new InProcessChunkHasher(state)
    : new WorkerChunkHasher(state);
}
