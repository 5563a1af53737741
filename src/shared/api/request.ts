import type { z } from 'zod';
import { apiErrorSchema, CSRF_HEADER, CSRF_HEADER_VALUE, type RouteEntry } from '@/core/contract';

/** What every failed call becomes: a stable code and a readable message. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RequestOptions<T> {
  readonly route: RouteEntry;
  /** Values for `:name` placeholders in the route's path. */
  readonly params?: Record<string, string>;
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
  readonly schema: z.ZodType<T>;
  readonly signal?: AbortSignal;
  /**
   * Another site (MS-2): its origin, and the bearer token it issued to this
   * console. Omitted for this console's own site, reached by relative URLs
   * with its session cookie.
   */
  readonly site?: SiteAddress;
}

/** Another site (MS-2): its origin, and the bearer token it issued to this console, if any yet. */
export interface SiteAddress {
  readonly url: string;
  readonly token?: string;
}

/** How often and how patiently a call is tried; the back-off doubles from the base up to the cap. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** JSON calls: retried briefly, and only the idempotent ones, while the user waits. */
export const RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 250, maxDelayMs: 4_000 };
const ONCE: RetryPolicy = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 };

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

export function buildUrl(
  path: string,
  params: Record<string, string> = {},
  query: RequestOptions<unknown>['query'] = {},
): string {
  const filled = path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`missing path parameter ${name}`);
    return encodeURIComponent(value);
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) search.set(key, String(value));
  }
  const qs = search.toString();
  return qs ? `${filled}?${qs}` : filled;
}

/** The wait before try `attempt + 1` under `policy`. */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/**
 * The one retry loop of the site client: a network error or a 5xx answer is
 * tried again under `policy`; any other answer, or the last 5xx, is returned
 * as it is. A site never reached becomes a `network_error` ApiError.
 */
export async function fetchWithRetry(
  url: string,
  init: RequestInit,
  policy: RetryPolicy,
  signal?: AbortSignal,
): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      // Cookies only ever go to this console's own site; other sites get bearer tokens.
      response = await fetch(url, { ...init, credentials: 'same-origin', signal });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      if (attempt < policy.attempts) {
        await sleep(backoffDelay(policy, attempt), signal);
        continue;
      }
      throw new ApiError('network_error', 'The site could not be reached.', 0);
    }
    if (response.status >= 500 && attempt < policy.attempts) {
      await sleep(backoffDelay(policy, attempt), signal);
      continue;
    }
    return response;
  }
}

async function toApiError(response: Response): Promise<ApiError> {
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
  return new ApiError('server_error', `The site answered ${response.status}.`, response.status);
}

/** One call to the site: JSON in, schema-checked JSON out, errors as ApiError. */
export async function request<T>(options: RequestOptions<T>): Promise<T> {
  const { route, body, schema, signal } = options;
  const url = (options.site?.url ?? '') + buildUrl(route.path, options.params, options.query);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (route.csrf) headers[CSRF_HEADER] = CSRF_HEADER_VALUE;
  if (options.site?.token) headers.authorization = `Bearer ${options.site.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetchWithRetry(
    url,
    { method: route.method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
    IDEMPOTENT.has(route.method) ? RETRY : ONCE,
    signal,
  );
  if (!response.ok) throw await toApiError(response);
  const json: unknown = response.status === 204 ? {} : await response.json();
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new ApiError(
      'server_error',
      'The site sent an answer this console does not understand.',
      response.status,
    );
  }
  return parsed.data;
}
