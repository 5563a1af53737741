import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { contentSecurityPolicy } from './security';
import { notFoundBody } from './errors';

const NONCE_PLACEHOLDER = /__CSP_NONCE__/g;
/** The console build's worker scripts: `assets/<name>.worker-<hash>.js`. */
const WORKER_SCRIPT = /^\/assets\/[\w-]+\.worker-[\w-]+\.js(?:\?|$)/;

/**
 * Serves the built console from the same origin as the API. Every page load
 * gets index.html with a fresh CSP nonce; unknown non-API paths are the
 * single-page app's routes.
 */
export async function serveConsole(
  app: FastifyInstance,
  consoleDir: string,
  connectOrigins: () => Promise<readonly string[]>,
): Promise<boolean> {
  const indexPath = path.join(consoleDir, 'index.html');
  const hasConsole = fs.existsSync(indexPath);
  const indexHtml = hasConsole ? fs.readFileSync(indexPath, 'utf8') : '';

  if (hasConsole) {
    await app.register(fastifyStatic, {
      root: consoleDir,
      index: false,
      wildcard: false,
      maxAge: '1h',
      // index.html is never served as a static file: it needs its nonce.
      allowedPath: (pathName) => pathName !== '/index.html',
    });
  }

  // A worker runs under its own script's policy, not the page's: the
  // workers that read chunks from other sites need the same connect-src.
  // Never cached, so that trust given or withdrawn applies to the next worker.
  app.addHook('onSend', async (request, reply, payload) => {
    if (
      (request.method === 'GET' || request.method === 'HEAD') &&
      WORKER_SCRIPT.test(request.url) &&
      reply.statusCode < 400
    ) {
      reply
        .header('content-security-policy', contentSecurityPolicy(undefined, await connectOrigins()))
        .header('cache-control', 'no-store');
    }
    return payload;
  });

  app.setNotFoundHandler(async (request, reply) => {
    const wantsPage = request.method === 'GET' && !request.url.startsWith('/api/') && hasConsole;
    if (!wantsPage) {
      return reply
        .status(404)
        .type('application/json; charset=utf-8')
        .send(notFoundBody(request.method, request.url));
    }
    const nonce = randomBytes(16).toString('base64');
    return reply
      .header('content-security-policy', contentSecurityPolicy(nonce, await connectOrigins()))
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(indexHtml.replace(NONCE_PLACEHOLDER, nonce));
  });
  return hasConsole;
}
