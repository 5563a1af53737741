import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client, ManualClock, startTestSite, type TestSite } from './support/test-site';

describe('signing in (ID-1, ID-3)', () => {
  let site: TestSite;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock();
    site = await startTestSite({ clock });
  });
  afterEach(() => site.stop());

  const client = (address?: string) => new Client(site.site.url, address);

  it('signs in a demo user and returns their session with an HttpOnly, SameSite=Strict cookie', async () => {
    const c = client();
    const answer = await c.signIn('operator');
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      userId: 'operator',
      roles: ['operator'],
      mustChangePassword: false,
    });
    const cookie = String(answer.headers['set-cookie']);
    expect(cookie).toMatch(/custodian_session=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect((await c.request('GET', '/api/auth/session')).json).toMatchObject({
      userId: 'operator',
    });
  });

  it('refuses a wrong password with "unauthorized user" and raises a bad_password alert', async () => {
    const answer = await client().signIn('operator', 'not-the-password');
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ code: 'unauthorized_user' });
    expect((answer.json as { message: string }).message).toContain('unauthorized user');
    expect(answer.headers['set-cookie']).toBeUndefined();
    const alerts = await site.site.database.db.selectFrom('alerts').selectAll().execute();
    expect(alerts.map((a) => [a.kind, a.user_id])).toEqual([['bad_password', 'operator']]);
  });

  it('refuses an unknown user with the same answer and an unknown_user alert', async () => {
    const answer = await client().signIn('nobody', 'whatever-password');
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ code: 'unauthorized_user' });
    const alerts = await site.site.database.db.selectFrom('alerts').selectAll().execute();
    expect(alerts.map((a) => a.kind)).toEqual(['unknown_user']);
  });

  it('locks a user out for one address after repeated failures while another address still signs in', async () => {
    const attacker = client('127.0.0.2');
    for (let i = 0; i < 5; i++) {
      expect((await attacker.signIn('admin', 'a-wrong-guess')).status).toBe(401);
    }
    // Even the right password is refused from the locked address…
    const locked = await attacker.signIn('admin');
    expect(locked.status).toBe(429);
    expect(locked.json).toMatchObject({ code: 'locked_out' });
    for (let i = 0; i < 20; i++) await attacker.signIn('admin', 'another-wrong-guess');
    // …while the real admin elsewhere is not locked out.
    expect((await client('127.0.0.3').signIn('admin')).status).toBe(200);

    const alerts = await site.site.database.db
      .selectFrom('alerts')
      .select(['kind', 'client_address'])
      .execute();
    expect(alerts.filter((a) => a.kind === 'brute_force')).toEqual([
      { kind: 'brute_force', client_address: '127.0.0.2' },
    ]);
    expect(alerts.length).toBe(5); // four bad passwords and one brute-force alert, not dozens

    clock.advance(16 * 60_000);
    expect((await attacker.signIn('admin')).status).toBe(200);
  });

  it('signs out and revokes the session for good, across a restart', async () => {
    const c = client();
    await c.signIn('restorer');
    const stolen = c.cookieHeader;
    expect((await c.request('POST', '/api/auth/logout')).status).toBe(200);
    expect((await c.request('GET', '/api/auth/session')).status).toBe(401);

    const replay = client();
    replay.setCookie('custodian_session', stolen.split('=')[1]!);
    expect((await replay.request('GET', '/api/auth/session')).json).toMatchObject({
      code: 'not_signed_in',
    });

    site = await site.restart();
    const again = new Client(site.site.url);
    again.setCookie('custodian_session', stolen.split('=')[1]!);
    expect((await again.request('GET', '/api/auth/session')).status).toBe(401);
    expect((await again.signIn('restorer')).status).toBe(200);
  });

  it('expires a session after its lifetime', async () => {
    const c = client();
    await c.signIn('restorer');
    clock.advance(site.config.sessionTtlMs + 1000);
    const answer = await c.request('GET', '/api/auth/session');
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ code: 'session_expired' });
  });

  it('changes the own password: old one refused, new one works, other sessions ended', async () => {
    const c = client();
    const other = client();
    await c.signIn('restorer2');
    await other.signIn('restorer2');
    const wrong = await c.changePassword('nope-nope-nope', 'a-brand-new-secret');
    expect(wrong.json).toMatchObject({ code: 'wrong_password' });
    // The passwords themselves are refused: the site takes credentials only (MS-2).
    const raw = await c.request('POST', '/api/auth/password', {
      json: { currentPassword: 'custodian-restorer2', newPassword: 'a-brand-new-secret' },
    });
    expect(raw.status).toBe(400);
    expect(raw.json).toMatchObject({ code: 'invalid_request' });
    const ok = await c.changePassword('custodian-restorer2', 'a-brand-new-secret');
    expect(ok.status).toBe(200);
    expect((await c.request('GET', '/api/auth/session')).status).toBe(200);
    expect((await other.request('GET', '/api/auth/session')).status).toBe(401);
    expect((await client().signIn('restorer2')).status).toBe(401);
    expect((await client().signIn('restorer2', 'a-brand-new-secret')).status).toBe(200);
  });

  it('checks the role of a protected route on the server, from the session alone (ID-2)', async () => {
    expect((await client().request('GET', '/api/admin/users')).json).toMatchObject({
      code: 'not_signed_in',
    });
    const operator = client();
    await operator.signIn('operator');
    const refused = await operator.request('GET', '/api/admin/users', {
      headers: { 'x-user-id': 'admin' },
    });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ code: 'forbidden' });
    const admin = client();
    await admin.signIn('admin');
    const listed = await admin.request('GET', '/api/admin/users');
    expect(listed.status).toBe(200);
    const users = (listed.json as { users: { userId: string; passwordHash?: string }[] }).users;
    expect(users.map((u) => u.userId)).toEqual([
      'admin',
      'admin2',
      'operator',
      'operator2',
      'outsider',
      'restorer',
      'restorer2',
    ]);
    expect(listed.text).not.toContain('scrypt');
  });

  it('keeps users across a restart with the same data directory', async () => {
    const c = client();
    await c.signIn('operator2');
    expect((await c.changePassword('custodian-operator2', 'kept-across-restarts')).status).toBe(
      200,
    );
    site = await site.restart();
    expect(
      (await new Client(site.site.url).signIn('operator2', 'kept-across-restarts')).status,
    ).toBe(200);
  });
});
