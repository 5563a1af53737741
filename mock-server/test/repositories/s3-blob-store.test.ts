import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInMemoryDatabase } from '../../src/persistence/in-memory-database';
import { kyselyRepositories } from '../../src/persistence/repositories';
import { ObjectStoreError, S3BlobStore } from '../../src/platform/s3-blob-store';
import {
  closedEndpoint,
  startConditionalStore,
  startS3rver,
  type TestObjectStore,
} from '../support/object-stores';
import { blobStoreContract } from './blob-store.contract';
import { contractFor, type Implementation } from './contract';
import { chunkId } from './fixtures';

/**
 * Blobs in an S3-compatible store, each store under a key prefix of its
 * own. Only the blob store's contract runs on it: the other repositories
 * are the SQLite ones in memory, whose contracts run in repositories.test.ts.
 */
function s3Implementation(name: string, start: () => Promise<TestObjectStore>): Implementation {
  let server: Promise<TestObjectStore> | undefined;
  return {
    name,
    knownDiscrepancies: new Map(),
    async open() {
      const objectStore = await (server ??= start());
      const database = await openInMemoryDatabase();
      const blobs = new S3BlobStore(objectStore.options());
      return {
        repos: { ...kyselyRepositories(database.db), blobs },
        async seedRecords() {
          throw new Error('only the blob store contract runs on these repositories');
        },
        async close() {
          blobs.close();
          await database.close();
        },
      };
    },
    async dispose() {
      if (server) await (await server).close();
    },
  };
}

for (const implementation of [
  // s3rver has no conditional writes: the store's lock per key and HeadObject.
  s3Implementation('S3 (s3rver)', () => startS3rver()),
  // A store with conditional writes (If-None-Match), as AWS S3 has them.
  s3Implementation('S3 with conditional writes', () => startConditionalStore()),
]) {
  const titles = new Set<string>();
  describe(`${implementation.name} blob store`, () => {
    const c = contractFor(implementation, titles);
    afterAll(() => implementation.dispose());
    blobStoreContract(c);
  });
}

const bytes = (...values: number[]) => new Uint8Array(values);

describe('the S3 blob store on s3rver', () => {
  let s3rver: TestObjectStore;
  beforeAll(async () => {
    s3rver = await startS3rver();
  });
  afterAll(() => s3rver.close());

  function open(): S3BlobStore {
    return new S3BlobStore(s3rver.options());
  }

  it('says whether its bucket answers', async () => {
    const store = open();
    expect(await store.check()).toEqual({ reachable: true });
    const elsewhere = new S3BlobStore(s3rver.options({ bucket: 'no-such-bucket' }));
    expect(await elsewhere.check()).toEqual({
      reachable: false,
      reason: expect.stringMatching(/HTTP 404/),
    });
    store.close();
    elsewhere.close();
  });

  it('finds that s3rver has no conditional writes, and keeps the first writer by its lock', async () => {
    const store = open();
    expect(await store.conditionalWrites()).toBe(false);
    expect(await store.put('vol-1', chunkId(1), bytes(1))).toBe('stored');
    expect(await store.put('vol-1', chunkId(1), bytes(2))).toBe('exists');
    expect(await store.get('vol-1', chunkId(1))).toEqual(bytes(1));
    store.close();
  });

  it('answers undefined for a missing object, from get and from head of any length', async () => {
    const store = open();
    expect(await store.get('vol-1', chunkId(7))).toBeUndefined();
    expect(await store.head('vol-1', chunkId(7), 0)).toBeUndefined();
    expect(await store.head('vol-1', chunkId(7), 40)).toBeUndefined();
    store.close();
  });

  it("reads an empty blob's head as empty, at length 0 and beyond", async () => {
    const store = open();
    expect(await store.put('vol-1', chunkId(1), bytes())).toBe('stored');
    expect(await store.head('vol-1', chunkId(1), 0)).toEqual(bytes());
    expect(await store.head('vol-1', chunkId(1), 40)).toEqual(bytes());
    expect(await store.get('vol-1', chunkId(1))).toEqual(bytes());
    store.close();
  });

  it('gives back a blob of 4 MiB + 37 bytes byte for byte, and its head alone', async () => {
    const store = open();
    const blob = new Uint8Array(4 * 1024 * 1024 + 37);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 131 + (i >>> 13)) & 0xff;
    expect(await store.put('vol-1', chunkId(1), blob)).toBe('stored');
    const back = await store.get('vol-1', chunkId(1));
    expect(back?.length).toBe(blob.length);
    expect(Buffer.compare(back!, blob)).toBe(0);
    expect(await store.head('vol-1', chunkId(1), 29)).toEqual(blob.subarray(0, 29));
    store.close();
  });

  it("takes volume IDs with ':' and '/' and of 1024 bytes, each its own blob", async () => {
    const store = open();
    const ids = [
      'gpt:0c1d2e3f-4a5b-4e5f-8a9b-6b1f0a4e2c3d',
      'a/b/../c:d',
      '/',
      ':',
      'v'.repeat(1024),
      `${'é'.repeat(511)}:/`,
    ];
    expect(new TextEncoder().encode(ids[5]!).length).toBe(1024);
    for (const [i, id] of ids.entries())
      expect(await store.put(id, chunkId(1), bytes(i))).toBe('stored');
    for (const [i, id] of ids.entries()) expect(await store.get(id, chunkId(1))).toEqual(bytes(i));
    // One key per volume, of a fixed length whatever the ID.
    expect(store.keyOf('v'.repeat(1024), chunkId(1))).toMatch(
      /^case-[^/]+\/[0-9a-f]{64}\/[0-9a-f]{64}$/,
    );
    store.close();
  });
});

describe('the S3 blob store on a store that does not answer', () => {
  it('rejects puts and gets soon, with an error that names the store', async () => {
    const endpoint = await closedEndpoint();
    const store = new S3BlobStore({
      endpoint,
      bucket: 'custodian-test',
      region: 'us-east-1',
      accessKeyId: 'id',
      secretAccessKey: 'secret',
      forcePathStyle: true,
      maxAttempts: 2,
      connectTimeoutMs: 500,
      requestTimeoutMs: 500,
    });
    const started = Date.now();
    const named = new RegExp(`object store at ${endpoint}, bucket "custodian-test".*ECONNREFUSED`);
    await expect(store.put('vol-1', chunkId(1), bytes(1))).rejects.toThrow(named);
    await expect(store.get('vol-1', chunkId(1))).rejects.toThrow(ObjectStoreError);
    await expect(store.get('vol-1', chunkId(1))).rejects.toThrow(named);
    await expect(store.head('vol-1', chunkId(1), 4)).rejects.toThrow(named);
    expect(await store.check()).toEqual({
      reachable: false,
      reason: expect.stringContaining('ECONNREFUSED'),
    });
    expect(Date.now() - started).toBeLessThan(15_000);
    store.close();
  });
});

describe('the S3 blob store on a store with conditional writes', () => {
  it('finds them, and hears "exists" from the 412 of a second writer', async () => {
    const server = await startConditionalStore();
    const store = new S3BlobStore(server.options());
    expect(await store.conditionalWrites()).toBe(true);
    const headsBefore = server.requests.get('HEAD') ?? 0;
    expect(await store.put('vol-1', chunkId(1), bytes(1))).toBe('stored');
    expect(await store.put('vol-1', chunkId(1), bytes(2))).toBe('exists');
    expect(await store.get('vol-1', chunkId(1))).toEqual(bytes(1));
    // The store decides, not a look before the write.
    expect(server.requests.get('HEAD') ?? 0).toBe(headsBefore);
    // An empty blob's ranged read answers 416 here, as on AWS S3.
    await store.put('vol-1', chunkId(2), bytes());
    expect(await store.head('vol-1', chunkId(2), 8)).toEqual(bytes());
    store.close();
    await server.close();
  });

  it('keeps the first of 20 writers spread over two instances of the site', async () => {
    const server = await startConditionalStore();
    const shared = server.options();
    const instances = [new S3BlobStore(shared), new S3BlobStore(shared)];
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => instances[i % 2]!.put('vol-1', chunkId(1), bytes(i, i))),
    );
    expect(answers.filter((a) => a === 'stored')).toHaveLength(1);
    const winner = answers.indexOf('stored');
    expect(await instances[1]!.get('vol-1', chunkId(1))).toEqual(bytes(winner, winner));
    for (const instance of instances) instance.close();
    await server.close();
  });

  it('uses the lock and a look first on a store that ignores If-None-Match or does not implement it', async () => {
    for (const kind of ['ignore', 'not-implemented'] as const) {
      const server = await startConditionalStore(kind);
      const store = new S3BlobStore(server.options());
      expect(await store.conditionalWrites()).toBe(false);
      expect(await store.put('vol-1', chunkId(1), bytes(1))).toBe('stored');
      expect(await store.put('vol-1', chunkId(1), bytes(2))).toBe('exists');
      expect(await store.get('vol-1', chunkId(1))).toEqual(bytes(1));
      store.close();
      await server.close();
    }
  });

  it('refuses to put when told the store has conditional writes and it answers 501', async () => {
    const server = await startConditionalStore('not-implemented');
    const store = new S3BlobStore(server.options({ conditionalWrites: true }));
    await expect(store.put('vol-1', chunkId(1), bytes(1))).rejects.toThrow(
      /conditional write \(If-None-Match\) was refused by the object store at/,
    );
    store.close();
    await server.close();
  });
});
