import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  AuditEntry,
  EscrowRecord,
  KeyRelease,
  RestorableVolume,
} from '../../src/core/contract';
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

const VOLUME = 'iso9660:HANDOVER:2026-11-21-13-30-00-00';
const reason = 'operator left the team, ticket 77';

describe('ownership transfer (ES-2): what the former owner keeps', () => {
  let site: TestSite;
  let operator: Operator;
  let admin: Client;
  let admin2: Client;

  const signedIn = async (userId: string) => {
    const client = new Client(site.site.url);
    await client.signIn(userId);
    return client;
  };
  const transfer = (body: Record<string, unknown>) =>
    admin.request('POST', `/api/admin/records/${enc(VOLUME)}/owner`, {
      json: { newOwner: 'operator2', reason, ...body },
    });
  const transferAudit = async () =>
    (
      (await admin.request('GET', `/api/admin/audit?event=ownership_transferred`)).json as {
        entries: AuditEntry[];
      }
    ).entries;

  beforeEach(async () => {
    site = await startTestSite();
    operator = await newOperator(await signedIn('operator'));
    admin = await signedIn('admin');
    admin2 = await signedIn('admin2');
    await backUp(operator, site.site.info, VOLUME, randomImage(4000, 5), {
      restorers: ['restorer'],
    });
  });
  afterEach(() => site.stop());

  it('takes every right to the volume from the former owner by default, and audits it', async () => {
    const moved = await transfer({});
    expect(moved.status).toBe(200);
    expect((moved.json as EscrowRecord).restorers).toEqual(['operator2', 'restorer']);

    const former = operator.client;
    const release = await requestRelease(former, VOLUME, 1);
    expect(release.answer.status).toBe(403);
    expect(release.answer.json).toMatchObject({ code: 'unauthorized_use' });
    const manifest = await former.request(
      'GET',
      `/api/volumes/${enc(VOLUME)}/generations/1/manifest`,
    );
    expect(manifest.status).toBe(403);
    const restorable = (await former.request('GET', '/api/restorable')).json as {
      volumes: RestorableVolume[];
    };
    expect(restorable.volumes.map((v) => v.volumeId)).not.toContain(VOLUME);
    const claim = await former.request('POST', `/api/volumes/${enc(VOLUME)}/claim`, {
      json: { resume: false },
    });
    expect(claim.json).toMatchObject({ code: 'registered_to_another_operator' });

    // The new owner and the registered restorer still restore.
    await restore(await signedIn('operator2'), VOLUME);
    await restore(await signedIn('restorer'), VOLUME);

    const [entry] = await transferAudit();
    expect(entry).toMatchObject({
      actor: 'admin',
      volumeId: VOLUME,
      details: { from: 'operator', to: 'operator2', formerOwner: 'removed', reason },
    });
  });

  it('keeps the former owner as a restorer only when the administrator asks for it', async () => {
    const moved = await transfer({ keepFormerOwnerAsRestorer: true });
    expect(moved.status).toBe(200);
    expect((moved.json as EscrowRecord).restorers).toEqual(['operator', 'operator2', 'restorer']);
    await restore(operator.client, VOLUME);
    const [entry] = await transferAudit();
    expect(entry!.details).toMatchObject({ formerOwner: 'kept_as_restorer' });
    // As a restorer now, not the owner: no more backups of it.
    const claim = await operator.client.request('POST', `/api/volumes/${enc(VOLUME)}/claim`, {
      json: { resume: false },
    });
    expect(claim.json).toMatchObject({ code: 'registered_to_another_operator' });
  });

  it('denies a key release of the former owner that was still waiting for approval', async () => {
    // A record needing approval: the owner's own request waits for an administrator.
    await backUp(operator, site.site.info, 'ext4:approval-needed', randomImage(2000, 9), {
      policy: { approvalRequired: true },
    });
    const waiting = await requestRelease(operator.client, 'ext4:approval-needed', 1);
    expect((waiting.answer.json as KeyRelease).state).toBe('pending_approval');
    const moved = await admin.request(
      'POST',
      `/api/admin/records/${enc('ext4:approval-needed')}/owner`,
      {
        json: { newOwner: 'operator2', reason },
      },
    );
    expect(moved.status).toBe(200);
    const approvals = (await admin2.request('GET', '/api/admin/approvals')).json as {
      approvals: { id: string }[];
    };
    expect(approvals.approvals).toEqual([]);
    const late = await admin2.request(
      'POST',
      `/api/admin/approvals/release:${waiting.requestId}/decide`,
      { json: { approve: true, reason } },
    );
    expect(late.status).toBe(404);
    const fetched = await operator.client.request(
      'GET',
      `/api/volumes/${enc('ext4:approval-needed')}/key-release/${waiting.requestId}`,
    );
    expect(fetched.json).toMatchObject({ state: 'denied' });
  });

  it('refuses a keep flag that is not a boolean with 400 {code, message}', async () => {
    const answer = await transfer({ keepFormerOwnerAsRestorer: 'yes' });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'invalid_request', message: expect.any(String) });
  });
});
