/**
 * The raw-body calls of a pair's transfer stream (RC-2) and the chunk store:
 * PUT of a padded transfer and HEAD of a chunk. JSON calls go through
 * request.ts; these carry bytes, so fetch, retries with back-off and error
 * translation for them live here, in one place.
 */

import { z } from 'zod';
import {
  apiRoutes,
  BODY_SHA256_HEADER,
  CHUNK_EPOCH_HEADER,
  CIPHERTEXT_SHA256_HEADER,
  CSRF_HEADER,
  CSRF_HEADER_VALUE,
  transferAckSchema,
  apiErrorSchema,
  type TransferAck,
} from '@/core/contract';
import { ApiError, buildUrl, fetchWithRetry, type RetryPolicy, type SiteAddress } from './request';

/** The URL and bearer header of a call to `site`, or to this console's own site. */
function addressed(path: string, site: SiteAddress | undefined): [string, Record<string, string>] {
  const headers: Record<string, string> = {};
  if (site?.token) headers.authorization = `Bearer ${site.token}`;
  return [(site?.url ?? '') + path, headers];
}

/**
 * A PUT is idempotent per (pair, seq) and a HEAD has no effect, so both are
 * retried on network errors and 5xx answers before the caller hears of it.
 */
export const TRANSFER_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 4_000 };

/** What the site said about one transfer: 200 (applied, duplicate) or 202 (buffered). */
export type TransferReceived =
  | TransferAck
  | { readonly status: 'buffered'; readonly seqApplied?: number; readonly receipt?: undefined };

const bufferedSchema = z.looseObject({
  status: z.literal('buffered'),
  seqApplied: z.number().int().nonnegative().optional(),
});

/** A chunk as the site holds it, from the answer headers of HEAD. */
export interface StoredChunk {
  readonly present: boolean;
  readonly ciphertextSha256?: string;
  readonly epoch?: number;
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const parsed = apiErrorSchema.safeParse(body);
  if (parsed.success) {
    return new ApiError(
      parsed.data.code,
      parsed.data.message,
      response.status,
      parsed.data.details,
    );
  }
  if (response.status === 401) return new ApiError('not_signed_in', 'Sign in first.', 401);
  if (response.status === 403) return new ApiError('forbidden', 'Not allowed.', 403);
  return new ApiError('server_error', `The site answered ${response.status}.`, response.status);
}

/**
 * Sends one padded transfer as sequence number `seq` of the pair (RC-2).
 * 200 and 202 both mean the site has it durably; 4xx is thrown as ApiError.
 */
export async function putTransfer(
  pairId: string,
  seq: number,
  body: Uint8Array<ArrayBuffer>,
  bodySha256: string,
  signal?: AbortSignal,
  site?: SiteAddress,
): Promise<TransferReceived> {
  const [url, bearer] = addressed(
    buildUrl(apiRoutes.putTransfer.path, { pairId, seq: String(seq) }),
    site,
  );
  const response = await fetchWithRetry(
    url,
    {
      method: 'PUT',
      headers: {
        ...bearer,
        accept: 'application/json',
        'content-type': 'application/octet-stream',
        [CSRF_HEADER]: CSRF_HEADER_VALUE,
        [BODY_SHA256_HEADER]: bodySha256,
      },
      body,
    },
    TRANSFER_RETRY,
    signal,
  );
  if (!response.ok) throw await errorOf(response);
  let json: unknown;
  try {
    json = await response.json();
  } catch {
    json = undefined;
  }
  const parsed =
    response.status === 202 ? bufferedSchema.safeParse(json) : transferAckSchema.safeParse(json);
  if (!parsed.success) {
    throw new ApiError(
      'server_error',
      'The site acknowledged a transfer with an answer this console does not understand.',
      response.status,
    );
  }
  return parsed.data as TransferReceived;
}

/** Whether the site already holds a chunk, and which blob (BK-6: skip what it has). */
export async function headChunk(
  volumeId: string,
  chunkId: string,
  signal?: AbortSignal,
  site?: SiteAddress,
): Promise<StoredChunk> {
  const [url, headers] = addressed(buildUrl(apiRoutes.headChunk.path, { volumeId, chunkId }), site);
  const response = await fetchWithRetry(url, { method: 'HEAD', headers }, TRANSFER_RETRY, signal);
  if (response.status === 404) return { present: false };
  if (!response.ok) throw await errorOf(response);
  const hash = response.headers.get(CIPHERTEXT_SHA256_HEADER) ?? undefined;
  const epochText = response.headers.get(CHUNK_EPOCH_HEADER);
  const epoch = epochText !== null && /^\d+$/.test(epochText) ? Number(epochText) : undefined;
  return { present: true, ciphertextSha256: hash, ...(epoch === undefined ? {} : { epoch }) };
}
