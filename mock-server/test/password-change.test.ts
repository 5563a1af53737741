import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PasswordResetResponse } from '../../src/core/contract';
import { backUp, newOperator, randomImage, requestRelease } from './support/backup-client';
import { openEventStream } from './support/event-stream';
import { Client, startTestSite, type HttpAnswer, type TestSite } from './support/test-site';

const VOLUME = 'iso9660:RESET:2026-11-21-13-30-00-00';
const REASON = 'ticket 7: forgotten password';

function codeOf(answer: HttpAnswer): [number, string | undefined] {
  return [answer.status, (answer.json as { code?: string } | undefined)?.code];
}

describe('a password that must be changed (ID-1)', () => {
  let site: TestSite;

  beforeEach(async () => {
    site = await startTestSite();
  });
  afterEach(() => site.stop());

  async function resetPassword(userId: string): Promise<string> {
    const admin = new Client(site.site.url);
    await admin.signIn('admin');
    const answer = await admin.request('POST', `/api/admin/users/${userId}/password-reset`, {
      json: { reason: REASON },
    });
    expect(answer.status).toBe(200);
    return (answer.json as PasswordResetResponse).temporaryPassword;
  }

  it('opens nothing but the session, the password change and sign-out to a temporary password', async () => {
    const ownerClient = new Client(site.site.url);
    await ownerClient.signIn('operator');
    const owner = await newOperator(ownerClient);
    await backUp(owner, site.site.info, VOLUME, randomImage(2000), {
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });
    const temporary = await resetPassword('restorer');

    // Whoever saw the temporary password signs in with it…
    const restorer = new Client(site.site.url);
    expect((await restorer.signIn('restorer', temporary)).status).toBe(200);
    // …and gets no key, nor anything else, until the password is changed.
    const { answer: release } = await requestRelease(restorer, VOLUME, 1);
    expect(codeOf(release)).toEqual([403, 'password_change_required']);
    expect((release.json as { message: string }).message).toMatch(/change your password/i);
    expect(codeOf(await restorer.request('GET', '/api/restorable'))).toEqual([
      403,
      'password_change_required',
    ]);
    expect(codeOf(await restorer.request('GET', '/api/users'))).toEqual([
      403,
      'password_change_required',
    ]);
    const stream = await openEventStream(site.site.url, restorer.cookieHeader);
    stream.close();
    expect(stream.status).toBe(403);
    const refused = await site.site.database.db
      .selectFrom('releases')
      .select('request_id')
      .execute();
    expect(refused).toEqual([]);

    expect((await restorer.request('GET', '/api/auth/session')).json).toMatchObject({
      userId: 'restorer',
      mustChangePassword: true,
    });
    const changed = await restorer.changePassword(temporary, 'my-own-secret-2026');
    expect(changed.status).toBe(200);
    const { answer: released } = await requestRelease(restorer, VOLUME, 1);
    expect(released.status).toBe(200);
    expect((await restorer.request('POST', '/api/auth/logout')).status).toBe(200);
  });

  it('lets a user with a temporary password sign out', async () => {
    const temporary = await resetPassword('operator');
    const operator = new Client(site.site.url);
    await operator.signIn('operator', temporary);
    expect((await operator.request('POST', '/api/auth/logout')).status).toBe(200);
    expect(codeOf(await operator.request('GET', '/api/auth/session'))).toEqual([
      401,
      'not_signed_in',
    ]);
  });

  it('refuses the same password again, which it tells as the same credential; the rule itself is the console’s (MS-2)', async () => {
    const c = new Client(site.site.url);
    await c.signIn('restorer2');
    const same = await c.changePassword('custodian-restorer2', 'custodian-restorer2');
    expect(codeOf(same)).toEqual([400, 'weak_password']);
    expect((await new Client(site.site.url).signIn('restorer2')).status).toBe(200);
    const fair = await c.changePassword('custodian-restorer2', 'a-fair-new-secret');
    expect(fair.status).toBe(200);
  });
});
