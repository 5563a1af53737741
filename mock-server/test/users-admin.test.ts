import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  AdminUser,
  AuditEntry,
  MailSettings,
  PasswordResetResponse,
  RoleGrant,
  SessionInfo,
} from '../../src/core/contract';
import { Client, startTestSite, type HttpAnswer, type TestSite } from './support/test-site';

const REASON = 'ticket 42: access review';

function errorCode(answer: HttpAnswer): string | undefined {
  return (answer.json as { code?: string } | undefined)?.code;
}

describe('user administration (ID-1)', () => {
  let site: TestSite;
  let admin: Client;
  /** What the administrator's console sends: the initial password as its credential (MS-2). */
  let createBody: Record<string, unknown>;

  beforeEach(async () => {
    site = await startTestSite();
    admin = new Client(site.site.url);
    expect((await admin.signIn('admin')).status).toBe(200);
    createBody = {
      userId: 'carol',
      displayName: 'Carol Clerk',
      roles: ['restorer'],
      initialCredential: await admin.credential('first-light-2026'),
      reason: REASON,
    };
  });
  afterEach(() => site.stop());

  async function usersNow(): Promise<Map<string, AdminUser>> {
    const answer = await admin.request('GET', '/api/admin/users');
    expect(answer.status).toBe(200);
    const { users } = answer.json as { users: AdminUser[] };
    return new Map(users.map((u) => [u.userId, u]));
  }

  async function auditOf(event: string): Promise<AuditEntry[]> {
    const answer = await admin.request('GET', `/api/admin/audit?event=${event}`);
    expect(answer.status).toBe(200);
    return (answer.json as { entries: AuditEntry[] }).entries;
  }

  async function signedIn(userId: string, password?: string): Promise<Client> {
    const client = new Client(site.site.url);
    const answer = await client.signIn(userId, password);
    expect(answer.status, `${userId} signs in`).toBe(200);
    return client;
  }

  it('creates a user who must change the password at first sign-in, audited', async () => {
    const created = await admin.request('POST', '/api/admin/users', { json: createBody });
    expect(created.status).toBe(201);
    expect((created.json as { user: AdminUser }).user).toMatchObject({
      userId: 'carol',
      displayName: 'Carol Clerk',
      roles: ['restorer'],
      disabled: false,
      mustChangePassword: true,
      activeSessions: 0,
    });

    const carol = new Client(site.site.url);
    const signIn = await carol.signIn('carol', 'first-light-2026');
    expect(signIn.status).toBe(200);
    expect((signIn.json as SessionInfo).mustChangePassword).toBe(true);

    const [entry] = await auditOf('user_created');
    expect(entry).toMatchObject({
      actor: 'admin',
      details: { userId: 'carol', roles: ['restorer'], reason: REASON },
    });
    expect(JSON.stringify(entry)).not.toContain('first-light-2026');
    expect(JSON.stringify(entry)).not.toContain(createBody.initialCredential);
  });

  it('refuses a duplicate ID, invalid roles, a password instead of a credential, a blank reason and a bad ID', async () => {
    const { initialCredential, ...withoutCredential } = createBody;
    const cases: [Record<string, unknown>, number, string][] = [
      [{ ...createBody, userId: 'operator' }, 409, 'user_exists'],
      [{ ...createBody, roles: ['root'] }, 400, 'invalid_request'],
      [{ ...createBody, roles: [] }, 400, 'invalid_request'],
      [{ ...createBody, roles: ['admin', 'admin'] }, 400, 'invalid_request'],
      // The password itself is refused, alone or beside its credential (MS-2).
      [{ ...withoutCredential, initialPassword: 'first-light-2026' }, 400, 'invalid_request'],
      [{ ...createBody, initialPassword: 'first-light-2026' }, 400, 'invalid_request'],
      [
        { ...createBody, initialCredential: `${initialCredential as string}=` },
        400,
        'invalid_request',
      ],
      [{ ...createBody, reason: '' }, 400, 'reason_required'],
      [{ ...createBody, reason: '   ' }, 400, 'reason_required'],
      [{ ...createBody, reason: undefined }, 400, 'invalid_request'],
      [{ ...createBody, reason: 'x'.repeat(501) }, 400, 'invalid_request'],
      [{ ...createBody, userId: 'carol smith' }, 400, 'invalid_request'],
      [{ ...createBody, userId: '../etc' }, 400, 'invalid_request'],
      [{ ...createBody, displayName: ' ' }, 400, 'invalid_request'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await admin.request('POST', '/api/admin/users', { json: body });
      expect([answer.status, errorCode(answer)], JSON.stringify(body)).toEqual([status, code]);
      expect((answer.json as { message: string }).message).toBeTruthy();
    }
    const users = await usersNow();
    expect(users.has('carol')).toBe(false);
    expect(users.get('operator')?.displayName).toBe('Olive Operator');
    expect(await auditOf('user_created')).toHaveLength(7); // the demo accounts only
  });

  it('disables a user: their session stops at once and sign-in is refused; enabling lets them back', async () => {
    const restorer = await signedIn('restorer');
    expect((await restorer.request('GET', '/api/auth/session')).status).toBe(200);

    const disabled = await admin.request('POST', '/api/admin/users/restorer/disable', {
      json: { reason: REASON },
    });
    expect(disabled.status).toBe(200);
    expect((disabled.json as { user: AdminUser }).user).toMatchObject({
      disabled: true,
      activeSessions: 0,
    });
    expect((await restorer.request('GET', '/api/auth/session')).status).toBe(401);
    const refused = await new Client(site.site.url).signIn('restorer');
    expect([refused.status, errorCode(refused)]).toEqual([401, 'unauthorized_user']);

    const enabled = await admin.request('POST', '/api/admin/users/restorer/enable', {
      json: { reason: 'review done' },
    });
    expect((enabled.json as { user: AdminUser }).user.disabled).toBe(false);
    // The old session stays ended; a new sign-in works.
    expect((await restorer.request('GET', '/api/auth/session')).status).toBe(401);
    await signedIn('restorer');

    expect(await auditOf('user_disabled')).toMatchObject([
      { actor: 'admin', details: { userId: 'restorer', reason: REASON } },
    ]);
    expect(await auditOf('user_enabled')).toMatchObject([
      { actor: 'admin', details: { userId: 'restorer', reason: 'review done' } },
    ]);
  });

  it('answers 404 for an unknown user and 400 for an invalid ID or a blank reason', async () => {
    for (const action of ['disable', 'enable', 'password-reset', 'end-sessions']) {
      const unknown = await admin.request('POST', `/api/admin/users/ghost/${action}`, {
        json: { reason: REASON },
      });
      expect([unknown.status, errorCode(unknown)], action).toEqual([404, 'user_not_found']);
      const invalid = await admin.request('POST', `/api/admin/users/bad%20id/${action}`, {
        json: { reason: REASON },
      });
      expect([invalid.status, errorCode(invalid)], action).toEqual([400, 'invalid_request']);
      const blank = await admin.request('POST', `/api/admin/users/operator/${action}`, {
        json: { reason: ' ' },
      });
      expect([blank.status, errorCode(blank)], action).toEqual([400, 'reason_required']);
      const missing = await admin.request('POST', `/api/admin/users/operator/${action}`, {
        json: {},
      });
      expect([missing.status, errorCode(missing)], action).toEqual([400, 'invalid_request']);
    }
    const roles = await admin.request('PUT', '/api/admin/users/ghost/roles', {
      json: { roles: ['operator'], reason: REASON },
    });
    expect([roles.status, errorCode(roles)]).toEqual([404, 'user_not_found']);
    expect((await usersNow()).get('operator')).toMatchObject({ disabled: false });
  });

  it('resets a password: a one-time temporary password, sessions ended, change required', async () => {
    const operator = await signedIn('operator');
    const answer = await admin.request('POST', '/api/admin/users/operator/password-reset', {
      json: { reason: REASON },
    });
    expect(answer.status).toBe(200);
    const { temporaryPassword, user } = answer.json as PasswordResetResponse;
    expect(temporaryPassword).toMatch(/^[A-Za-z0-9]{4}(-[A-Za-z0-9]{4}){3}$/);
    expect(user).toMatchObject({ mustChangePassword: true, activeSessions: 0 });

    expect((await operator.request('GET', '/api/auth/session')).status).toBe(401);
    expect((await new Client(site.site.url).signIn('operator')).status).toBe(401);
    const again = await signedIn('operator', temporaryPassword);
    const session = (await again.request('GET', '/api/auth/session')).json as SessionInfo;
    expect(session.mustChangePassword).toBe(true);

    const changed = await again.changePassword(temporaryPassword, 'a-brand-new-secret');
    expect(changed.status).toBe(200);
    expect((await usersNow()).get('operator')?.mustChangePassword).toBe(false);

    const [entry] = await auditOf('user_password_reset');
    expect(entry).toMatchObject({
      actor: 'admin',
      details: { userId: 'operator', reason: REASON },
    });
    expect(JSON.stringify(entry)).not.toContain(temporaryPassword);
  });

  it('sets roles, which take effect on the next call; the admin role once a second administrator confirms', async () => {
    const restorer2 = await signedIn('restorer2');
    expect((await restorer2.request('GET', '/api/admin/users')).status).toBe(403);
    expect((await restorer2.request('GET', '/api/volumes/mine')).status).toBe(403);

    const answer = await admin.request('PUT', '/api/admin/users/restorer2/roles', {
      json: { roles: ['operator', 'admin'], reason: REASON },
    });
    expect(answer.status).toBe(200);
    const { user, pendingGrant } = answer.json as { user: AdminUser; pendingGrant: RoleGrant };
    expect(user.roles).toEqual(['operator']);
    expect(pendingGrant).toMatchObject({
      userId: 'restorer2',
      role: 'admin',
      requestedBy: 'admin',
    });
    expect((await restorer2.request('GET', '/api/volumes/mine')).status).toBe(200);
    expect((await restorer2.request('GET', '/api/admin/users')).status).toBe(403);
    const confirmed = await (
      await signedIn('admin2')
    ).request('POST', `/api/admin/role-grants/${pendingGrant.id}/decide`, {
      json: { approve: true, reason: REASON },
    });
    expect(confirmed.status).toBe(200);
    expect((await restorer2.request('GET', '/api/admin/users')).status).toBe(200);

    for (const roles of [[], ['superuser'], ['operator', 'operator'], 'admin']) {
      const bad = await admin.request('PUT', '/api/admin/users/restorer2/roles', {
        json: { roles, reason: REASON },
      });
      expect([bad.status, errorCode(bad)], JSON.stringify(roles)).toEqual([400, 'invalid_request']);
    }
    expect((await usersNow()).get('restorer2')?.roles).toEqual(['operator', 'admin']);
    expect(await auditOf('user_roles_changed')).toMatchObject([
      {
        actor: 'admin',
        details: {
          userId: 'restorer2',
          from: ['restorer'],
          to: ['operator'],
          reason: REASON,
        },
      },
    ]);
  });

  it('never lets the last active administrator be disabled or demoted', async () => {
    const admin2 = await signedIn('admin2');
    expect(
      (await admin.request('POST', '/api/admin/users/admin2/disable', { json: { reason: REASON } }))
        .status,
    ).toBe(200);
    expect((await admin2.request('GET', '/api/admin/users')).status).toBe(401);

    const demote = await admin.request('PUT', '/api/admin/users/admin/roles', {
      json: { roles: ['operator'], reason: REASON },
    });
    expect(demote.status).toBe(409);
    expect(demote.json).toMatchObject({
      code: 'last_admin',
      message: expect.stringMatching(/the last administrator cannot be removed/i) as unknown,
    });
    const self = await admin.request('POST', '/api/admin/users/admin/disable', {
      json: { reason: REASON },
    });
    expect([self.status, errorCode(self)]).toEqual([409, 'own_account']);
    expect((await usersNow()).get('admin')).toMatchObject({ roles: ['admin'], disabled: false });

    // With a second administrator back, the first may step down.
    await admin.request('POST', '/api/admin/users/admin2/enable', { json: { reason: REASON } });
    const stepDown = await admin.request('PUT', '/api/admin/users/admin/roles', {
      json: { roles: ['operator'], reason: REASON },
    });
    expect(stepDown.status).toBe(200);
    expect((await admin.request('GET', '/api/admin/users')).status).toBe(403);
  });

  it('leaves one administrator when administrators disable each other at the same moment', async () => {
    const admin2 = await signedIn('admin2');
    for (const userId of ['operator2', 'restorer2']) {
      const asked = await admin.request('PUT', `/api/admin/users/${userId}/roles`, {
        json: { roles: ['admin'], reason: REASON },
      });
      const { pendingGrant } = asked.json as { pendingGrant: RoleGrant };
      const confirmed = await admin2.request(
        'POST',
        `/api/admin/role-grants/${pendingGrant.id}/decide`,
        { json: { approve: true, reason: REASON } },
      );
      expect(confirmed.status).toBe(200);
    }
    const admins = ['admin', 'admin2', 'operator2', 'restorer2'];
    const clients = await Promise.all(admins.map(async (id) => [id, await signedIn(id)] as const));
    const answers = await Promise.all(
      clients.flatMap(([actor, client]) =>
        admins
          .filter((target) => target !== actor)
          .map((target) =>
            client.request('POST', `/api/admin/users/${target}/disable`, {
              json: { reason: REASON },
            }),
          ),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
    for (const refused of answers.filter((a) => a.status !== 200)) {
      expect(['last_admin', 'not_signed_in']).toContain(errorCode(refused));
    }
    const users = [...(await site.site.identity.listUsers())];
    expect(users.filter((u) => u.roles.includes('admin') && !u.disabled)).toHaveLength(1);
  });

  it('shows the restorer accounts to operators and administrators, not to restorers (BK-4)', async () => {
    const restorers = ['outsider', 'restorer', 'restorer2'];
    for (const userId of ['operator', 'admin']) {
      const client = userId === 'admin' ? admin : await signedIn(userId);
      const answer = await client.request('GET', '/api/users');
      expect(answer.status, userId).toBe(200);
      expect((answer.json as { users: { userId: string }[] }).users.map((u) => u.userId)).toEqual(
        restorers,
      );
    }
    for (const userId of ['restorer', 'outsider']) {
      const answer = await (await signedIn(userId)).request('GET', '/api/users');
      expect([answer.status, errorCode(answer)], userId).toEqual([403, 'forbidden']);
      expect(answer.text).not.toContain('restorer2');
    }
  });

  it('ends a user’s sessions and counts them; an administrator keeps their own current one', async () => {
    const first = await signedIn('restorer');
    const second = await signedIn('restorer');
    expect((await usersNow()).get('restorer')?.activeSessions).toBe(2);

    const answer = await admin.request('POST', '/api/admin/users/restorer/end-sessions', {
      json: { reason: REASON },
    });
    expect(answer.json).toMatchObject({ ended: 2, user: { activeSessions: 0 } });
    expect((await first.request('GET', '/api/auth/session')).status).toBe(401);
    expect((await second.request('GET', '/api/auth/session')).status).toBe(401);

    const elsewhere = await signedIn('admin');
    const own = await admin.request('POST', '/api/admin/users/admin/end-sessions', {
      json: { reason: 'lost laptop' },
    });
    expect(own.json).toMatchObject({ ended: 1 });
    expect((await elsewhere.request('GET', '/api/auth/session')).status).toBe(401);
    expect((await admin.request('GET', '/api/auth/session')).status).toBe(200);

    expect(await auditOf('user_sessions_ended')).toMatchObject([
      { actor: 'admin', details: { userId: 'admin', reason: 'lost laptop' } },
      { actor: 'admin', details: { userId: 'restorer', reason: REASON } },
    ]);
  });

  it('refuses a change whose audit entry cannot be written, and changes nothing', async () => {
    site.site.database.sqlite.exec(
      `CREATE TRIGGER audit_full BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END;`,
    );
    const answers = [
      await admin.request('POST', '/api/admin/users/operator/disable', {
        json: { reason: REASON },
      }),
      await admin.request('PUT', '/api/admin/users/operator/roles', {
        json: { roles: ['admin'], reason: REASON },
      }),
      await admin.request('POST', '/api/admin/users', { json: createBody }),
      await admin.request('POST', '/api/admin/users/operator/password-reset', {
        json: { reason: REASON },
      }),
    ];
    for (const answer of answers) {
      expect([answer.status, errorCode(answer)]).toEqual([503, 'audit_unavailable']);
    }
    site.site.database.sqlite.exec('DROP TRIGGER audit_full');
    const users = await usersNow();
    expect(users.get('operator')).toMatchObject({
      disabled: false,
      roles: ['operator'],
      mustChangePassword: false,
    });
    expect(users.has('carol')).toBe(false);
    await signedIn('operator');
  });

  it('keeps every user route for administrators, with the CSRF header', async () => {
    const restorer = await signedIn('restorer');
    const calls: [string, string, unknown][] = [
      ['POST', '/api/admin/users', createBody],
      ['POST', '/api/admin/users/operator/disable', { reason: REASON }],
      ['POST', '/api/admin/users/operator/enable', { reason: REASON }],
      ['POST', '/api/admin/users/operator/password-reset', { reason: REASON }],
      ['PUT', '/api/admin/users/operator/roles', { roles: ['admin'], reason: REASON }],
      ['POST', '/api/admin/users/operator/end-sessions', { reason: REASON }],
      ['POST', '/api/admin/site/test-mail', {}],
    ];
    for (const [method, path, json] of calls) {
      const forbidden = await restorer.request(method, path, { json });
      expect([forbidden.status, errorCode(forbidden)], path).toEqual([403, 'forbidden']);
      const noCsrf = await admin.request(method, path, { json, csrf: false });
      expect([noCsrf.status, errorCode(noCsrf)], path).toEqual([403, 'csrf_required']);
      const anonymous = await new Client(site.site.url).request(method, path, { json });
      expect(anonymous.status, path).toBe(401);
    }
    expect((await restorer.request('GET', '/api/admin/site/mail')).status).toBe(403);
    expect((await usersNow()).get('operator')).toMatchObject({ disabled: false });
  });
});

describe('alert mail settings and test mail (AL-3)', () => {
  let site: TestSite | undefined;
  afterEach(() => site?.stop());

  it('says mail is not configured, and refuses a test mail with a clear message', async () => {
    site = await startTestSite();
    const admin = new Client(site.site.url);
    await admin.signIn('admin');
    expect((await admin.request('GET', '/api/admin/site/mail')).json).toEqual({
      configured: false,
    });
    const answer = await admin.request('POST', '/api/admin/site/test-mail');
    expect(answer.status).toBe(409);
    expect(answer.json).toMatchObject({
      code: 'mail_not_configured',
      message: expect.stringContaining('CUSTODIAN_SMTP_URL') as unknown,
    });
  });

  it('shows the SMTP settings without the password and sends a test mail, audited', async () => {
    const received: { text: string; user: string | undefined }[] = [];
    const smtp = new SMTPServer({
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      onAuth(auth, _session, done) {
        done(null, { user: auth.username });
      },
      onData(stream, session, done) {
        let text = '';
        stream.on('data', (d: Buffer) => (text += d.toString('utf8')));
        stream.on('end', () => {
          received.push({ text, user: session.user as string | undefined });
          done();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const port = (smtp.server.address() as AddressInfo).port;
    try {
      site = await startTestSite({
        env: {
          CUSTODIAN_SMTP_URL: `smtp://mailer:s3cret-pass@127.0.0.1:${port}`,
          CUSTODIAN_ALERT_MAIL_TO: 'security@example.test, ops@example.test',
          CUSTODIAN_MAIL_FROM: 'custodian@example.test',
          CUSTODIAN_MAIL_BURST: '30',
        },
      });
      const admin = new Client(site.site.url);
      await admin.signIn('admin');
      const settings = await admin.request('GET', '/api/admin/site/mail');
      expect(settings.json satisfies unknown as MailSettings).toEqual({
        configured: true,
        host: '127.0.0.1',
        port,
        secure: false,
        username: 'mailer',
        passwordSet: true,
        from: 'custodian@example.test',
        to: ['security@example.test', 'ops@example.test'],
        burstWindowSeconds: 30,
      });
      expect(settings.text).not.toContain('s3cret');

      const sent = await admin.request('POST', '/api/admin/site/test-mail');
      expect(sent.status).toBe(200);
      expect(sent.json).toEqual({ sent: true, to: ['security@example.test', 'ops@example.test'] });
      expect(received).toHaveLength(1);
      expect(received[0]!.user).toBe('mailer');
      expect(received[0]!.text).toContain('Test mail');
      const audit = (await admin.request('GET', '/api/admin/audit?event=test_mail_sent')).json as {
        entries: AuditEntry[];
      };
      expect(audit.entries).toMatchObject([{ actor: 'admin' }]);
    } finally {
      await site?.stop();
      site = undefined;
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  });

  it('says so when the mail server cannot be reached', async () => {
    const closed = new SMTPServer({});
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    site = await startTestSite({
      env: {
        CUSTODIAN_SMTP_URL: `smtp://127.0.0.1:${port}`,
        CUSTODIAN_ALERT_MAIL_TO: 'security@example.test',
      },
    });
    const admin = new Client(site.site.url);
    await admin.signIn('admin');
    const answer = await admin.request('POST', '/api/admin/site/test-mail');
    expect(answer.status).toBe(502);
    expect(answer.json).toMatchObject({
      code: 'mail_failed',
      message: expect.stringContaining('could not be sent') as unknown,
    });
  });
});
