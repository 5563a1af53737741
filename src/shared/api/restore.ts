/**
 * The restorer's calls to the site (RS-1..RS-9): one function per endpoint.
 * JSON calls go through request.ts; chunk blobs are bytes, so their fetch,
 * retries and error translation live here. Calls a restore depends on are
 * retried with exponential back-off before the caller hears "unreachable"
 * (RS-8, seed 000 [0089]).
 */

import { z } from 'zod';
import {
  apiErrorSchema,
  apiRoutes,
  keyReleaseSchema,
  restorableListSchema,
  scrubResultSchema,
  type IntegrityReport,
  type KeyRelease,
  type KeyReleaseRequest,
  type RestorableVolume,
  type ScrubRequest,
  type ScrubResult,
} from '@/core/contract';
import {
  ApiError,
  backoffDelay,
  buildUrl,
  request,
  sleep,
  type RetryPolicy,
  type SiteAddress,
} from './request';

/** RS-8: about 30 seconds of retries, long enough for a site restart, short enough to say so. */
export const RESTORE_RETRY: RetryPolicy = { attempts: 7, baseDelayMs: 500, maxDelayMs: 8_000 };

/** The site could not be reached (network error or 5xx) after every retry. */
export function isUnreachable(error: unknown): boolean {
  return (
    error instanceof ApiError &&
    (error.code === 'network_error' || error.code === 'timeout' || error.status >= 500)
  );
}

/**
 * Runs `call` until it succeeds, fails for a reason retrying cannot fix, or
 * the attempts are used up; then an unreachable site becomes a `timeout`
 * ApiError saying how long it was tried.
 */
export async function withBackoff<T>(
  call: () => Promise<T>,
  policy: RetryPolicy = RESTORE_RETRY,
  signal?: AbortSignal,
): Promise<T> {
  let waited = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (signal?.aborted || !isUnreachable(error)) throw error;
      if (attempt >= policy.attempts) {
        throw new ApiError(
          'timeout',
          `The site did not answer after ${attempt} attempts over ${Math.round(waited / 1000)} s.`,
          0,
          { attempts: attempt, seconds: Math.round(waited / 1000) },
        );
      }
      const wait = backoffDelay(policy, attempt);
      waited += wait;
      await sleep(wait, signal);
    }
  }
}

/** RS-1: the volumes the signed-in user may restore, with the reason for those not now. */
export async function fetchRestorableVolumes(): Promise<RestorableVolume[]> {
  return (await request({ route: apiRoutes.restorable, schema: restorableListSchema })).volumes;
}

/**
 * RS-2: asks for a generation's keys, re-wrapped to the ephemeral public key.
 * Answers `released` (200) or `pending_approval` (202); a refusal is thrown
 * as ApiError (`unauthorized_use`, `key_not_found`, `record_revoked`, …).
 * Sending the same request ID again is safe: the site replays its answer
 * (RS-3), so a lost answer is retried rather than lost.
 */
export function requestKeyRelease(
  volumeId: string,
  body: KeyReleaseRequest,
  policy?: RetryPolicy,
  signal?: AbortSignal,
  site?: SiteAddress,
): Promise<KeyRelease> {
  return withBackoff(
    () =>
      request({
        route: apiRoutes.requestKeyRelease,
        params: { volumeId },
        body,
        schema: keyReleaseSchema,
        signal,
        site,
      }),
    policy,
    signal,
  );
}

/** RS-3: the answer to an earlier key release of this user, again (lost answer, approval). */
export function fetchKeyRelease(
  volumeId: string,
  requestId: string,
  signal?: AbortSignal,
  site?: SiteAddress,
): Promise<KeyRelease> {
  return request({
    route: apiRoutes.getKeyRelease,
    params: { volumeId, requestId },
    schema: keyReleaseSchema,
    signal,
    site,
  });
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const parsed = apiErrorSchema.safeParse(body);
  return parsed.success
    ? new ApiError(parsed.data.code, parsed.data.message, response.status, parsed.data.details)
    : new ApiError('server_error', `The site answered ${response.status}.`, response.status);
}

/**
 * RS-4, RS-5: one chunk blob of the site copy, or undefined when the site
 * holds none (the verifier then reports it missing). `site` reads another
 * site's copy (MS-5) with the bearer token it issued, never a cookie.
 */
export async function fetchChunkBlob(
  volumeId: string,
  chunkId: string,
  policy?: RetryPolicy,
  signal?: AbortSignal,
  site?: SiteAddress,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const url = (site?.url ?? '') + buildUrl(apiRoutes.getChunk.path, { volumeId, chunkId });
  const headers: Record<string, string> = { accept: 'application/octet-stream' };
  if (site?.token) headers.authorization = `Bearer ${site.token}`;
  return withBackoff(
    async () => {
      let response: Response;
      try {
        response = await fetch(url, {
          headers,
          // This console's own session cookie goes to its own site only.
          credentials: site ? 'omit' : 'same-origin',
          signal,
        });
      } catch (cause) {
        if (signal?.aborted) throw cause;
        throw new ApiError('network_error', 'The site could not be reached.', 0);
      }
      if (response.ok) return new Uint8Array(await response.arrayBuffer());
      const error = await errorOf(response);
      if (error.code === 'chunk_not_found') return undefined;
      throw error;
    },
    policy,
    signal,
  );
}

/** RS-9: the site re-hashes its stored chunks against the signed index (owner or admin). */
export function scrubSiteCopy(
  volumeId: string,
  body: ScrubRequest,
  policy?: RetryPolicy,
  signal?: AbortSignal,
): Promise<ScrubResult> {
  return withBackoff(
    () =>
      request({
        route: apiRoutes.scrubVolume,
        params: { volumeId },
        body,
        schema: scrubResultSchema,
        signal,
      }),
    policy,
    signal,
  );
}

/**
 * RS-5: tells the site's administrators that a chunk or manifest failed its
 * checks; `site` tells another site about its own copy (MS-5), with the
 * bearer token it issued.
 */
export async function reportIntegrityFailure(
  report: IntegrityReport,
  policy?: RetryPolicy,
  site?: SiteAddress,
): Promise<void> {
  await withBackoff(
    () =>
      request({
        route: apiRoutes.reportIntegrity,
        body: report,
        schema: z.unknown(),
        site,
      }),
    policy,
  );
}
