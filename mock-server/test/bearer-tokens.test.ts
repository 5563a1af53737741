import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, AuditEntry, SignInAnswer, SitePreview } from '../../src/core/contract';
import { Client, startTestSite, type TestSite } from './support/test-site';

/**
 * MS-2 over real HTTP: Tokyo trusts Osaka, so Osaka's console signs in at
 * Tokyo across origins and gets a bearer token, never a cookie. A token is
 * good only at the site that issued it and only while its session lasts;
 * any other is refused, audited and alerted.
 */

async function adminOf(site: TestSite): Promise<Client> {
  const client = new Client(site.site.url);
  await client.signIn('admin');
  return client;
}

async function audit(admin: Client, event: string): Promise<AuditEntry[]> {
  const answer = await admin.request('GET', `/api/admin/audit?event=${event}`);
  return (answer.json as { entries: AuditEntry[] }).entries;
}

async function alerts(admin: Client, kind: string): Promise<Alert[]> {
  const answer = await admin.request('GET', `/api/admin/alerts?kind=${kind}`);
  return (answer.json as { alerts: Alert[] }).alerts;
}

describe('bearer tokens for trusted consoles (MS-2)', { timeout: 60_000 }, () => {
  let tokyo: TestSite;
  let osaka: TestSite;
  let tokyoAdmin: Client;
  let osakaAdmin: Client;
  let fromOsaka: Record<string, string>;

  beforeAll(async () => {
    [tokyo, osaka] = await Promise.all([
      startTestSite({ siteId: 'test-site-tokyo', env: { CUSTODIAN_SITE_NAME: 'Tokyo' } }),
      startTestSite({ siteId: 'test-site-osaka', env: { CUSTODIAN_SITE_NAME: 'Osaka' } }),
    ]);
    [tokyoAdmin, osakaAdmin] = await Promise.all([adminOf(tokyo), adminOf(osaka)]);
    const url = osaka.site.publicUrl;
    const { fingerprint } = (
      await tokyoAdmin.request('POST', '/api/admin/sites/preview', { json: { url } })
    ).json as SitePreview;
    const trusted = await tokyoAdmin.request('POST', '/api/admin/sites', {
      json: { url, fingerprint },
    });
    expect(trusted.status).toBe(201);
    fromOsaka = { origin: url };
  });
  afterAll(async () => {
    await Promise.all([tokyo.stop(), osaka.stop()]);
  });

  /** Osaka's console signed in at Tokyo: its bearer token. */
  async function tokenAtTokyo(userId: string): Promise<string> {
    const answer = await new Client(tokyo.site.url).signIn(userId, undefined, fromOsaka);
    expect(answer.status).toBe(200);
    expect(answer.headers['set-cookie']).toBeUndefined();
    const { bearerToken } = answer.json as SignInAnswer;
    expect(bearerToken).toEqual(expect.any(String));
    return bearerToken!;
  }

  const withToken = (token: string, headers = fromOsaka) => ({
    ...headers,
    authorization: `Bearer ${token}`,
  });

  it("gives a trusted site's console a bearer token and no cookie, and its own console a cookie and no token", async () => {
    const token = await tokenAtTokyo('operator');
    const session = await new Client(tokyo.site.url).request('GET', '/api/auth/session', {
      headers: withToken(token),
    });
    expect(session.status).toBe(200);
    expect(session.json).toMatchObject({ userId: 'operator' });

    const own = new Client(tokyo.site.url);
    const answer = await own.signIn('operator');
    expect(answer.status).toBe(200);
    expect(String(answer.headers['set-cookie'])).toMatch(/custodian_session=.*HttpOnly/i);
    expect((answer.json as SignInAnswer).bearerToken).toBeUndefined();
  });

  it('refuses a token of one site shown to another, audited and alerted there', async () => {
    const token = await tokenAtTokyo('operator');
    const elsewhere = await new Client(osaka.site.url, '127.0.0.7').request(
      'GET',
      '/api/auth/session',
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(elsewhere.status).toBe(401);
    expect((await audit(osakaAdmin, 'bearer_token_refused')).at(0)).toMatchObject({
      clientAddress: '127.0.0.7',
      details: { path: '/api/auth/session', expired: false },
    });
    expect((await alerts(osakaAdmin, 'foreign_token')).at(0)).toMatchObject({
      kind: 'foreign_token',
      clientAddress: '127.0.0.7',
    });
  });

  it('refuses a forged token and one replayed after sign-out, each audited and alerted', async () => {
    const forged = await new Client(tokyo.site.url, '127.0.0.8').request(
      'GET',
      '/api/volumes/mine',
      { headers: withToken('x'.repeat(43)) },
    );
    expect(forged.status).toBe(401);
    expect(
      (await alerts(tokyoAdmin, 'foreign_token')).some((a) => a.clientAddress === '127.0.0.8'),
    ).toBe(true);

    const token = await tokenAtTokyo('restorer');
    const signOut = await new Client(tokyo.site.url, '127.0.0.9').request(
      'POST',
      '/api/auth/logout',
      { headers: withToken(token) },
    );
    expect(signOut.status).toBe(200);
    const replayed = await new Client(tokyo.site.url, '127.0.0.9').request(
      'GET',
      '/api/auth/session',
      { headers: withToken(token) },
    );
    expect(replayed.status).toBe(401);
    const refused = await audit(tokyoAdmin, 'bearer_token_refused');
    expect(refused.filter((e) => e.clientAddress === '127.0.0.9')).toHaveLength(1);
    expect(
      (await alerts(tokyoAdmin, 'foreign_token')).some((a) => a.clientAddress === '127.0.0.9'),
    ).toBe(true);
  });
});
