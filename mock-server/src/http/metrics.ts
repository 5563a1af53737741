import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { isLoopbackHost } from '../config';
import type { SiteOperations } from '../platform/site-operations';

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Counts every answer and serves Prometheus metrics at /metrics. They tell
 * who is active and how much is stored, so only a scraper on this machine
 * (loopback) reads them, or one that sends `Authorization: Bearer` with
 * CUSTODIAN_METRICS_TOKEN.
 */
export function installMetrics(
  app: FastifyInstance,
  operations: SiteOperations,
  token: string | undefined,
): void {
  app.addHook('onResponse', async (request, reply) => {
    operations.countRequest(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
    );
  });
  app.get('/metrics', async (request, reply) => {
    const auth = request.headers.authorization ?? '';
    const bearer = auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const allowed =
      isLoopbackHost(request.ip.replace(/^::ffff:/, '')) ||
      (token !== undefined && bearer !== undefined && sameToken(bearer, token));
    if (!allowed) {
      return reply.status(403).send({
        code: 'forbidden',
        message:
          'Metrics are served to this machine only, or with Authorization: Bearer and the token set in CUSTODIAN_METRICS_TOKEN.',
      });
    }
    return reply
      .type('text/plain; version=0.0.4; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(await operations.metrics());
  });
}
