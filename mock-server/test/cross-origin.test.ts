import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, AuditEntry } from '../../src/core/contract';
import { siteFingerprints } from '../../src/core/crypto/site-fingerprint';
import { CROSS_ORIGIN_ALERTS_PER_WINDOW } from '../src/domain/sites/cross-origin';
import { Client, startTestSite, type TestSite } from './support/test-site';

/**
 * MS-1: a site answers the consoles of the sites it trusts (CORS for exactly
 * their origins, never credentials) and refuses every other origin's page,
 * audited and alerted; its own console is unchanged.
 */
describe('cross-origin calls (MS-1)', { timeout: 60_000 }, () => {
  let tokyo: TestSite;
  let osaka: TestSite;
  let admin: Client;

  const alertsOf = async (kind: string): Promise<Alert[]> =>
    ((await admin.request('GET', `/api/admin/alerts?kind=${kind}`)).json as { alerts: Alert[] })
      .alerts;
  const auditOf = async (event: string): Promise<AuditEntry[]> =>
    (
      (await admin.request('GET', `/api/admin/audit?event=${event}`)).json as {
        entries: AuditEntry[];
      }
    ).entries;

  beforeAll(async () => {
    [tokyo, osaka] = await Promise.all([
      startTestSite({ siteId: 'test-site-tokyo', env: { CUSTODIAN_SITE_NAME: 'Tokyo' } }),
      startTestSite({ siteId: 'test-site-osaka', env: { CUSTODIAN_SITE_NAME: 'Osaka' } }),
    ]);
    admin = new Client(tokyo.site.url);
    await admin.signIn('admin');
    const trust = await admin.request('POST', '/api/admin/sites', {
      json: {
        url: osaka.site.publicUrl,
        fingerprint: (await siteFingerprints(osaka.site.info)).site,
      },
    });
    expect(trust.status).toBe(201);
  });
  afterAll(async () => {
    await Promise.all([tokyo.stop(), osaka.stop()]);
  });

  it("answers a trusted site's preflight with exactly its origin, and no credentials", async () => {
    const answer = await new Client(tokyo.site.url).request('OPTIONS', '/api/admin/sites', {
      csrf: false,
      headers: {
        origin: osaka.site.publicUrl,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-custodian-csrf',
      },
    });
    expect(answer.status).toBe(204);
    expect(answer.headers['access-control-allow-origin']).toBe(osaka.site.publicUrl);
    expect(answer.headers['vary']).toMatch(/origin/i);
    expect(answer.headers['access-control-allow-methods']).toContain('POST');
    const allowed = String(answer.headers['access-control-allow-headers']).split(/,\s*/);
    expect(allowed).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'x-custodian-csrf']),
    );
    expect(answer.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it("lets a trusted site's console send a copy's transfers and read which blob a chunk is (MS-3)", async () => {
    const preflight = await new Client(tokyo.site.url).request(
      'OPTIONS',
      '/api/pairs/p/transfers/1',
      {
        csrf: false,
        headers: {
          origin: osaka.site.publicUrl,
          'access-control-request-method': 'PUT',
          'access-control-request-headers':
            'authorization, content-type, x-custodian-csrf, x-custodian-body-sha256',
        },
      },
    );
    expect(preflight.status).toBe(204);
    expect(String(preflight.headers['access-control-allow-headers']).split(/,\s*/)).toContain(
      'x-custodian-body-sha256',
    );
    const head = await new Client(tokyo.site.url).request('HEAD', '/api/volumes/v/chunks/c', {
      headers: { origin: osaka.site.publicUrl },
    });
    expect(String(head.headers['access-control-expose-headers']).split(/,\s*/)).toEqual(
      expect.arrayContaining(['x-custodian-ciphertext-sha256', 'x-custodian-chunk-epoch']),
    );
  });

  it("opens the event stream to a trusted site's console with its bearer token, across origins", async () => {
    const login = await new Client(tokyo.site.url).signIn('admin', undefined, {
      origin: osaka.site.publicUrl,
    });
    const { bearerToken } = login.json as { bearerToken: string };
    expect(bearerToken).toBeTruthy();
    const stop = new AbortController();
    const stream = await fetch(`${tokyo.site.url}/api/events`, {
      headers: { origin: osaka.site.publicUrl, authorization: `Bearer ${bearerToken}` },
      signal: stop.signal,
    });
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(stream.headers.get('access-control-allow-origin')).toBe(osaka.site.publicUrl);
      expect(stream.headers.get('access-control-allow-credentials')).toBeNull();
    } finally {
      stop.abort();
    }
  });

  it("answers a trusted site's call with its origin, and never with this site's session", async () => {
    const site = await new Client(tokyo.site.url).request('GET', '/api/site', {
      headers: { origin: osaka.site.publicUrl },
    });
    expect(site.status).toBe(200);
    expect(site.headers['access-control-allow-origin']).toBe(osaka.site.publicUrl);
    expect(site.headers['access-control-allow-credentials']).toBeUndefined();
    expect(site.json).toMatchObject({ siteId: tokyo.site.info.siteId });
    // The administrator's cookie, sent from Osaka's page, opens nothing here.
    const session = await admin.request('GET', '/api/auth/session', {
      headers: { origin: osaka.site.publicUrl },
    });
    expect(session.status).toBe(401);
    expect((await admin.request('GET', '/api/auth/session')).status).toBe(200);
  });

  it('leaves calls from its own console as they are', async () => {
    const own = [tokyo.site.publicUrl, tokyo.site.publicUrl.replace('127.0.0.1', 'localhost')];
    for (const origin of own) {
      const answer = await admin.request('GET', '/api/auth/session', { headers: { origin } });
      expect([origin, answer.status]).toEqual([origin, 200]);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    }
    const signIn = await new Client(tokyo.site.url).signIn('operator', undefined, {
      origin: tokyo.site.publicUrl,
    });
    expect(signIn.status).toBe(200);
  });

  it('refuses any other origin, audited, with a handful of alerts however many calls', async () => {
    const before = (await alertsOf('untrusted_origin')).length;
    const caller = new Client(tokyo.site.url);
    const evil = 'http://evil.test';
    for (let i = 0; i < 20; i++) {
      const answer = await caller.request('GET', '/api/site', { headers: { origin: evil } });
      expect(answer.status).toBe(403);
      expect(answer.json).toMatchObject({ code: 'cross_origin_refused' });
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    }
    const preflight = await caller.request('OPTIONS', '/api/admin/sites', {
      csrf: false,
      headers: { origin: evil, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    // A look-alike of a trusted origin is another origin.
    const lookalike = `${osaka.site.publicUrl}/`;
    expect(
      (await caller.request('GET', '/api/site', { headers: { origin: lookalike } })).status,
    ).toBe(403);

    const refused = await auditOf('cross_origin_refused');
    expect(refused.filter((e) => e.details['origin'] === evil)).toHaveLength(21);
    expect(refused.find((e) => e.details['origin'] === evil)).toMatchObject({
      actor: null,
      clientAddress: '127.0.0.1',
      details: { method: 'OPTIONS', path: '/api/admin/sites' },
    });
    const one = await alertsOf('untrusted_origin');
    expect(one).toHaveLength(before + 2);
    expect(one.map((a) => a.sentence).join(' ')).toContain(evil);

    // Many origins: one alert each for the first few, one summary, then quiet.
    for (let i = 0; i < CROSS_ORIGIN_ALERTS_PER_WINDOW + 3; i++) {
      await caller.request('GET', '/api/health', { headers: { origin: `http://evil-${i}.test` } });
    }
    const all = await alertsOf('untrusted_origin');
    expect(all).toHaveLength(CROSS_ORIGIN_ALERTS_PER_WINDOW + 1);
    expect(all[0]!.sentence).toMatch(/more than \d+ origins/);
  });

  it('refuses the console of a site whose trust was withdrawn', async () => {
    const withdraw = await admin.request(
      'POST',
      `/api/admin/sites/${osaka.site.info.siteId}/withdraw`,
      { json: { reason: 'no longer ours' } },
    );
    expect(withdraw.status).toBe(200);
    const answer = await new Client(tokyo.site.url).request('GET', '/api/site', {
      headers: { origin: osaka.site.publicUrl },
    });
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ code: 'cross_origin_refused' });
  });
});

describe('a site behind its public URL (MS-1)', { timeout: 60_000 }, () => {
  it('takes its public URL as its own origin, and its loopback address as another', async () => {
    const site = await startTestSite({
      env: { CUSTODIAN_PUBLIC_URL: 'https://custodian.example' },
    });
    try {
      expect(site.site.publicUrl).toBe('https://custodian.example');
      const client = new Client(site.site.url);
      const own = await client.signIn('admin', undefined, { origin: 'https://custodian.example' });
      expect(own.status).toBe(200);
      const loopback = await client.request('GET', '/api/site', {
        headers: { origin: site.site.url },
      });
      expect(loopback.status).toBe(403);
      const sites = await client.request('GET', '/api/admin/sites');
      expect(sites.json).toMatchObject({ home: { url: 'https://custodian.example' } });
    } finally {
      await site.stop();
    }
  });
});
