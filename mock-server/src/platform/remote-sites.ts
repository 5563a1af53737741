import type { RemoteSiteAnswer, RemoteSites } from '../domain/sites/ports';

/** How long another site has to answer (MS-1): an administrator waits for it. */
export const REMOTE_SITE_TIMEOUT_MS = 5_000;
/** What a site says about itself is a few kilobytes; anything much larger is not a site. */
export const REMOTE_SITE_MAX_BYTES = 64 * 1024;

/**
 * Reaches other sites over HTTP(S) with `fetch`: `GET <origin>/api/site`,
 * within the time limit, without following redirects (the address trusted
 * must be the site's own), and reading no more than a small answer.
 */
export function httpRemoteSites(
  options: { timeoutMs?: number; fetch?: typeof fetch } = {},
): RemoteSites {
  const timeoutMs = options.timeoutMs ?? REMOTE_SITE_TIMEOUT_MS;
  const fetchSite = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  return {
    async siteInfo(origin: string): Promise<RemoteSiteAnswer> {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const response = await fetchSite(`${origin}/api/site`, {
          headers: { accept: 'application/json' },
          redirect: 'manual',
          credentials: 'omit',
          signal,
        });
        const text = await boundedText(response, REMOTE_SITE_MAX_BYTES);
        let json: unknown;
        try {
          json = text === undefined ? undefined : (JSON.parse(text) as unknown);
        } catch {
          json = undefined;
        }
        return { kind: 'answered', status: response.status, json };
      } catch (error) {
        return {
          kind: 'unreachable',
          reason: signal.aborted ? `no answer within ${timeoutMs / 1000} s` : failureOf(error),
        };
      }
    },
  };
}

/** The body as text, or undefined when it is longer than `limit` bytes. */
async function boundedText(response: Response, limit: number): Promise<string | undefined> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > limit) {
      await reader.cancel();
      return undefined;
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** Why a fetch got no answer, in the words of the network (ECONNREFUSED, ENOTFOUND, a TLS error). */
function failureOf(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
