import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3Config } from '../config';
import type { BlobStore } from '../domain/escrow/ports';

const CHUNK_ID = /^[0-9a-f]{64}$/;

/** Attempts of one request, the first included; the SDK backs off between them (standard retry mode). */
export const S3_MAX_ATTEMPTS = 4;
const CONNECT_TIMEOUT_MS = 5_000;
/** Longest silence on a connection while a request is answered (a blob is at most one chunk). */
const REQUEST_TIMEOUT_MS = 30_000;
/** How long `check` waits for the bucket, retries included: a health check must answer. */
const CHECK_TIMEOUT_MS = 5_000;
/** How often a conditional write is tried again when the store says another is under way (409). */
const CONFLICT_ATTEMPTS = 5;

/** The store and its credentials, as the site's configuration gives them (S3Config). */
export interface S3BlobStoreOptions extends S3Config {
  /** What every key starts with; default `blobs/`. */
  readonly prefix?: string;
  /**
   * Whether the store honours `If-None-Match: *` on PutObject. `auto`
   * (the default) asks the store once, with a probe object, before the first put.
   */
  readonly conditionalWrites?: 'auto' | boolean;
  readonly maxAttempts?: number;
  readonly connectTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

/** Whether the bucket answers, and if not, why not. */
export type ObjectStoreCheck =
  { readonly reachable: true } | { readonly reachable: false; readonly reason: string };

/** A request to the object store that failed (after the SDK's retries); the message names the store. */
export class ObjectStoreError extends Error {
  override readonly name = 'ObjectStoreError';
}

/**
 * Chunk blobs in a bucket of an S3-compatible store, one object per blob at
 * `<prefix><SHA-256 of the volume ID>/<chunk ID>`: volume IDs are free text
 * of up to 1024 bytes (docs/FORMAT.md §1), more than fits in an object key
 * once encoded, so the volume's part is its hash, as in the filesystem store.
 *
 * The first writer wins. A store with conditional writes refuses a second
 * PutObject with `If-None-Match: *` (412), which holds across any number of
 * site instances. A store without them gets a HeadObject and then a
 * PutObject under a lock per key, which holds within this process only:
 * several instances on one such store may each think they stored a blob.
 */
export class S3BlobStore implements BlobStore {
  /** Where the store is, as the site names it to operators (no credentials). */
  readonly endpoint: string;
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly conditional: 'auto' | boolean;
  private detected: Promise<boolean> | undefined;
  /** Writes and deletions in progress by key, when the store has no conditional writes. */
  private readonly locks = new Map<string, Promise<void>>();

  constructor(options: S3BlobStoreOptions) {
    this.endpoint = options.endpoint ?? `https://s3.${options.region}.amazonaws.com`;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? 'blobs/';
    this.conditional = options.conditionalWrites ?? 'auto';
    this.client = new S3Client({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      credentials: {
        accessKeyId: options.accessKeyId,
        secretAccessKey: options.secretAccessKey,
      },
      maxAttempts: options.maxAttempts ?? S3_MAX_ATTEMPTS,
      retryMode: 'standard',
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
        requestTimeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      },
    });
  }

  /** "the object store at <endpoint>, bucket <bucket>", for messages. */
  get storeName(): string {
    return `the object store at ${this.endpoint}, bucket "${this.bucket}"`;
  }

  /** Closes the client's connections; the store is not used after. */
  close(): void {
    this.client.destroy();
  }

  keyOf(volumeId: string, chunkId: string): string {
    if (!CHUNK_ID.test(chunkId)) throw new Error('a chunk ID is 64 lower-case hex digits');
    const volumeKey = createHash('sha256').update(volumeId, 'utf8').digest('hex');
    return `${this.prefix}${volumeKey}/${chunkId}`;
  }

  /** Whether the bucket answers (HeadBucket), within a few seconds: for /api/health and the start. */
  async check(): Promise<ObjectStoreCheck> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), {
        abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
      });
      return { reachable: true };
    } catch (error) {
      return { reachable: false, reason: reasonOf(error) };
    }
  }

  /** Whether puts rely on the store's conditional writes; asked of the store once when `auto`. */
  conditionalWrites(): Promise<boolean> {
    if (this.conditional !== 'auto') return Promise.resolve(this.conditional);
    this.detected ??= this.probeConditionalWrites().catch((error: unknown) => {
      // Asked again at the next put: the store may answer then.
      this.detected = undefined;
      throw error;
    });
    return this.detected;
  }

  async put(volumeId: string, chunkId: string, blob: Uint8Array): Promise<'stored' | 'exists'> {
    const key = this.keyOf(volumeId, chunkId);
    if (await this.conditionalWrites()) {
      const answer = await this.putIfNoneMatch(key, blob);
      if (answer === 'unsupported')
        throw new ObjectStoreError(
          `A conditional write (If-None-Match) was refused by ${this.storeName}.`,
        );
      return answer;
    }
    // Without conditional writes: first writer wins within this process only (see the class).
    return this.exclusively(key, async () => {
      if (await this.exists(key)) return 'exists';
      await this.request('store', key, () =>
        this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: blob })),
      );
      return 'stored';
    });
  }

  async get(volumeId: string, chunkId: string): Promise<Uint8Array | undefined> {
    const key = this.keyOf(volumeId, chunkId);
    return this.request('read', key, async () => {
      try {
        const answer = await this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: key }),
        );
        return await readBody(answer.Body, answer.ContentLength, Number.POSITIVE_INFINITY);
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    });
  }

  async head(volumeId: string, chunkId: string, length: number): Promise<Uint8Array | undefined> {
    const key = this.keyOf(volumeId, chunkId);
    // The filesystem store's read buffer refuses such a length the same way.
    if (!Number.isSafeInteger(length) || length < 0)
      throw new RangeError(`Invalid typed array length: ${length}`);
    if (length === 0) return (await this.exists(key)) ? new Uint8Array(0) : undefined;
    return this.request('read the head of', key, async () => {
      try {
        const answer = await this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${length - 1}` }),
        );
        // An empty object has no byte 0: some stores say so with a Content-Range total of 0.
        if (rangeTotal(answer.ContentRange) === 0) {
          if (answer.Body instanceof Readable) answer.Body.destroy();
          return new Uint8Array(0);
        }
        return await readBody(answer.Body, answer.ContentLength, length);
      } catch (error) {
        if (isMissing(error)) return undefined;
        // 416: no byte of the range exists, so the object is there and empty.
        if (statusOf(error) === 416) return new Uint8Array(0);
        throw error;
      }
    });
  }

  async delete(volumeId: string, chunkId: string): Promise<void> {
    const key = this.keyOf(volumeId, chunkId);
    const remove = async () => {
      await this.request('delete', key, () =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
      );
    };
    // Ordered with this process's puts of the key when those rely on the lock.
    if (await this.conditionalWrites()) await remove();
    else await this.exclusively(key, remove);
  }

  private async exists(key: string): Promise<boolean> {
    return this.request('look for', key, async () => {
      try {
        await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
        return true;
      } catch (error) {
        if (isMissing(error)) return false;
        throw error;
      }
    });
  }

  /** PutObject with `If-None-Match: *`: 412 means another writer stored the key first. */
  private async putIfNoneMatch(
    key: string,
    blob: Uint8Array,
  ): Promise<'stored' | 'exists' | 'unsupported'> {
    return this.request('store', key, async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.client.send(
            new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: blob, IfNoneMatch: '*' }),
          );
          return 'stored';
        } catch (error) {
          const status = statusOf(error);
          if (status === 412) return 'exists';
          if (status === 501) return 'unsupported';
          // 409: a conditional write of the same key is under way; its outcome decides (AWS S3).
          if (status === 409 && attempt < CONFLICT_ATTEMPTS) {
            await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
            continue;
          }
          throw error;
        }
      }
    });
  }

  /**
   * Writes a probe object twice with `If-None-Match: *`: a store that has
   * conditional writes refuses the second (412); one that ignores the
   * header stores both, and one that does not implement it answers 501.
   */
  private async probeConditionalWrites(): Promise<boolean> {
    const key = `${this.prefix}.probe/${randomUUID()}`;
    const empty = new Uint8Array(0);
    const first = await this.putIfNoneMatch(key, empty);
    const second = first === 'unsupported' ? first : await this.putIfNoneMatch(key, empty);
    await this.request('delete', key, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
    );
    return first === 'stored' && second === 'exists';
  }

  /** Runs `work` after every earlier call for the same key has finished. */
  private async exclusively<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.locks.get(key) ?? Promise.resolve();
    const run = before.then(work);
    const done = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, done);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === done) this.locks.delete(key);
    }
  }

  private async request<T>(action: string, key: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof ObjectStoreError) throw error;
      throw new ObjectStoreError(
        `Could not ${action} ${key} in ${this.storeName}: ${reasonOf(error)}`,
        {
          cause: error,
        },
      );
    }
  }
}

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  const metadata = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return metadata?.httpStatusCode;
}

/** No such object (NoSuchKey; NotFound for HEAD, which has no body) — but not a missing bucket. */
function isMissing(error: unknown): boolean {
  return statusOf(error) === 404 && (error as Error).name !== 'NoSuchBucket';
}

function reasonOf(error: unknown): string {
  const status = statusOf(error);
  const text = error instanceof Error ? error.message : String(error);
  if (status === undefined) return text;
  const meaning: Record<number, string> = {
    301: 'the bucket is in another region',
    403: 'access denied: check the access key and its rights on the bucket',
    404: 'no such bucket or object',
  };
  const name = error instanceof Error ? error.name : 'error';
  // HEAD answers have no body, so the SDK knows only the status ("UnknownError").
  const detail = text && text !== 'UnknownError' ? `${name}: ${text}` : name;
  return `HTTP ${status} (${meaning[status] ?? detail})`;
}

/** The complete length after the slash of a Content-Range (`bytes 0-1/5` → 5). */
function rangeTotal(contentRange: string | undefined): number | undefined {
  const total = contentRange?.match(/\/(\d+)$/)?.[1];
  return total === undefined ? undefined : Number(total);
}

/**
 * Reads an answer's body into one buffer of its announced length, or of
 * `limit` bytes when the store sent more than asked for (a Range it ignored).
 */
async function readBody(
  body: unknown,
  contentLength: number | undefined,
  limit: number,
): Promise<Uint8Array> {
  if (!(body instanceof Readable)) throw new Error('the answer has no body to read');
  if (contentLength === undefined) {
    body.destroy();
    throw new Error('the answer has no Content-Length');
  }
  const size = Math.min(contentLength, limit);
  const bytes = new Uint8Array(size);
  let filled = 0;
  for await (const piece of body as AsyncIterable<Uint8Array>) {
    if (filled + piece.length > size) {
      if (size === contentLength)
        throw new Error(`the store sent more than the ${contentLength} bytes it announced`);
      bytes.set(piece.subarray(0, size - filled), filled);
      filled = size;
      break;
    }
    bytes.set(piece, filled);
    filled += piece.length;
  }
  if (filled < size)
    throw new Error(`the store sent ${filled} of the ${contentLength} bytes it announced`);
  return bytes;
}
