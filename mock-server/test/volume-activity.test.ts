import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  Alert,
  AlertMessageCode,
  AuditEntry,
  VolumeActivity,
  VolumeActivityPage,
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
import { refusalReasonOf } from '../src/domain/escrow/activity';
import { EXPIRED_WHY, REVOKED_WHY } from '../src/domain/escrow/release';

const VOLUME = 'ext4:5e1d3c2b-0a9f-4e8d-b7c6-a5f4e3d2c1b0';

/** Owners see the restores and refusals of their volumes (SPEC §1, AL-3). */
describe('restores and refusals of an owner’s volume', () => {
  let site: TestSite;
  let operator: Operator;
  let admin: Client;

  beforeEach(async () => {
    site = await startTestSite();
    operator = await newOperator(await signedIn('operator'));
    admin = await signedIn('admin');
  });
  afterEach(() => site.stop());

  async function signedIn(userId: string): Promise<Client> {
    const client = new Client(site.site.url);
    await client.signIn(userId);
    return client;
  }

  async function activity(client: Client, query = ''): Promise<VolumeActivityPage> {
    const answer = await client.request('GET', `/api/volumes/${enc(VOLUME)}/activity${query}`);
    expect(answer.status, answer.text).toBe(200);
    return answer.json as VolumeActivityPage;
  }

  it('lists a registered restorer’s restore and an outsider’s refusal with its reason, newest first', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(3000), { restorers: ['restorer'] });
    expect((await activity(operator.client)).entries).toEqual([]);

    await restore(await signedIn('restorer'), VOLUME);
    const outsider = await signedIn('outsider');
    expect((await requestRelease(outsider, VOLUME, 1)).answer.status).toBe(403);

    const page = await activity(operator.client);
    expect(page.volumeId).toBe(VOLUME);
    expect(page.nextCursor).toBeNull();
    expect(page.entries).toMatchObject([
      {
        type: 'refusal',
        userId: 'outsider',
        displayName: 'Oscar Outsider',
        reason: 'unauthorized_use',
      },
      {
        type: 'release',
        userId: 'restorer',
        displayName: 'Rita Restorer',
        generation: 1,
        outcome: 'released',
        decidedBy: null,
      },
    ] satisfies Partial<VolumeActivity>[]);
    const [refusal, release] = page.entries;
    expect(refusal!.at >= release!.at).toBe(true);
  });

  it('names a burned one-time record as the reason, and shows approved and denied releases', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(2000), {
      restorers: ['restorer', 'restorer2'],
      policy: { kind: 'one-time', approvalRequired: true },
    });
    const restorer = await signedIn('restorer');
    const restorer2 = await signedIn('restorer2');
    expect((await requestRelease(restorer2, VOLUME, 1)).answer.status).toBe(202);
    await decideFirstPending(false, 'not today');
    expect((await requestRelease(restorer, VOLUME, 1)).answer.status).toBe(202);
    await decideFirstPending(true, 'checked by phone');
    // The record is burned now: a later request is refused with "no key".
    expect((await requestRelease(restorer2, VOLUME, 1)).answer.status).toBe(404);

    const entries = (await activity(operator.client)).entries;
    expect(entries).toMatchObject([
      { type: 'refusal', userId: 'restorer2', reason: 'burned' },
      { type: 'release', userId: 'restorer', outcome: 'approved', decidedBy: 'admin' },
      {
        type: 'release',
        userId: 'restorer2',
        outcome: 'denied',
        decidedBy: 'admin',
        note: 'not today',
      },
    ]);
  });

  async function decideFirstPending(approve: boolean, reason: string): Promise<void> {
    const approvals = (await admin.request('GET', '/api/admin/approvals')).json as {
      approvals: { id: string }[];
    };
    const id = approvals.approvals[0]!.id;
    const answer = await admin.request('POST', `/api/admin/approvals/${enc(id)}/decide`, {
      json: { approve, reason },
    });
    expect(answer.status, answer.text).toBe(200);
  }

  it('pages newest first with a cursor, without losing or repeating an entry', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(1000), { restorers: ['restorer'] });
    const restorer = await signedIn('restorer');
    const outsider = await signedIn('outsider');
    for (let i = 0; i < 4; i++) {
      expect((await requestRelease(restorer, VOLUME, 1)).answer.status).toBe(200);
      expect((await requestRelease(outsider, VOLUME, 1)).answer.status).toBe(403);
    }
    const everything = (await activity(operator.client, '?limit=100')).entries;
    expect(everything).toHaveLength(8);
    const seen: VolumeActivity[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=3${cursor ? `&before=${enc(cursor)}` : ''}`;
      const page = await activity(operator.client, query);
      expect(page.entries.length).toBeLessThanOrEqual(3);
      seen.push(...page.entries);
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(everything);
    for (let i = 1; i < seen.length; i++) expect(seen[i - 1]!.at >= seen[i]!.at).toBe(true);
  });

  it('refuses another operator as any non-owner action on the volume, audited and alerted', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(1000), { restorers: ['restorer'] });
    const other = await signedIn('operator2');
    const refused = await other.request('GET', `/api/volumes/${enc(VOLUME)}/activity`);
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({
      code: 'registered_to_another_operator',
      message: expect.stringContaining('registered to another operator'),
    });

    const audit = (
      (await admin.request('GET', '/api/admin/audit?user=operator2')).json as {
        entries: AuditEntry[];
      }
    ).entries;
    expect(audit).toContainEqual(
      expect.objectContaining({
        event: 'overwrite_refused',
        actor: 'operator2',
        volumeId: VOLUME,
        details: expect.objectContaining({ action: 'see the restores and refusals of' }),
      }),
    );
    const alerts = (
      (await admin.request('GET', '/api/admin/alerts?kind=overwrite_attempt')).json as {
        alerts: Alert[];
      }
    ).alerts;
    expect(alerts).toContainEqual(
      expect.objectContaining({ userId: 'operator2', volumeId: VOLUME }),
    );
    // The owner sees that refusal too.
    expect((await activity(operator.client)).entries).toMatchObject([
      { type: 'refusal', userId: 'operator2', displayName: 'Otto Operator', reason: 'not_owner' },
    ]);
  });

  it('audits and alerts every other change another operator tries on the volume', async () => {
    const { claim } = await backUp(operator, site.site.info, VOLUME, randomImage(1000), {
      restorers: ['restorer'],
    });
    const other = await signedIn('operator2');
    const v = enc(VOLUME);
    const tries = [
      ['name', 'POST', `/api/volumes/${v}/label`, { label: 'Payroll' }],
      [
        'change the restorers of',
        'POST',
        `/api/volumes/${v}/restorers`,
        { add: ['operator2'], reason: 'mine now' },
      ],
      ['scrub', 'POST', `/api/volumes/${v}/scrub`, {}],
      [
        'act on the pair of',
        'POST',
        `/api/pairs/${claim.pairId}/heartbeat`,
        {
          state: 'PAIR',
          seqSent: 3,
          pending: 0,
          pendingBytes: 0,
          oldestPendingAt: null,
          epoch: 0,
          nextRotationAt: null,
        },
      ],
    ] as const;
    for (const [, method, path, json] of tries) {
      const refused = await other.request(method, path, { json });
      expect(refused.status, path).toBe(403);
      expect(refused.json, path).toMatchObject({ code: 'forbidden' });
    }

    const audit = (
      (await admin.request('GET', '/api/admin/audit?user=operator2&event=overwrite_refused'))
        .json as {
        entries: AuditEntry[];
      }
    ).entries;
    expect(audit.map((e) => e.details.action).sort()).toEqual(
      tries.map(([action]) => action).sort(),
    );
    for (const entry of audit) {
      expect(entry).toMatchObject({
        actor: 'operator2',
        volumeId: VOLUME,
        details: { owner: 'operator' },
      });
    }
    const alerts = (
      (await admin.request('GET', '/api/admin/alerts?kind=overwrite_attempt')).json as {
        alerts: Alert[];
      }
    ).alerts;
    expect(alerts.map((a) => a.message?.params.action).sort()).toEqual([
      'name',
      'pair',
      'restorers',
      'scrub',
    ]);
    // Nothing was changed.
    const mine = (await operator.client.request('GET', '/api/volumes/mine')).json as {
      records: { volumeId: string; label: string | null; restorers: string[] }[];
    };
    expect(mine.records.find((r) => r.volumeId === VOLUME)).toMatchObject({
      label: null,
      restorers: ['operator', 'restorer'],
    });
  });

  it('lets neither restorers nor administrators in, and says what is wrong with a bad query', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(1000), { restorers: ['restorer'] });
    const path = `/api/volumes/${enc(VOLUME)}/activity`;
    expect((await (await signedIn('restorer')).request('GET', path)).status).toBe(403);
    expect((await admin.request('GET', path)).status).toBe(403);
    expect((await new Client(site.site.url).request('GET', path)).status).toBe(401);

    const badLimit = await operator.client.request('GET', `${path}?limit=0`);
    expect(badLimit.status).toBe(400);
    expect(badLimit.json).toMatchObject({ code: 'invalid_request' });
    for (const cursor of [
      'yesterday',
      '2026-01-01T00:00:00.000Z~a~abc',
      '2026-01-01T00:00:00Z~x~1',
    ]) {
      const badCursor = await operator.client.request('GET', `${path}?before=${enc(cursor)}`);
      expect(badCursor.status, cursor).toBe(400);
    }
    const unknown = await operator.client.request(
      'GET',
      `/api/volumes/${enc('ext4:00000000-0000-4000-8000-00000000dead')}/activity`,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ code: 'volume_not_found' });
  });
});

/** The reason an owner is shown comes from the alert's message code, whatever its sentence says. */
describe('the reason of a refusal', () => {
  const alert = (
    code: AlertMessageCode | null,
    sentence: string,
  ): Pick<Alert, 'kind' | 'message' | 'sentence'> => ({
    kind: 'key_not_found',
    message: code === null ? null : { code, params: { userId: 'restorer', volumeId: VOLUME } },
    sentence,
  });

  it('is read from the message code, not from the English sentence', () => {
    expect(refusalReasonOf(alert('key_expired', 'wording of another version'))).toBe('expired');
    expect(refusalReasonOf(alert('key_revoked', ''))).toBe('revoked');
    expect(refusalReasonOf(alert('key_used_up', ''))).toBe('burned');
    expect(refusalReasonOf(alert('key_had_once', ''))).toBe('used_once');
    expect(refusalReasonOf(alert('key_no_record', `but ${EXPIRED_WHY}`))).toBe('no_key');
  });

  it('is read from the words of an alert stored before messages had codes', () => {
    expect(refusalReasonOf(alert(null, `restorer asked …, but ${EXPIRED_WHY}.`))).toBe('expired');
    expect(refusalReasonOf(alert(null, `restorer asked …, but ${REVOKED_WHY}.`))).toBe('revoked');
    expect(refusalReasonOf(alert(null, 'restorer asked …, but no record exists'))).toBe('no_key');
  });
});
