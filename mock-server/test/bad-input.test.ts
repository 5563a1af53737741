import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMasterKeyFile } from '../src/platform/master-key';
import { Client, startTestSite, type TestSite } from './support/test-site';

function expectClientError(
  answer: { status: number; json: unknown; text: string },
  code?: string,
): void {
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.status).toBeLessThan(500);
  expect(answer.json).toMatchObject({ code: expect.any(String), message: expect.any(String) });
  if (code) expect(answer.json).toMatchObject({ code });
  expect(answer.text).not.toMatch(/\bat .+\.(ts|js):\d+/); // no stack trace
}

describe('bad input gets 4xx with {code, message}', () => {
  let site: TestSite;
  let client: Client;
  beforeAll(async () => {
    site = await startTestSite();
    client = new Client(site.site.url);
  });
  afterAll(() => site.stop());

  it('malformed JSON', async () => {
    const answer = await client.request('POST', '/api/auth/login', {
      raw: '{"userId": "admin", ',
      headers: { 'content-type': 'application/json' },
    });
    expectClientError(answer, 'malformed_json');
  });

  it('missing and mistyped fields', async () => {
    expectClientError(
      await client.request('POST', '/api/auth/login', { json: { userId: 'admin' } }),
      'invalid_request',
    );
    expectClientError(
      await client.request('POST', '/api/auth/login', { json: { userId: 42, credential: ['x'] } }),
      'invalid_request',
    );
    expectClientError(
      await client.request('POST', '/api/auth/login', { json: [] }),
      'invalid_request',
    );
    expectClientError(
      await client.request('POST', '/api/auth/login', { json: null }),
      'invalid_request',
    );
  });

  it('an empty body and a wrong content type', async () => {
    expectClientError(
      await client.request('POST', '/api/auth/login', {
        raw: '',
        headers: { 'content-type': 'application/json' },
      }),
    );
    expectClientError(await client.request('POST', '/api/auth/login'), 'invalid_request');
    expectClientError(
      await client.request('POST', '/api/auth/login', {
        raw: 'userId=admin',
        headers: { 'content-type': 'text/plain' },
      }),
      'unsupported_media_type',
    );
  });

  it('an oversized body', async () => {
    const answer = await client.request('POST', '/api/auth/login', {
      json: { userId: 'admin', credential: 'x'.repeat(200_000) },
    });
    expectClientError(answer, 'body_too_large');
    expect(answer.status).toBe(413);
  });

  it('a huge string within the body limit', async () => {
    expectClientError(
      await client.request('POST', '/api/auth/login', {
        json: { userId: 'a'.repeat(10_000), credential: 'A'.repeat(43) },
      }),
      'invalid_request',
    );
  });

  it('unknown routes and methods', async () => {
    expectClientError(await client.request('GET', '/api/no-such-thing'), 'not_found');
    expectClientError(await client.request('DELETE', '/api/health'), 'not_found');
    expectClientError(await client.request('GET', '/api/../../etc/passwd'), 'not_found');
    expectClientError(await client.request('GET', '/api/%2e%2e/%2e%2e/etc/passwd'), 'not_found');
  });

  it('a state-changing call without the CSRF header', async () => {
    const answer = await client.request('POST', '/api/auth/login', {
      json: { userId: 'admin', credential: await client.credential('custodian-admin') },
      csrf: false,
    });
    expectClientError(answer, 'csrf_required');
    expect(answer.headers['set-cookie']).toBeUndefined();
  });

  it('sends security headers on every answer', async () => {
    const answer = await client.request('GET', '/api/health');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(String(answer.headers['content-security-policy'])).toContain("frame-ancestors 'none'");
    expect(answer.headers['x-request-id']).toBeTruthy();
  });
});

describe('starting without demo mode', () => {
  it('refuses to start with no administrator and says how to create one', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-noadmin-'));
    const keyFile = path.join(root, 'master.key');
    createMasterKeyFile(keyFile);
    await expect(
      startTestSite({
        demo: false,
        dataDir: path.join(root, 'data'),
        env: { CUSTODIAN_MASTER_KEY_FILE: keyFile },
      }),
    ).rejects.toThrow(/npm run site -- create-admin/);
  });

  it('refuses to start without its master key, or with the wrong one, saying why', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-mk-'));
    const env = { CUSTODIAN_MASTER_KEY_FILE: path.join(root, 'missing.key') };
    await expect(
      startTestSite({ demo: false, dataDir: path.join(root, 'data'), env }),
    ).rejects.toThrow(/master key file .* cannot be read/);
    const site = await startTestSite({ dataDir: path.join(root, 'data') });
    await site.stop();
    const other = path.join(root, 'other.key');
    fs.writeFileSync(other, Buffer.alloc(32, 7).toString('base64url'), { mode: 0o600 });
    await expect(
      startTestSite({
        dataDir: path.join(root, 'data'),
        env: { CUSTODIAN_MASTER_KEY_FILE: other },
      }),
    ).rejects.toThrow(/master key does not open this site's keys/);
    await expect(
      startTestSite({
        dataDir: path.join(root, 'data'),
        env: { CUSTODIAN_MASTER_KEY_FILE: path.join(root, 'data', 'inside.key') },
      }),
    ).rejects.toThrow(/inside the data directory/);
  });

  it('starts after init-master-key and create-admin, and the new admin signs in', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-admin-'));
    const dataDir = path.join(root, 'data');
    const keyFile = path.join(root, 'secrets', 'master.key');
    const run = (...args: string[]) =>
      execFileSync(process.execPath, ['--import', 'tsx', 'mock-server/src/main.ts', ...args], {
        env: {
          ...process.env,
          CUSTODIAN_ADMIN_PASSWORD: 'a-long-admin-password',
          CUSTODIAN_MASTER_KEY_FILE: keyFile,
        },
        stdio: 'pipe',
      });
    run('init-master-key', '--out', keyFile);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(() => run('init-master-key', '--out', keyFile)).toThrow(/never overwritten/);
    run('create-admin', '--user', 'root', '--name', 'Root', '--data-dir', dataDir);
    const site = await startTestSite({
      demo: false,
      dataDir,
      env: { CUSTODIAN_MASTER_KEY_FILE: keyFile },
    });
    try {
      const client = new Client(site.site.url);
      expect((await client.signIn('root', 'a-long-admin-password')).json).toMatchObject({
        roles: ['admin'],
      });
      expect((await client.signIn('admin')).status).toBe(401);
    } finally {
      await site.stop();
    }
  });
});
