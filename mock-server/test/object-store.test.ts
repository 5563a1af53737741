import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_SIZE } from '../../src/core/crypto/constants';
import { ConfigError, loadConfig } from '../src/config';
import { ObjectStoreError } from '../src/platform/s3-blob-store';
import { assessHealth } from '../src/platform/site-operations';
import { backUp, newOperator, randomImage, restore } from './support/backup-client';
import { closedEndpoint, startS3rver, type TestObjectStore } from './support/object-stores';
import { Client, startTestSite } from './support/test-site';

const VOLUME = 'gpt:5e0c7a1b-2d3f-4a5b-8c9d-0e1f2a3b4c5d';
const KEY = { CUSTODIAN_MASTER_KEY_FILE: '/k' };
const S3 = {
  CUSTODIAN_S3_ENDPOINT: 'http://minio.internal:9000/',
  CUSTODIAN_S3_BUCKET: 'custodian-blobs',
  CUSTODIAN_S3_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  CUSTODIAN_S3_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-secret',
};

describe('the object store settings', () => {
  it('keep blobs in the data directory unless a bucket is set', () => {
    expect(loadConfig([], KEY).s3).toBeUndefined();
  });

  it('read the endpoint, bucket, region, access key and path style, flags winning', () => {
    expect(loadConfig([], { ...KEY, ...S3 }).s3).toEqual({
      endpoint: 'http://minio.internal:9000',
      bucket: 'custodian-blobs',
      region: 'us-east-1',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI-secret',
      // An endpoint other than AWS S3's: the bucket in the path unless said otherwise.
      forcePathStyle: true,
    });
    expect(
      loadConfig(
        [
          '--s3-bucket',
          'other.bucket-2',
          '--s3-region',
          'eu-central-1',
          '--s3-endpoint',
          'https://s3.example.org',
          '--s3-force-path-style',
          'false',
        ],
        { ...KEY, ...S3, CUSTODIAN_S3_REGION: 'garage' },
      ).s3,
    ).toMatchObject({
      endpoint: 'https://s3.example.org',
      bucket: 'other.bucket-2',
      region: 'eu-central-1',
      forcePathStyle: false,
    });
    // No endpoint: AWS S3, buckets by host name.
    const aws = loadConfig([], { ...KEY, ...S3, CUSTODIAN_S3_ENDPOINT: '' }).s3;
    expect(aws).toMatchObject({ endpoint: undefined, forcePathStyle: false });
    expect(
      loadConfig([], { ...KEY, ...S3, CUSTODIAN_S3_FORCE_PATH_STYLE: 'TRUE' }).s3?.forcePathStyle,
    ).toBe(true);
  });

  it('refuse a bucket without its access key', () => {
    const {
      CUSTODIAN_S3_ACCESS_KEY_ID: _id,
      CUSTODIAN_S3_SECRET_ACCESS_KEY: _secret,
      ...bare
    } = S3;
    expect(() => loadConfig([], { ...KEY, ...bare })).toThrow(ConfigError);
    expect(() => loadConfig([], { ...KEY, ...bare })).toThrow(
      /CUSTODIAN_S3_BUCKET is set: also set CUSTODIAN_S3_ACCESS_KEY_ID and CUSTODIAN_S3_SECRET_ACCESS_KEY/,
    );
    expect(() =>
      loadConfig([], { ...KEY, ...bare, CUSTODIAN_S3_ACCESS_KEY_ID: 'AKIDEXAMPLE' }),
    ).toThrow(/also set CUSTODIAN_S3_SECRET_ACCESS_KEY \(/);
  });

  it('refuse object store settings without a bucket, rather than keep blobs elsewhere than meant', () => {
    const { CUSTODIAN_S3_BUCKET: _bucket, ...noBucket } = S3;
    expect(() => loadConfig([], { ...KEY, ...noBucket })).toThrow(
      /CUSTODIAN_S3_ENDPOINT, CUSTODIAN_S3_ACCESS_KEY_ID, CUSTODIAN_S3_SECRET_ACCESS_KEY are set but CUSTODIAN_S3_BUCKET is not/,
    );
  });

  it('refuse a path style that is not true or false, a malformed endpoint, bucket or region', () => {
    const refused = (env: NodeJS.ProcessEnv, message: RegExp) => {
      expect(() => loadConfig([], { ...KEY, ...S3, ...env })).toThrow(ConfigError);
      expect(() => loadConfig([], { ...KEY, ...S3, ...env })).toThrow(message);
    };
    refused(
      { CUSTODIAN_S3_FORCE_PATH_STYLE: 'sometimes' },
      /CUSTODIAN_S3_FORCE_PATH_STYLE must be true or false, not "sometimes"/,
    );
    for (const endpoint of ['minio.internal:9000', 'ftp://minio.internal', 'http://m/?x=1'])
      refused({ CUSTODIAN_S3_ENDPOINT: endpoint }, /CUSTODIAN_S3_ENDPOINT must be the store's URL/);
    for (const bucket of ['Custodian', 'ab', 'a_b_c', '-custodian', 'a..b'])
      refused({ CUSTODIAN_S3_BUCKET: bucket }, /CUSTODIAN_S3_BUCKET must be a bucket name/);
    refused({ CUSTODIAN_S3_REGION: 'us east' }, /CUSTODIAN_S3_REGION must be a region name/);
    // A password in the endpoint's URL is refused without being repeated.
    const withPassword = () =>
      loadConfig([], { ...KEY, ...S3, CUSTODIAN_S3_ENDPOINT: 'http://key:hunter22@minio:9000' });
    expect(withPassword).toThrow(/must not hold a user name or password/);
    expect(withPassword).not.toThrow(/hunter22/);
  });
});

describe('a site whose blobs are in an S3 bucket', () => {
  let s3rver: TestObjectStore;
  beforeAll(async () => {
    s3rver = await startS3rver();
  });
  afterAll(() => s3rver.close());

  it('keeps the chunks there, gives them back, and names the store in /api/health without its key', async () => {
    const site = await startTestSite({ env: s3rver.env() });
    const client = new Client(site.site.url);
    await client.signIn('operator');
    const image = randomImage(2 * CHUNK_SIZE + 37, 4);
    await backUp(await newOperator(client), site.site.info, VOLUME, image, {
      restorers: ['restorer'],
    });
    // Nothing in the data directory's blobs folder: the bucket has them.
    expect(fs.existsSync(path.join(site.dataDir, 'blobs'))).toBe(false);
    const restorer = new Client(site.site.url);
    await restorer.signIn('restorer');
    const { image: restored } = await restore(restorer, VOLUME);
    expect(Buffer.compare(Buffer.from(restored), Buffer.from(image))).toBe(0);

    const health = await client.request('GET', '/api/health');
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({
      status: 'ok',
      database: { status: 'ok' },
      disk: { status: 'ok' },
      objectStore: {
        kind: 's3',
        endpoint: s3rver.endpoint,
        bucket: s3rver.bucket,
        reachable: true,
      },
    });
    expect(health.text).not.toContain('S3RVER');
    await site.stop();
  });

  it('says failing in /api/health, with the reason, once the bucket stops answering', async () => {
    const own = await startS3rver('custodian-going');
    const site = await startTestSite({ env: own.env() });
    await own.close();
    const health = await new Client(site.site.url).request('GET', '/api/health');
    expect(health.status).toBe(503);
    expect(health.json).toMatchObject({
      status: 'failing',
      objectStore: {
        kind: 's3',
        endpoint: own.endpoint,
        bucket: 'custodian-going',
        reachable: false,
        reason: expect.stringMatching(/^The bucket does not answer: .*ECONNREFUSED/),
      },
    });
    await site.stop();
  });

  it('refuses to start when the bucket does not answer, naming the endpoint and the bucket', async () => {
    const endpoint = await closedEndpoint();
    const started = startTestSite({ env: { ...s3rver.env(), CUSTODIAN_S3_ENDPOINT: endpoint } });
    await expect(started).rejects.toThrow(ObjectStoreError);
    await expect(started).rejects.toThrow(
      new RegExp(
        `The object store at ${endpoint} does not answer for bucket "${s3rver.bucket}": .*ECONNREFUSED.*does not start without it`,
      ),
    );
    // A store that answers, but not for this bucket.
    await expect(
      startTestSite({ env: { ...s3rver.env(), CUSTODIAN_S3_BUCKET: 'no-such-bucket' } }),
    ).rejects.toThrow(/does not answer for bucket "no-such-bucket": HTTP 404/);
  });
});

describe('health of the blob store', () => {
  it('is the data directory when no bucket is set', async () => {
    const site = await startTestSite();
    const health = await new Client(site.site.url).request('GET', '/api/health');
    expect(health.json).toMatchObject({ status: 'ok', objectStore: { kind: 'filesystem' } });
    await site.stop();
  });

  it('makes the site failing when the bucket does not answer, whatever the database and disk say', () => {
    const objectStore = {
      kind: 's3' as const,
      endpoint: 'http://minio:9000',
      bucket: 'b',
      reachable: false,
      reason: 'The bucket does not answer: connect ECONNREFUSED',
    };
    const report = assessHealth({
      version: '1',
      database: () => undefined,
      freeBytes: () => 10 * 1024 ** 3,
      lowBytes: 1024 ** 3,
      objectStore,
    });
    expect(report).toMatchObject({ status: 'failing', disk: { status: 'ok' }, objectStore });
  });
});
