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
}

/** Retries apply to idempotent calls only; back-off doubles from the base. */
export const RETRY = { attempts: 3, baseDelayMs: 250, maxDelayMs: 4_000 } as const;

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

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
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
  const url = buildUrl(route.path, options.params, options.query);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (route.csrf) headers[CSRF_HEADER] = CSRF_HEADER_VALUE;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const attempts = IDEMPOTENT.has(route.method) ? RETRY.attempts : 1;

  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, {
        method: route.method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        signal,
      });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      if (attempt < attempts) {
        await sleep(Math.min(RETRY.baseDelayMs * 2 ** (attempt - 1), RETRY.maxDelayMs), signal);
        continue;
      }
      throw new ApiError('network_error', 'The site could not be reached.', 0);
    }
    if (response.status >= 500 && attempt < attempts) {
      await sleep(Math.min(RETRY.baseDelayMs * 2 ** (attempt - 1), RETRY.maxDelayMs), signal);
      continue;
    }
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
}
