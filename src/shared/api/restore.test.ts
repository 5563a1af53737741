/**
 * Chunk reads and integrity reports at another site (MS-5): they go to that
 * site's origin with the bearer token it issued and never with this
 * console's cookie; without a site they stay on this console's own site.
 */

import { afterEach, describe, expect, it, vi } from 'vitest';
import type { IntegrityReport } from '@/core/contract';
import type { RetryPolicy } from './request';
import { fetchChunkBlob, reportIntegrityFailure } from './restore';

const QUICK: RetryPolicy = { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 };
const OSAKA = { url: 'https://osaka.example', token: 'token-of-osaka' };
const VOLUME = 'ext4:0f6e3c1a-5b2d-4c8e-9a7f-1234567890ab';
const CHUNK = 'ab'.repeat(32);

/** The page's fetch, answering every call with `answer` and keeping what it was asked. */
function fetchAnswering(answer: () => Response) {
  const fetch = vi.fn(async (_url: string, _init?: RequestInit) => answer());
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

afterEach(() => vi.unstubAllGlobals());

describe('fetchChunkBlob', () => {
  it('reads another site’s copy at its origin with its bearer token and no cookie', async () => {
    const fetch = fetchAnswering(() => new Response(new Uint8Array([1, 2, 3])));
    const blob = await fetchChunkBlob(VOLUME, CHUNK, QUICK, undefined, OSAKA);
    expect(blob).toEqual(new Uint8Array([1, 2, 3]));
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe(
      `https://osaka.example/api/volumes/${encodeURIComponent(VOLUME)}/chunks/${CHUNK}`,
    );
    expect(init?.credentials).toBe('omit');
    expect(new Headers(init?.headers).get('authorization')).toBe('Bearer token-of-osaka');
  });

  it('reads this console’s own site by a relative URL with its cookie and no token', async () => {
    const fetch = fetchAnswering(() => new Response(new Uint8Array([4])));
    await fetchChunkBlob(VOLUME, CHUNK, QUICK);
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe(`/api/volumes/${encodeURIComponent(VOLUME)}/chunks/${CHUNK}`);
    expect(init?.credentials).toBe('same-origin');
    expect(new Headers(init?.headers).has('authorization')).toBe(false);
  });

  it('says "none" for a chunk the site lacks, and passes a refusal on', async () => {
    fetchAnswering(() => json(404, { code: 'chunk_not_found', message: 'No such chunk.' }));
    expect(await fetchChunkBlob(VOLUME, CHUNK, QUICK, undefined, OSAKA)).toBeUndefined();
    fetchAnswering(() => json(404, { code: 'volume_not_found', message: 'No such volume.' }));
    await expect(fetchChunkBlob(VOLUME, CHUNK, QUICK, undefined, OSAKA)).rejects.toMatchObject({
      code: 'volume_not_found',
      status: 404,
    });
  });
});

describe('reportIntegrityFailure', () => {
  const report: IntegrityReport = {
    volumeId: VOLUME,
    generation: 1,
    source: 'site',
    check: 'index-hash',
    chunkIndex: 3,
    chunkId: CHUNK,
  };

  it('tells another site at its own report route, with its bearer token', async () => {
    const fetch = fetchAnswering(() => json(200, { ok: true }));
    await reportIntegrityFailure(report, QUICK, OSAKA);
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe('https://osaka.example/api/alerts/integrity');
    expect(init?.method).toBe('POST');
    expect(new Headers(init?.headers).get('authorization')).toBe('Bearer token-of-osaka');
    expect(JSON.parse(String(init?.body))).toEqual(report);
  });

  it('tells this console’s own site when no site is named', async () => {
    const fetch = fetchAnswering(() => json(200, { ok: true }));
    await reportIntegrityFailure(report, QUICK);
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe('/api/alerts/integrity');
    expect(new Headers(init?.headers).has('authorization')).toBe(false);
  });
});
