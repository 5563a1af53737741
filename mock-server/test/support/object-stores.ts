import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import type { S3BlobStoreOptions } from '../../src/platform/s3-blob-store';

/** The one account s3rver knows (its models/account.js); it checks request signatures. */
const S3RVER_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** An S3-compatible store a test started on a free loopback port. */
export interface TestObjectStore {
  readonly endpoint: string;
  readonly bucket: string;
  /** Options of an `S3BlobStore` on this store, under a key prefix of its own unless one is given. */
  options(overrides?: Partial<S3BlobStoreOptions>): S3BlobStoreOptions;
  /** The CUSTODIAN_S3_* variables of a site whose blobs are in this store. */
  env(): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

function testObjectStore(
  endpoint: string,
  bucket: string,
  key: typeof S3RVER_KEY,
  close: () => Promise<void>,
): TestObjectStore {
  return {
    endpoint,
    bucket,
    options: (overrides = {}) => ({
      endpoint,
      bucket,
      region: 'us-east-1',
      ...key,
      forcePathStyle: true,
      prefix: `case-${randomUUID()}/`,
      ...overrides,
    }),
    env: () => ({
      CUSTODIAN_S3_ENDPOINT: endpoint,
      CUSTODIAN_S3_BUCKET: bucket,
      CUSTODIAN_S3_ACCESS_KEY_ID: key.accessKeyId,
      CUSTODIAN_S3_SECRET_ACCESS_KEY: key.secretAccessKey,
    }),
    close,
  };
}

/**
 * `s3rver` on 127.0.0.1 at a free port over a fresh temporary directory,
 * with one bucket. It has no conditional writes: it stores a PutObject
 * whatever its If-None-Match says.
 */
export async function startS3rver(bucket = 'custodian-test'): Promise<TestObjectStore> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    resetOnClose: true,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  return testObjectStore(`http://127.0.0.1:${port}`, bucket, S3RVER_KEY, async () => {
    await server.close();
    fs.rmSync(directory, { recursive: true, force: true });
  });
}

/** What a store does with `If-None-Match: *` on PutObject when the key exists. */
export type ConditionalWrites = 'refuse-existing' | 'ignore' | 'not-implemented';

function s3Error(response: http.ServerResponse, status: number, code: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code}</Message></Error>`;
  response.writeHead(status, { 'content-type': 'application/xml' }).end(body);
}

/**
 * A small S3 look-alike over node:http (path-style, signatures unchecked)
 * for what s3rver cannot do: conditional writes as AWS S3 has them since
 * 2024 (`refuse-existing`: 412 PreconditionFailed), or a store that answers
 * 501 NotImplemented to the header. `requests` counts the requests by method.
 */
export async function startConditionalStore(
  conditional: ConditionalWrites = 'refuse-existing',
  bucket = 'custodian-test',
): Promise<TestObjectStore & { readonly requests: Map<string, number> }> {
  const objects = new Map<string, Buffer>();
  const requests = new Map<string, number>();
  const server = http.createServer((request, response) => {
    const method = request.method ?? 'GET';
    requests.set(method, (requests.get(method) ?? 0) + 1);
    const url = new URL(request.url ?? '/', 'http://store');
    const [, bucketName = '', ...keyParts] = url.pathname.split('/');
    const key = decodeURIComponent(keyParts.join('/'));
    if (bucketName !== bucket) return s3Error(response, 404, 'NoSuchBucket');
    if (key === '') return response.writeHead(method === 'HEAD' ? 200 : 400).end();
    const pieces: Buffer[] = [];
    request.on('data', (piece: Buffer) => pieces.push(piece));
    request.on('end', () => {
      const stored = objects.get(key);
      if (method === 'PUT') {
        if (request.headers['if-none-match'] === '*') {
          if (conditional === 'not-implemented') return s3Error(response, 501, 'NotImplemented');
          if (conditional === 'refuse-existing' && stored)
            return s3Error(response, 412, 'PreconditionFailed');
        }
        objects.set(key, Buffer.concat(pieces));
        return response.writeHead(200, { etag: `"${randomUUID()}"` }).end();
      }
      if (method === 'DELETE') {
        objects.delete(key);
        return response.writeHead(204).end();
      }
      if (!stored) {
        if (method === 'HEAD') return response.writeHead(404).end();
        return s3Error(response, 404, 'NoSuchKey');
      }
      if (method === 'HEAD')
        return response.writeHead(200, { 'content-length': stored.length }).end();
      const range = /^bytes=0-(\d+)$/.exec(request.headers.range ?? '');
      if (!range) return response.writeHead(200, { 'content-length': stored.length }).end(stored);
      if (stored.length === 0) return s3Error(response, 416, 'InvalidRange');
      const part = stored.subarray(0, Number(range[1]) + 1);
      response
        .writeHead(206, {
          'content-length': part.length,
          'content-range': `bytes 0-${part.length - 1}/${stored.length}`,
        })
        .end(part);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const store = testObjectStore(`http://127.0.0.1:${port}`, bucket, S3RVER_KEY, async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { ...store, requests };
}

/** An endpoint nothing listens on: a port that was free a moment ago. */
export async function closedEndpoint(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
