import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  Approval,
  AuditEntry,
  EscrowRecord,
  KeyRelease,
  RecordDetail,
} from '../../src/core/contract';
import type { RegistrationFile } from '../../src/core/crypto/registration';
import {
  backUp,
  enc,
  newOperator,
  offlineRegistration,
  randomImage,
  requestRelease,
  restore,
  type Operator,
} from './support/backup-client';
import { openEventStream } from './support/event-stream';
import { Client, startTestSite, type TestSite } from './support/test-site';

const VOLUME = 'vfat:BACKUPS:1A2B-3C4D';
const CHUNK_SIZE_FOR_SUMMARY = 100_000;
const reason = 'ticket 42';

describe('the restorer DB for administrators (ES-1..ES-3)', () => {
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

  it('adds a restorer, who can then restore; revoking refuses everyone; the owner hears of it', async () => {
    const image = randomImage(3000);
    await backUp(operator, site.site.info, VOLUME, image);
    const restorer2 = await signedIn('restorer2');
    expect((await requestRelease(restorer2, VOLUME, 1)).answer.status).toBe(403);

    const stream = await openEventStream(site.site.url, operator.client.cookieHeader);
    await stream.next('hello');
    const added = await post(admin, `/api/volumes/${enc(VOLUME)}/restorers`, {
      add: ['restorer2'],
      reason,
    });
    expect((added.json as EscrowRecord).restorers).toEqual(['operator', 'restorer2']);
    expect(await stream.next('record')).toMatchObject({
      volumeId: VOLUME,
      change: 'restorers_changed',
      by: 'admin',
      reason,
    });
    expect((await restore(restorer2, VOLUME)).image.length).toBe(image.length);

    const revoked = await post(admin, `/api/admin/records/${enc(VOLUME)}/revoke`, { reason });
    expect((revoked.json as EscrowRecord).state).toBe('revoked');
    expect((await stream.next('record')).type).toBe('record');
    stream.close();
    const refused = await requestRelease(restorer2, VOLUME, 1);
    expect(refused.answer.status).toBe(403);
    expect(refused.answer.json).toMatchObject({ code: 'record_revoked' });
    await expectRefusalSeen('restorer2', 'revoked');
  });

  /** Every refusal is audited, alerted, and shown to the owner with its reason. */
  const expectRefusalSeen = async (userId: string, reason: 'revoked' | 'expired') => {
    const alerts = await admin.request('GET', '/api/admin/alerts?kind=key_not_found');
    expect((alerts.json as { alerts: { userId: string; volumeId: string }[] }).alerts).toEqual(
      expect.arrayContaining([expect.objectContaining({ userId, volumeId: VOLUME })]),
    );
    const audit = await admin.request('GET', `/api/admin/audit?event=key_not_found`);
    expect((audit.json as { entries: { actor: string; volumeId: string }[] }).entries).toEqual(
      expect.arrayContaining([expect.objectContaining({ actor: userId, volumeId: VOLUME })]),
    );
    const activity = await operator.client.request('GET', `/api/volumes/${enc(VOLUME)}/activity`);
    expect((activity.json as { entries: unknown[] }).entries).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'refusal', reason })]),
    );
  };

  it('refuses bad changes: removing the owner, an empty reason, unknown users, invalid IDs', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(100));
    expect(
      (await post(admin, `/api/volumes/${enc(VOLUME)}/restorers`, { remove: ['operator'], reason }))
        .json,
    ).toMatchObject({ code: 'owner_is_restorer' });
    expect(
      (
        await post(admin, `/api/volumes/${enc(VOLUME)}/restorers`, {
          add: ['restorer'],
          reason: '',
        })
      ).status,
    ).toBe(400);
    expect(
      (await post(admin, `/api/volumes/${enc(VOLUME)}/restorers`, { add: ['nobody'], reason }))
        .json,
    ).toMatchObject({ code: 'unknown_restorer' });
    expect(
      (await post(admin, `/api/admin/records/${enc('no:such')}/revoke`, { reason })).status,
    ).toBe(404);
    expect(
      (
        await post(admin, `/api/admin/records/${enc(VOLUME)}/owner`, {
          newOwner: 'restorer',
          reason,
        })
      ).json,
    ).toMatchObject({ code: 'invalid_owner' });
    const operator2 = await signedIn('operator2');
    expect(
      (
        await post(operator2, `/api/volumes/${enc(VOLUME)}/restorers`, {
          add: ['operator2'],
          reason,
        })
      ).status,
    ).toBe(403);
  });

  it('expires a record: no key after the expiry date', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(100), { restorers: ['restorer'] });
    await post(admin, `/api/admin/records/${enc(VOLUME)}/expiry`, {
      expiresAt: '2020-01-01T00:00:00.000Z',
      reason,
    });
    const answer = await requestRelease(await signedIn('restorer'), VOLUME, 1);
    expect(answer.answer.json).toMatchObject({ code: 'record_expired' });
    await expectRefusalSeen('restorer', 'expired');
  });

  it('transfers ownership to another operator', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(100));
    const moved = await post(admin, `/api/admin/records/${enc(VOLUME)}/owner`, {
      newOwner: 'operator2',
      reason,
    });
    expect(moved.json).toMatchObject({ owner: 'operator2' });
    const owner = await (
      await signedIn('operator2')
    ).request('GET', `/api/volumes/${enc(VOLUME)}/owner`);
    expect(owner.json).toMatchObject({ owner: 'operator2', mine: true });
  });

  it('re-arms a burned record only when a second administrator approves', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(100), {
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });
    const restorer = await signedIn('restorer');
    await restore(restorer, VOLUME);
    const requested = (await post(admin, `/api/admin/records/${enc(VOLUME)}/rearm`, { reason }))
      .json as Approval;
    expect(requested.kind).toBe('rearm');
    const self = await post(admin, `/api/admin/approvals/${requested.id}/decide`, {
      approve: true,
      reason,
    });
    expect(self.status).toBe(403);
    expect(self.json).toMatchObject({ code: 'self_approval' });
    expect((await requestRelease(restorer, VOLUME, 1)).answer.status).toBe(404);
    const approvals = (
      (await admin2.request('GET', '/api/admin/approvals')).json as { approvals: Approval[] }
    ).approvals;
    expect(approvals.map((a) => a.id)).toEqual([requested.id]);
    expect(
      (await post(admin2, `/api/admin/approvals/${requested.id}/decide`, { approve: true, reason }))
        .json,
    ).toMatchObject({ state: 'approved' });
    await restore(restorer, VOLUME);
  });

  it('holds an approval-required release until another administrator decides, and a denial sticks', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(100), {
      restorers: ['restorer', 'restorer2'],
      policy: { approvalRequired: true },
    });
    const restorer = await signedIn('restorer');
    const adminStream = await openEventStream(site.site.url, admin.cookieHeader);
    await adminStream.next('hello');
    const pending = await requestRelease(restorer, VOLUME, 1);
    expect(pending.answer.status).toBe(202);
    expect((pending.answer.json as KeyRelease).state).toBe('pending_approval');
    expect(await adminStream.next('approval')).toMatchObject({
      kind: 'key_release',
      volumeId: VOLUME,
      userId: 'restorer',
    });
    adminStream.close();
    const restorerStream = await openEventStream(site.site.url, restorer.cookieHeader);
    await restorerStream.next('hello');
    await post(admin, `/api/admin/approvals/release:${pending.requestId}/decide`, {
      approve: true,
      reason,
    });
    expect(await restorerStream.next('release')).toMatchObject({
      requestId: pending.requestId,
      state: 'released',
    });
    restorerStream.close();
    const fetched = await restorer.request(
      'GET',
      `/api/volumes/${enc(VOLUME)}/key-release/${pending.requestId}`,
    );
    expect((fetched.json as KeyRelease).state).toBe('released');

    const restorer2 = await signedIn('restorer2');
    const other = await requestRelease(restorer2, VOLUME, 1);
    await post(admin2, `/api/admin/approvals/release:${other.requestId}/decide`, {
      approve: false,
      reason: 'not today',
    });
    const denied = await restorer2.request(
      'GET',
      `/api/volumes/${enc(VOLUME)}/key-release/${other.requestId}`,
    );
    expect(denied.json).toMatchObject({ state: 'denied', reason: 'not today' });
    const detail = (await admin.request('GET', `/api/admin/records/${enc(VOLUME)}`))
      .json as RecordDetail;
    expect(detail.releases.map((r) => r.state).sort()).toEqual(['denied', 'released']);
    expect(detail.generations[0]?.receipt.statement.generation).toBe(1);
  });

  it('sums up the restorer DB for the dashboard: volumes, records by state, approvals, bytes per day', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(CHUNK_SIZE_FOR_SUMMARY), {
      restorers: ['restorer'],
      policy: { kind: 'one-time', approvalRequired: true },
    });
    await requestRelease(await signedIn('restorer'), VOLUME, 1);
    await post(admin, `/api/admin/records/${enc(VOLUME)}/revoke`, { reason });
    const summary = (await admin.request('GET', '/api/admin/summary')).json as {
      volumes: number;
      recordsByState: Record<string, number>;
      pendingApprovals: number;
      bytesPerDay: { day: string; bytes: number }[];
    };
    expect(summary).toMatchObject({
      volumes: 1,
      recordsByState: { active: 0, burned: 0, revoked: 1 },
      pendingApprovals: 1,
    });
    expect(summary.bytesPerDay).toHaveLength(14);
    expect(summary.bytesPerDay.at(-1)!.bytes).toBeGreaterThan(CHUNK_SIZE_FOR_SUMMARY);
    expect(summary.bytesPerDay.slice(0, -1).every((d) => d.bytes === 0)).toBe(true);
    expect((await (await signedIn('operator2')).request('GET', '/api/admin/summary')).status).toBe(
      403,
    );
  });

  it('searches, filters, sorts and pages the restorer DB on the server', async () => {
    for (let i = 0; i < 12; i++) {
      const answer = await post(admin, '/api/admin/records', {
        volumeId: `ext4:0000-${String(i).padStart(4, '0')}`,
        owner: i % 2 ? 'operator2' : 'operator',
        restorers: i % 3 ? ['restorer'] : ['restorer2'],
        policy: { kind: i % 4 ? 'reusable' : 'one-time', approvalRequired: false, expiresAt: null },
        reason,
      });
      expect(answer.status).toBe(200);
    }
    const page = async (query: string) =>
      (await admin.request('GET', `/api/admin/records?${query}`)).json as {
        records: EscrowRecord[];
        total: number;
      };
    expect((await page('pageSize=5')).records).toHaveLength(5);
    expect((await page('pageSize=5')).total).toBe(12);
    expect((await page('owner=operator2')).total).toBe(6);
    expect((await page('restorer=restorer2')).total).toBe(4);
    expect((await page('q=restorer2')).total).toBe(4);
    expect((await page('q=0007')).records.map((r) => r.volumeId)).toEqual(['ext4:0000-0007']);
    expect((await page('policy=one-time')).total).toBe(3);
    expect(
      (await page('sort=volumeId&order=asc&page=3&pageSize=5')).records.map((r) => r.volumeId),
    ).toEqual(['ext4:0000-0010', 'ext4:0000-0011']);
    expect((await page('q=%25')).total).toBe(0); // wildcards are searched literally
    expect((await admin.request('GET', '/api/admin/records?sort=bogus')).status).toBe(400);
    // A manual registration reserves the ID: another operator cannot claim it.
    const other = await newOperator(await signedIn('operator2'), 'operator2');
    const claim = await other.client.request(
      'POST',
      `/api/volumes/${enc('ext4:0000-0000')}/claim`,
      { json: {} },
    );
    expect(claim.json).toMatchObject({ code: 'registered_to_another_operator' });
  });

  it('exports the restorer DB as CSV and JSON, filtered as the list is, and audits the export', async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await post(admin, '/api/admin/records', {
        volumeId: `ext4:0000-${String(i).padStart(4, '0')}`,
        owner: i === 2 ? 'operator2' : 'operator',
        restorers: ['restorer'],
        policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
        reason,
      });
      expect(answer.status).toBe(200);
    }
    const json = await admin.request('GET', '/api/admin/records/export?format=json&owner=operator');
    expect(json.headers['content-disposition']).toContain('custodian-restorer-db.json');
    const { records } = json.json as { records: EscrowRecord[] };
    expect(records.map((r) => r.volumeId).sort()).toEqual(['ext4:0000-0000', 'ext4:0000-0001']);
    const csv = await admin.request('GET', '/api/admin/records/export?sort=volumeId&order=asc');
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe(
      '"volume","owner","restorers","policy","state","generations","latest generation","bytes","releases","created","updated"',
    );
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(
      /^"ext4:0000-0002","operator2","operator2 restorer","reusable","active","0","0","0","0",/,
    );
    expect((await admin.request('GET', '/api/admin/records/export?format=xml')).status).toBe(400);
    const audit = (await admin.request('GET', '/api/admin/audit?event=records_exported')).json as {
      entries: AuditEntry[];
    };
    expect(audit.entries.map((e) => [e.actor, e.details])).toEqual([
      ['admin', expect.objectContaining({ format: 'csv', records: 3 })],
      ['admin', expect.objectContaining({ format: 'json', records: 2, owner: 'operator' })],
    ]);
    // Only administrators: the restorer DB names who may get every key.
    const restorer = await signedIn('restorer');
    expect((await restorer.request('GET', '/api/admin/records/export')).status).toBe(403);
  });

  it('lets the owner name a volume, seen from any browser of theirs, kept across backups, audited', async () => {
    await backUp(operator, site.site.info, 'ext4:named', randomImage(1000));
    const mine = async (client: Client) =>
      ((await client.request('GET', '/api/volumes/mine')).json as { records: EscrowRecord[] })
        .records[0]!;
    expect((await mine(operator.client)).label).toBeNull();
    const label = (client: Client, name: string) =>
      post(client, `/api/volumes/${enc('ext4:named')}/label`, { label: name });
    const named = await label(operator.client, '  Payroll archive 2026  ');
    expect(named.status).toBe(200);
    expect((named.json as EscrowRecord).label).toBe('Payroll archive 2026');
    // Another browser of the owner, and a second generation, keep the name.
    expect((await mine(await signedIn('operator'))).label).toBe('Payroll archive 2026');
    await backUp(operator, site.site.info, 'ext4:named', randomImage(1000));
    expect(await mine(operator.client)).toMatchObject({
      label: 'Payroll archive 2026',
      generations: 2,
    });
    // Only the owner names it; a name is short and printable.
    expect((await label(await signedIn('operator2'), 'mine now')).status).toBe(403);
    expect((await label(operator.client, 'x'.repeat(81))).json).toMatchObject({
      code: 'invalid_request',
    });
    expect((await label(operator.client, 'bell\u0007')).status).toBe(400);
    expect((await label(operator.client, '')).status).toBe(200);
    expect((await mine(operator.client)).label).toBeNull();
    const audit = (await admin.request('GET', '/api/admin/audit?event=volume_labelled')).json as {
      entries: AuditEntry[];
    };
    expect(audit.entries.map((e) => e.details)).toEqual([
      { label: null },
      { label: 'Payroll archive 2026' },
    ]);
  });

  it('imports an offline registration file once, and refuses corrupt, foreign and repeated files', async () => {
    const make = (siteId: string) =>
      offlineRegistration({ ...site.site.info, siteId }, operator, VOLUME);
    const file = await make(site.site.info.siteId);

    const corrupt: RegistrationFile = { ...file, restorers: ['operator', 'outsider'] };
    expect(
      (await post(admin, '/api/admin/registrations', { file: corrupt, reason })).json,
    ).toMatchObject({ code: 'invalid_registration' });
    const foreign = await make('another-site');
    expect(
      (await post(admin, '/api/admin/registrations', { file: foreign, reason })).json,
    ).toMatchObject({ code: 'invalid_registration' });
    expect(
      (await post(admin, '/api/admin/registrations', { file: { nonsense: true }, reason })).status,
    ).toBe(400);

    const imported = await post(admin, '/api/admin/registrations', { file, reason });
    expect(imported.status).toBe(200);
    expect(imported.json).toMatchObject({
      record: { volumeId: VOLUME, owner: 'operator', restorers: ['operator', 'restorer'] },
    });
    expect((await post(admin, '/api/admin/registrations', { file, reason })).json).toMatchObject({
      code: 'already_imported',
    });

    // The keys are now escrowed: the restorer obtains them; the chunk arrives later.
    const restorer = await signedIn('restorer');
    const release = await requestRelease(restorer, VOLUME, 1);
    expect((release.answer.json as KeyRelease).state).toBe('released');
  });

  it("refuses a file signed by another user's device key, and still says so when it comes again", async () => {
    const operator2 = await newOperator(await signedIn('operator2'), 'operator2');
    const file = await offlineRegistration(site.site.info, operator2, VOLUME);
    for (let attempt = 0; attempt < 2; attempt++) {
      expect((await post(admin, '/api/admin/registrations', { file, reason })).json).toMatchObject({
        code: 'invalid_registration',
        message: 'The file is signed by a device key of another user.',
      });
    }
  });
});
