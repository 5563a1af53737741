import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Approval, AuditVerification, KeyRelease } from '../../src/core/contract';
import {
  backUp,
  enc,
  newOperator,
  randomImage,
  requestRelease,
  restore,
  type Operator,
} from './support/backup-client';
import { Client, startTestSite, type TestSite } from './support/test-site';

const VOLUME = 'ext4:5e1c2b7a-9d44-4f0e-8a31-6c0d2f9b1e77';
const reason = 'ticket 7';

/**
 * Key release under load (SPEC §4, issue "Benchmark"): opened escrow
 * envelopes kept in memory, and one commit for a release, its audit entry
 * and those of concurrent releases; none of it may weaken RS-3.
 */
describe('key release: opened keys and shared commits (RS-3, AL-4)', () => {
  let site: TestSite;
  let operator: Operator;
  let admin: Client;
  let admin2: Client;

  beforeEach(async () => {
    site = await startTestSite();
    const client = new Client(site.site.url);
    await client.signIn('operator');
    operator = await newOperator(client);
    admin = new Client(site.site.url);
    await admin.signIn('admin');
    admin2 = new Client(site.site.url);
    await admin2.signIn('admin2');
  });
  afterEach(() => site.stop());

  const signedIn = async (userId: string) => {
    const c = new Client(site.site.url);
    await c.signIn(userId);
    return c;
  };
  const post = (c: Client, path: string, json: unknown) => c.request('POST', path, { json });
  const holdsKeys = () => site.site.releases.openedKeys.holds(VOLUME);

  it('refuses the next request right after a revocation, and drops the opened keys', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(5000), {
      restorers: ['restorer'],
    });
    const restorer = await signedIn('restorer');
    await restore(restorer, VOLUME);
    await restore(restorer, VOLUME);
    expect(holdsKeys()).toBe(true);

    await post(admin, `/api/admin/records/${enc(VOLUME)}/revoke`, { reason });
    expect(holdsKeys()).toBe(false);
    const refused = await requestRelease(restorer, VOLUME, 1);
    expect(refused.answer.status).toBe(403);
    expect(refused.answer.json).toMatchObject({ code: 'record_revoked' });
    expect(holdsKeys()).toBe(false);
  });

  it('drops the opened keys when the expiry or the owner changes, and when a one-time record is used up or re-armed', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(5000), {
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });
    const restorer = await signedIn('restorer');

    await restore(restorer, VOLUME);
    expect(holdsKeys()).toBe(false); // burned with its first release
    expect((await requestRelease(restorer, VOLUME, 1)).answer.status).toBe(404);

    // Fill the cache by hand, as a release in flight would, to see each change drop it.
    const fill = async () => {
      const { releases } = site.site;
      const { epoch, envelope } = (await site.site.escrow.store.envelopesOf(VOLUME))[0]!;
      releases.openedKeys.set(VOLUME, epoch, envelope, {
        volumeId: VOLUME,
        chunkIdKey: {} as CryptoKey,
        dataKeys: new Map(),
      });
      expect(holdsKeys()).toBe(true);
    };
    await fill();
    const rearm = (await post(admin, `/api/admin/records/${enc(VOLUME)}/rearm`, { reason }))
      .json as Approval;
    await post(admin2, `/api/admin/approvals/${rearm.id}/decide`, { approve: true, reason });
    expect(holdsKeys()).toBe(false);
    await fill();
    await post(admin, `/api/admin/records/${enc(VOLUME)}/expiry`, {
      expiresAt: '2020-01-01T00:00:00.000Z',
      reason,
    });
    expect(holdsKeys()).toBe(false);
    await fill();
    expect((await requestRelease(restorer, VOLUME, 1)).answer.json).toMatchObject({
      code: 'record_expired',
    });
    expect(holdsKeys()).toBe(false);
    await fill();
    await post(admin, `/api/admin/records/${enc(VOLUME)}/owner`, { newOwner: 'operator2', reason });
    expect(holdsKeys()).toBe(false);
  });

  it('releases to many restorers at once, each with its release row and audit entry, and the chain holds', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(5000), {
      restorers: ['restorer'],
    });
    const restorer = await signedIn('restorer');
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => requestRelease(restorer, VOLUME, 1)),
    );
    expect(answers.map((a) => (a.answer.json as KeyRelease).state)).toEqual(
      Array(30).fill('released'),
    );
    const released = await site.site.audit.all({ event: 'key_released' });
    expect(released.map((e) => e.details.requestId).sort()).toEqual(
      answers.map((a) => a.requestId).sort(),
    );
    for (const { requestId } of answers) {
      expect((await site.site.escrow.store.findRelease(requestId))?.state).toBe('released');
    }
    const verified = (await admin.request('POST', '/api/admin/audit/verify'))
      .json as AuditVerification;
    expect(verified.intact).toBe(true);
  });
});
