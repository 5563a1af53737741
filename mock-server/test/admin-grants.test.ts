import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  AdminUser,
  Approval,
  AuditEntry,
  PasswordResetResponse,
  RoleGrant,
} from '../../src/core/contract';
import { backUp, enc, newOperator, randomImage, restore } from './support/backup-client';
import { Client, startTestSite, type HttpAnswer, type TestSite } from './support/test-site';

const REASON = 'ticket 5: new colleague';
const VOLUME = 'iso9660:GRANTS:2026-11-21-13-30-00-00';

function codeOf(answer: HttpAnswer): [number, string | undefined] {
  return [answer.status, (answer.json as { code?: string } | undefined)?.code];
}

/** One administrator alone cannot make a second one (ID-1, ES-2). */
describe('administrator role grants', () => {
  let site: TestSite;
  let admin: Client;
  let admin2: Client;

  beforeEach(async () => {
    site = await startTestSite();
    admin = await signedIn('admin');
    admin2 = await signedIn('admin2');
  });
  afterEach(() => site.stop());

  async function signedIn(userId: string, password?: string): Promise<Client> {
    const client = new Client(site.site.url);
    expect((await client.signIn(userId, password)).status, `${userId} signs in`).toBe(200);
    return client;
  }

  const decide = (client: Client, grantId: string, approve: boolean) =>
    client.request('POST', `/api/admin/role-grants/${grantId}/decide`, {
      json: { approve, reason: REASON },
    });

  async function auditOf(event: string): Promise<AuditEntry[]> {
    const answer = await admin.request('GET', `/api/admin/audit?event=${event}`);
    return (answer.json as { entries: AuditEntry[] }).entries;
  }

  /** A burned one-time record and a re-arm of it that admin asked for. */
  async function rearmRequested(): Promise<Approval> {
    const ownerClient = await signedIn('operator');
    const owner = await newOperator(ownerClient);
    await backUp(owner, site.site.info, VOLUME, randomImage(100), {
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });
    await restore(await signedIn('restorer'), VOLUME);
    const answer = await admin.request('POST', `/api/admin/records/${enc(VOLUME)}/rearm`, {
      json: { reason: REASON },
    });
    expect(answer.status).toBe(200);
    return answer.json as Approval;
  }

  it('keeps an administrator from creating a second administrator to approve their own re-arm', async () => {
    const rearm = await rearmRequested();
    const created = await admin.request('POST', '/api/admin/users', {
      json: {
        userId: 'mallory',
        displayName: 'Mallory',
        roles: ['admin'],
        initialCredential: await admin.credential('first-light-2026'),
        reason: REASON,
      },
    });
    expect(created.status).toBe(201);
    const { user, pendingGrant } = created.json as { user: AdminUser; pendingGrant: RoleGrant };
    expect(user.roles).toEqual([]);
    expect(pendingGrant).toMatchObject({ userId: 'mallory', role: 'admin', requestedBy: 'admin' });

    // With the initial password, nothing but the password change…
    const mallory = await signedIn('mallory', 'first-light-2026');
    const approve = (client: Client) =>
      client.request('POST', `/api/admin/approvals/${rearm.id}/decide`, {
        json: { approve: true, reason: REASON },
      });
    expect(codeOf(await approve(mallory))).toEqual([403, 'password_change_required']);
    // …and with a password of their own, still no administrator until a second one confirms.
    const changed = await mallory.changePassword('first-light-2026', 'a-chosen-secret-2026');
    expect(changed.status).toBe(200);
    expect(codeOf(await approve(mallory))).toEqual([403, 'forbidden']);
    expect(codeOf(await decide(mallory, pendingGrant.id, true))).toEqual([403, 'forbidden']);
    expect(codeOf(await decide(admin, pendingGrant.id, true))).toEqual([403, 'self_approval']);
    const record = await admin.request('GET', `/api/admin/records/${enc(VOLUME)}`);
    expect(record.json).toMatchObject({ record: { state: 'burned' } });

    // A second administrator confirms: now mallory is one.
    const confirmed = await decide(admin2, pendingGrant.id, true);
    expect(confirmed.status).toBe(200);
    expect(confirmed.json).toMatchObject({
      state: 'confirmed',
      user: { userId: 'mallory', roles: ['admin'] },
    });
    expect((await mallory.request('GET', '/api/admin/users')).status).toBe(200);
    expect(await auditOf('role_grant_requested')).toMatchObject([
      { actor: 'admin', details: { userId: 'mallory', role: 'admin', approvers: ['admin2'] } },
    ]);
    expect(await auditOf('role_grant_confirmed')).toMatchObject([
      { actor: 'admin2', details: { userId: 'mallory', requestedBy: 'admin' } },
    ]);
  });

  it('refuses approvals from an administrator who must still change a reset password', async () => {
    const rearm = await rearmRequested();
    const reset = await admin.request('POST', '/api/admin/users/admin2/password-reset', {
      json: { reason: REASON },
    });
    const { temporaryPassword } = reset.json as PasswordResetResponse;
    const whoever = await signedIn('admin2', temporaryPassword);
    const answer = await whoever.request('POST', `/api/admin/approvals/${rearm.id}/decide`, {
      json: { approve: true, reason: REASON },
    });
    expect(codeOf(answer)).toEqual([403, 'password_change_required']);
    const record = await admin.request('GET', `/api/admin/records/${enc(VOLUME)}`);
    expect(record.json).toMatchObject({ record: { state: 'burned' } });
  });

  it('promotes an existing user only when an administrator of before the request confirms', async () => {
    const promoted = await admin.request('PUT', '/api/admin/users/operator2/roles', {
      json: { roles: ['operator', 'admin'], reason: REASON },
    });
    expect(promoted.status).toBe(200);
    const { user, pendingGrant } = promoted.json as { user: AdminUser; pendingGrant: RoleGrant };
    expect(user.roles).toEqual(['operator']);
    const operator2 = await signedIn('operator2');
    expect(codeOf(await operator2.request('GET', '/api/admin/users'))).toEqual([403, 'forbidden']);
    const listed = await admin2.request('GET', '/api/admin/role-grants');
    expect((listed.json as { grants: RoleGrant[] }).grants).toEqual([pendingGrant]);
    const again = await admin.request('PUT', '/api/admin/users/operator2/roles', {
      json: { roles: ['admin'], reason: REASON },
    });
    expect(codeOf(again)).toEqual([409, 'role_grant_pending']);

    // restorer2 becomes an administrator after the request: too late to confirm it.
    const other = (
      (
        await admin2.request('PUT', '/api/admin/users/restorer2/roles', {
          json: { roles: ['restorer', 'admin'], reason: REASON },
        })
      ).json as { pendingGrant: RoleGrant }
    ).pendingGrant;
    expect((await decide(admin, other.id, true)).status).toBe(200);
    const restorer2 = await signedIn('restorer2');
    expect(codeOf(await decide(restorer2, pendingGrant.id, true))).toEqual([
      403,
      'approver_not_eligible',
    ]);

    expect((await decide(admin2, pendingGrant.id, true)).json).toMatchObject({
      state: 'confirmed',
      user: { userId: 'operator2', roles: ['operator', 'admin'] },
    });
    expect((await operator2.request('GET', '/api/admin/users')).status).toBe(200);
    expect(codeOf(await decide(admin2, pendingGrant.id, true))).toEqual([
      404,
      'role_grant_not_found',
    ]);
  });

  it('leaves the role ungiven when a grant is refused', async () => {
    const promoted = await admin.request('PUT', '/api/admin/users/restorer/roles', {
      json: { roles: ['admin'], reason: REASON },
    });
    const { pendingGrant } = promoted.json as { pendingGrant: RoleGrant };
    const restorer = await signedIn('restorer');
    expect(codeOf(await decide(restorer, pendingGrant.id, false))).toEqual([403, 'forbidden']);
    expect((await decide(admin2, pendingGrant.id, false)).json).toMatchObject({
      state: 'refused',
      user: { userId: 'restorer', roles: [] },
    });
    expect(codeOf(await restorer.request('GET', '/api/admin/users'))).toEqual([403, 'forbidden']);
    expect((await admin.request('GET', '/api/admin/role-grants')).json).toEqual({ grants: [] });
    expect(await auditOf('role_grant_refused')).toMatchObject([
      { actor: 'admin2', details: { userId: 'restorer', reason: REASON } },
    ]);
  });

  it('says how to get a second administrator when there is none to confirm', async () => {
    await admin.request('POST', '/api/admin/users/admin2/disable', { json: { reason: REASON } });
    const promote = await admin.request('PUT', '/api/admin/users/operator/roles', {
      json: { roles: ['operator', 'admin'], reason: REASON },
    });
    expect(codeOf(promote)).toEqual([409, 'no_second_admin']);
    expect((promote.json as { message: string }).message).toContain('create-admin');
    const create = await admin.request('POST', '/api/admin/users', {
      json: {
        userId: 'carol',
        displayName: 'Carol',
        roles: ['admin', 'operator'],
        initialCredential: await admin.credential('first-light-2026'),
        reason: REASON,
      },
    });
    expect(codeOf(create)).toEqual([409, 'no_second_admin']);
    const users = (await admin.request('GET', '/api/admin/users')).json as { users: AdminUser[] };
    expect(users.users.map((u) => u.userId)).not.toContain('carol');
    expect(users.users.find((u) => u.userId === 'operator')?.roles).toEqual(['operator']);
  });
});
