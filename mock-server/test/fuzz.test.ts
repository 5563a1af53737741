import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes, type RouteEntry } from '../../src/core/contract';
import { backUp, newOperator, randomImage } from './support/backup-client';
import { Client, startTestSite, type TestSite } from './support/test-site';

/**
 * SPEC §4: malformed, oversized and hostile input gets a 4xx with
 * {code, message}, never a 500 or a crash. Every route, as an administrator
 * and as an operator (so role checks do not hide the handlers).
 */
const hostileSegments = [
  '..',
  '../../etc/passwd',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '..%2F..%2F',
  '%00',
  'a'.repeat(5000),
  '😀',
  '%ZZ',
  ' ',
  'CON',
  '0',
  '-1',
  '1e309',
];

const segment = fc.oneof(
  fc.constantFrom(...hostileSegments),
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^[0-9a-f]{64}$/),
  fc.integer().map(String),
);

const body = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({
    userId: fc.anything(),
    credential: fc.anything(),
    reason: fc.anything(),
    ids: fc.anything(),
  }),
  fc.string({ minLength: 10_000, maxLength: 70_000 }),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 5 }),
);

function fill(route: RouteEntry, values: string[]): string {
  let i = 0;
  // Raw segments go in as they are (already percent-encoded or not): hostile on purpose.
  return route.path.replace(/:([A-Za-z]+)/g, () => values[i++ % values.length] ?? 'x');
}

describe('hostile input to every route', () => {
  let site: TestSite;
  let admin: Client;
  let operator: Client;

  beforeAll(async () => {
    site = await startTestSite();
    admin = new Client(site.site.url);
    await admin.signIn('admin');
    operator = new Client(site.site.url);
    await operator.signIn('operator');
    await backUp(await newOperator(operator), site.site.info, 'ext4:fuzz', randomImage(100));
  });
  afterAll(() => site.stop());

  const routes = Object.entries(apiRoutes as Record<string, RouteEntry>).filter(
    ([name]) => !['events', 'logout', 'login'].includes(name),
  );

  for (const [name, route] of routes) {
    it(`${name} answers 4xx with {code, message}`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(segment, { minLength: 1, maxLength: 3 }),
          body,
          fc.boolean(),
          async (values, json, asAdmin) => {
            const client = asAdmin ? admin : operator;
            const path = fill(route, values);
            const answer = await client.request(route.method, path, {
              ...(route.method === 'GET' || route.method === 'HEAD' ? {} : { json }),
            });
            expect(
              answer.status,
              `${route.method} ${path.slice(0, 120)} → ${answer.status} ${answer.text.slice(0, 200)}`,
            ).toBeLessThan(500);
            if (route.method !== 'HEAD' && answer.status >= 400) {
              expect(answer.json).toMatchObject({
                code: expect.any(String),
                message: expect.any(String),
              });
              expect(answer.text).not.toMatch(/\bat .+\.(ts|js):\d+/);
            }
          },
        ),
        { numRuns: 15 },
      );
    });
  }

  it('login resists hostile bodies too', async () => {
    await fc.assert(
      fc.asyncProperty(body, async (json) => {
        const answer = await new Client(site.site.url, '127.0.0.20').request(
          'POST',
          '/api/auth/login',
          { json },
        );
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
      }),
      { numRuns: 30 },
    );
  });
});
