import type { FastifyInstance } from 'fastify';

/**
 * The Content Security Policy. Exceptions, each needed by a library:
 * - script-src 'wasm-unsafe-eval': hash-wasm compiles WebAssembly for the
 *   incremental image SHA-256 (no JavaScript eval is allowed).
 * - style-src-elem 'nonce-…': PrimeVue injects its theme as <style> elements
 *   carrying the per-page nonce.
 * - style-src-attr 'unsafe-inline': components set inline style attributes
 *   (positions of overlays); attributes cannot run script.
 * `connect` adds the exact origins of the sites this site trusts, which its
 * console calls with bearer tokens (MS-1); never a wildcard.
 */
export function contentSecurityPolicy(nonce?: string, connect: readonly string[] = []): string {
  const styleElem = nonce ? `'self' 'nonce-${nonce}'` : `'self'`;
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    `style-src 'self'${nonce ? ` 'nonce-${nonce}'` : ''}`,
    `style-src-elem ${styleElem}`,
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    ["connect-src 'self'", ...connect].join(' '),
    "worker-src 'self' blob:",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function installSecurityHeaders(app: FastifyInstance, tls: boolean): void {
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-resource-policy', 'same-origin');
    reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=()');
    if (!reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', contentSecurityPolicy());
    }
    if (tls) reply.header('strict-transport-security', 'max-age=31536000');
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
    return payload;
  });
}
