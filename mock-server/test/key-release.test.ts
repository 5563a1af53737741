import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, Approval, AuditVerification, KeyRelease } from '../../src/core/contract';
import { generateEnvelopeKeyPair } from '../../src/core/crypto/envelope-key';
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
      const { epoch, envelope } = (await site.site.escrow.store.envelopes.of(VOLUME))[0]!;
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
      expect((await site.site.escrow.store.releases.find(requestId))?.state).toBe('released');
    }
    const verified = (await admin.request('POST', '/api/admin/audit/verify'))
      .json as AuditVerification;
    expect(verified.intact).toBe(true);
  });

  const fetchRelease = (c: Client, requestId: string) =>
    c.request('GET', `/api/volumes/${enc(VOLUME)}/key-release/${requestId}`);
  const removeRestorer = (userId: string) =>
    post(operator.client, `/api/volumes/${enc(VOLUME)}/restorers`, {
      add: [],
      remove: [userId],
      reason,
    });
  const alertsOf = async (kind: string) =>
    ((await admin.request('GET', `/api/admin/alerts?kind=${kind}`)).json as { alerts: Alert[] })
      .alerts;

  it('refuses at approval a pending request of someone the owner removed meanwhile: audited, alerted, no envelope', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(3000), {
      restorers: ['restorer'],
      policy: { approvalRequired: true },
    });
    const restorer = await signedIn('restorer');
    const pending = await requestRelease(restorer, VOLUME, 1);
    expect(pending.answer.status).toBe(202);
    expect((await removeRestorer('restorer')).status).toBe(200);

    const approved = await post(
      admin2,
      `/api/admin/approvals/release:${pending.requestId}/decide`,
      {
        approve: true,
        reason,
      },
    );
    expect(approved.status).toBe(409);
    expect(approved.json).toMatchObject({ code: 'requester_not_registered' });
    const fetched = await fetchRelease(restorer, pending.requestId);
    expect(fetched.json).not.toHaveProperty('envelope');
    expect(fetched.json).toMatchObject({ state: 'denied' });
    expect((await site.site.escrow.store.releases.find(pending.requestId))?.envelope).toBeNull();
    const denied = await site.site.audit.all({ event: 'key_release_denied' });
    expect(denied.map((e) => e.details)).toEqual([
      expect.objectContaining({ requestId: pending.requestId, requester: 'restorer' }),
    ]);
    expect(await site.site.audit.all({ event: 'key_released' })).toEqual([]);
    expect(await alertsOf('unauthorized_restorer')).toEqual([
      expect.objectContaining({ userId: 'restorer', volumeId: VOLUME }),
    ]);
  });

  it('gives a released answer again only while its restorer is still registered', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(3000), {
      restorers: ['restorer'],
      policy: { approvalRequired: true },
    });
    const restorer = await signedIn('restorer');
    const pending = await requestRelease(restorer, VOLUME, 1);
    const approved = await post(
      admin2,
      `/api/admin/approvals/release:${pending.requestId}/decide`,
      {
        approve: true,
        reason,
      },
    );
    expect(approved.status).toBe(200);
    expect(((await fetchRelease(restorer, pending.requestId)).json as KeyRelease).state).toBe(
      'released',
    );
    expect((await removeRestorer('restorer')).status).toBe(200);

    const fetched = await fetchRelease(restorer, pending.requestId);
    expect(fetched.status).toBe(403);
    expect(fetched.json).toMatchObject({ code: 'unauthorized_use' });
    expect(fetched.json).not.toHaveProperty('envelope');
    const again = await requestRelease(restorer, VOLUME, 1, pending.requestId, pending.pair);
    expect(again.answer.status).toBe(403);
    expect(again.answer.json).not.toHaveProperty('envelope');
    expect(await alertsOf('unauthorized_restorer')).toEqual(
      expect.arrayContaining([expect.objectContaining({ userId: 'restorer', volumeId: VOLUME })]),
    );
  });

  it('refuses a malformed ephemeral key with 400 before anything is stored', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(3000), {
      restorers: ['restorer'],
      policy: { approvalRequired: true },
    });
    const restorer = await signedIn('restorer');
    const b64 = (bytes: Buffer) => bytes.toString('base64url');
    const p = Buffer.from(
      'ffffffff00000001000000000000000000000000ffffffffffffffffffffffff',
      'hex',
    );
    const keys = {
      offCurve: { x: b64(Buffer.alloc(32, 1)), y: b64(Buffer.alloc(32, 2)) },
      zero: { x: b64(Buffer.alloc(32, 0)), y: b64(Buffer.alloc(32, 0)) },
      beyondField: { x: b64(p), y: b64(p) },
    };
    for (const [name, { x, y }] of Object.entries(keys)) {
      const answer = await restorer.request('POST', `/api/volumes/${enc(VOLUME)}/key-release`, {
        json: {
          requestId: crypto.randomUUID(),
          generation: 1,
          ephemeralPublicKey: { kty: 'EC', crv: 'P-256', x, y },
        },
      });
      expect({ name, status: answer.status, json: answer.json }).toMatchObject({
        name,
        status: 400,
        json: { code: 'invalid_ephemeral_key', message: expect.any(String) },
      });
    }
    expect(await site.site.releases.pendingApprovals()).toEqual([]);
    expect(await site.site.audit.all({ event: 'key_release_requested' })).toEqual([]);
  });

  it('answers 20 simultaneous requests with one request ID with the one stored release', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(3000), {
      restorers: ['restorer'],
    });
    const restorer = await signedIn('restorer');
    const requestId = crypto.randomUUID();
    const pair = await generateEnvelopeKeyPair();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => requestRelease(restorer, VOLUME, 1, requestId, pair)),
    );
    expect(answers.map((a) => a.answer.status)).toEqual(Array(20).fill(200));
    const stored = await site.site.escrow.store.releases.find(requestId);
    expect(new Set(answers.map((a) => (a.answer.json as { envelope: string }).envelope))).toEqual(
      new Set([stored!.envelope]),
    );
    expect(await site.site.audit.all({ event: 'key_released' })).toHaveLength(1);
    expect(await site.site.escrow.store.releases.count(VOLUME)).toBe(1);
  });

  it('stores one pending approval for 20 simultaneous requests with one request ID', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(3000), {
      restorers: ['restorer'],
      policy: { approvalRequired: true },
    });
    const restorer = await signedIn('restorer');
    const requestId = crypto.randomUUID();
    const pair = await generateEnvelopeKeyPair();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => requestRelease(restorer, VOLUME, 1, requestId, pair)),
    );
    expect(answers.map((a) => a.answer.status)).toEqual(Array(20).fill(202));
    expect(await site.site.audit.all({ event: 'key_release_requested' })).toHaveLength(1);
    expect(await site.site.releases.pendingApprovals()).toHaveLength(1);
  });
});
