import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RouteEntry } from '@/core/contract';
import { z } from 'zod';
import { ApiError, fetchWithRetry, request, type RetryPolicy } from './request';

const QUICK: RetryPolicy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };
const answer = (status: number, body: unknown = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** The page's fetch, answering from `answers` in turn and counting the calls. */
function siteAnswering(...answers: (Response | Error)[]) {
  const fetch = vi.fn(async () => {
    const next = answers.shift();
    if (!next) throw new Error('no answer left');
    if (next instanceof Error) throw next;
    return next;
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

const route = (method: RouteEntry['method']): RouteEntry => ({
  method,
  path: '/api/example',
  access: 'session',
  csrf: method !== 'GET',
});

afterEach(() => vi.unstubAllGlobals());

describe('the site client retries', () => {
  it('an idempotent call after a 5xx answer, then gives its answer', async () => {
    const fetch = siteAnswering(answer(503), answer(200, { ok: true }));
    const result = await request({ route: route('GET'), schema: z.object({ ok: z.boolean() }) });
    expect(result).toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('never a call that changes state: a POST is sent once', async () => {
    const fetch = siteAnswering(answer(503, { code: 'server_error', message: 'Down.' }));
    const failure = request({ route: route('POST'), body: {}, schema: z.object({}) });
    await expect(failure).rejects.toMatchObject({ code: 'server_error', status: 503 });
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('as often as the policy says, then reports an unreachable site', async () => {
    const fetch = siteAnswering(
      new TypeError('offline'),
      new TypeError('offline'),
      new TypeError('offline'),
    );
    const failure = fetchWithRetry('/api/example', { method: 'HEAD' }, QUICK);
    await expect(failure).rejects.toEqual(
      new ApiError('network_error', 'The site could not be reached.', 0),
    );
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it('and hands back the last 5xx once the attempts are used up', async () => {
    siteAnswering(answer(502), answer(502), answer(503));
    const response = await fetchWithRetry('/api/example', { method: 'HEAD' }, QUICK);
    expect(response.status).toBe(503);
  });

  it('no more once the caller gives up', async () => {
    const fetch = siteAnswering(answer(503), answer(200));
    const controller = new AbortController();
    const slow: RetryPolicy = { attempts: 3, baseDelayMs: 10_000, maxDelayMs: 10_000 };
    const call = fetchWithRetry('/api/example', { method: 'HEAD' }, slow, controller.signal);
    await vi.waitFor(() => expect(fetch).toHaveBeenCalledTimes(1));
    controller.abort(new Error('left the page'));
    await expect(call).rejects.toThrow('left the page');
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});
