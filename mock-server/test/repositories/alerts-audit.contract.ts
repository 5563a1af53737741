import { describe, expect } from 'vitest';
import type { Alert, AlertKind, AuditEntry } from '../../../src/core/contract';
import type { AlertRepository, AuditRepository, NewAlert } from '../../src/domain/ports';
import { type Contract, type Mutable } from './contract';

function newAlert(
  kind: AlertKind,
  at: string,
  change: Partial<NewAlert> = {},
): Parameters<AlertRepository['insert']>[0] {
  return {
    kind,
    userId: 'mallory',
    volumeId: null,
    clientAddress: '10.0.0.9',
    sentence: `${kind} at ${at}`,
    message: { code: 'unknown_user', params: { userId: 'mallory', clientAddress: '10.0.0.9' } },
    siteId: 'site-1',
    at,
    ...change,
  };
}

function entry(seq: number, change: Partial<AuditEntry> = {}): AuditEntry {
  return {
    seq,
    at: `2026-03-0${1 + (seq % 5)}T10:00:00.000Z`,
    event: seq % 2 ? 'sign_in' : 'volume_claimed',
    actor: seq % 3 ? 'ada' : null,
    volumeId: seq % 2 ? null : 'vol-1',
    clientAddress: '127.0.0.1',
    details: { seq },
    prevMac: `mac-${seq - 1}`,
    mac: `mac-${seq}`,
    ...change,
  };
}

/** The alert list of the console: newest first, filters, paging, acknowledgement (AL-2). */
export function alertsContract(c: Contract): void {
  describe('AlertRepository', () => {
    /** Seven alerts over three days; two share a time, so the ID decides their order. */
    async function seed(alerts: AlertRepository): Promise<Alert[]> {
      const stored: Alert[] = [];
      for (const [kind, at, change] of [
        ['bad_password', '2026-03-01T09:00:00.000Z', { userId: 'ada' }],
        ['unknown_user', '2026-03-01T23:59:59.999Z', { userId: 'ghost' }],
        ['overwrite_attempt', '2026-03-02T00:00:00.000Z', { volumeId: 'vol-1' }],
        ['overwrite_attempt', '2026-03-02T12:00:00.000Z', { volumeId: 'vol-2' }],
        ['bad_password', '2026-03-02T12:00:00.000Z', { userId: 'ada', clientAddress: null }],
        ['key_not_found', '2026-03-03T08:00:00.000Z', { volumeId: 'vol-1', userId: null }],
        ['brute_force', '2026-03-01T12:00:00.000Z', {}],
      ] as const) {
        stored.push(await alerts.insert(newAlert(kind, at, change)));
      }
      return stored;
    }

    c.test('numbers alerts from 1 and returns them as stored, unacknowledged', async () => {
      const { alerts } = c.repos();
      const first = await alerts.insert(newAlert('bad_password', '2026-03-01T09:00:00.000Z'));
      const second = await alerts.insert(
        newAlert('key_not_found', '2026-03-01T09:00:00.000Z', { userId: null, volumeId: 'v' }),
      );
      expect(first).toEqual({
        id: 1,
        kind: 'bad_password',
        userId: 'mallory',
        volumeId: null,
        siteId: 'site-1',
        clientAddress: '10.0.0.9',
        sentence: 'bad_password at 2026-03-01T09:00:00.000Z',
        message: {
          code: 'unknown_user',
          params: { userId: 'mallory', clientAddress: '10.0.0.9' },
        },
        at: '2026-03-01T09:00:00.000Z',
        acknowledgedAt: null,
        acknowledgedBy: null,
      });
      expect(second).toMatchObject({ id: 2, userId: null, volumeId: 'v' });
    });

    c.test('lists newest first, the later ID first at the same time, page by page', async () => {
      const { alerts } = c.repos();
      await seed(alerts);
      const page1 = await alerts.list({ page: 1, pageSize: 3 });
      expect(page1.alerts.map((a) => a.id)).toEqual([6, 5, 4]);
      expect(page1.total).toBe(7);
      expect(page1.unacknowledged).toBe(7);
      expect((await alerts.list({ page: 2, pageSize: 3 })).alerts.map((a) => a.id)).toEqual([
        3, 2, 7,
      ]);
      expect((await alerts.list({ page: 3, pageSize: 3 })).alerts.map((a) => a.id)).toEqual([1]);
      const beyond = await alerts.list({ page: 4, pageSize: 3 });
      expect(beyond).toEqual({ alerts: [], total: 7, unacknowledged: 7 });
      expect((await alerts.all({})).map((a) => a.id)).toEqual([6, 5, 4, 3, 2, 7, 1]);
    });

    c.test('filters by kind, user, volume and acknowledgement', async () => {
      const { alerts } = c.repos();
      await seed(alerts);
      await alerts.acknowledge([1, 4], 'ada', '2026-03-04T00:00:00.000Z');
      const ids = async (filter: Parameters<AlertRepository['all']>[0]) =>
        (await alerts.all(filter)).map((a) => a.id);
      expect(await ids({ kind: 'bad_password' })).toEqual([5, 1]);
      expect(await ids({ user: 'ada' })).toEqual([5, 1]);
      expect(await ids({ user: 'ADA' })).toEqual([]);
      expect(await ids({ volume: 'vol-1' })).toEqual([6, 3]);
      expect(await ids({ acknowledged: 'yes' })).toEqual([4, 1]);
      expect(await ids({ acknowledged: 'no' })).toEqual([6, 5, 3, 2, 7]);
      expect(await ids({ kind: 'overwrite_attempt', acknowledged: 'no' })).toEqual([3]);
      expect(await ids({ kind: 'overwrite_attempt', volume: 'vol-2' })).toEqual([4]);
      // Empty filters are no filters.
      expect(await ids({ user: '', volume: '' })).toHaveLength(7);
    });

    c.test('filters by time: a bare day covers the whole day, a date-time is exact', async () => {
      const { alerts } = c.repos();
      await seed(alerts);
      const ids = async (filter: Parameters<AlertRepository['all']>[0]) =>
        (await alerts.all(filter)).map((a) => a.id);
      expect(await ids({ from: '2026-03-02', to: '2026-03-02' })).toEqual([5, 4, 3]);
      expect(await ids({ to: '2026-03-01' })).toEqual([2, 7, 1]);
      expect(await ids({ from: '2026-03-03' })).toEqual([6]);
      expect(await ids({ from: '2026-03-02T12:00:00.000Z' })).toEqual([6, 5, 4]);
      expect(await ids({ to: '2026-03-02T12:00:00Z' })).toEqual([5, 4, 3, 2, 7, 1]);
      // An offset is converted to UTC before comparing.
      expect(
        await ids({ from: '2026-03-02T13:00:00+01:00', to: '2026-03-02T13:00:00+01:00' }),
      ).toEqual([5, 4]);
    });

    c.test('counts the total of the filter and the unacknowledged of all alerts', async () => {
      const { alerts } = c.repos();
      await seed(alerts);
      await alerts.acknowledge([2, 3], 'ada', '2026-03-04T00:00:00.000Z');
      const page = await alerts.list({ kind: 'bad_password', page: 1, pageSize: 1 });
      expect(page.alerts.map((a) => a.id)).toEqual([5]);
      expect(page.total).toBe(2);
      expect(page.unacknowledged).toBe(5);
    });

    c.test(
      'acknowledges only unacknowledged alerts, each once, and keeps who did first',
      async () => {
        const { alerts } = c.repos();
        await seed(alerts);
        expect(await alerts.acknowledge([1, 2, 2, 99], 'ada', '2026-03-04T00:00:00.000Z')).toBe(2);
        expect(await alerts.acknowledge([2, 3], 'bob', '2026-03-05T00:00:00.000Z')).toBe(1);
        expect(await alerts.acknowledge([], 'bob', '2026-03-05T00:00:00.000Z')).toBe(0);
        const byId = new Map((await alerts.all({})).map((a) => [a.id, a]));
        expect(byId.get(2)).toMatchObject({
          acknowledgedBy: 'ada',
          acknowledgedAt: '2026-03-04T00:00:00.000Z',
        });
        expect(byId.get(3)).toMatchObject({ acknowledgedBy: 'bob' });
        expect(byId.get(4)).toMatchObject({ acknowledgedBy: null, acknowledgedAt: null });
      },
    );

    c.test('refuses a filter date that is not a date', async () => {
      const { alerts } = c.repos();
      await seed(alerts);
      await expect(alerts.all({ from: 'yesterday' })).rejects.toThrow();
      await expect(alerts.list({ to: 'soon', page: 1, pageSize: 5 })).rejects.toThrow();
    });

    c.test('keeps its own copies of alerts', async () => {
      const { alerts } = c.repos();
      const inserted = await alerts.insert(newAlert('bad_password', '2026-03-01T09:00:00.000Z'));
      (inserted as Mutable<Alert>).sentence = 'changed';
      ((await alerts.all({}))[0] as Mutable<Alert>).userId = 'changed';
      expect((await alerts.list({ page: 1, pageSize: 5 })).alerts[0]).toMatchObject({
        sentence: 'bad_password at 2026-03-01T09:00:00.000Z',
        userId: 'mallory',
      });
    });
  });
}

/** The append-only, chained audit log's storage (AL-4). */
export function auditContract(c: Contract): void {
  describe('AuditRepository', () => {
    async function seed(audit: AuditRepository, count: number): Promise<void> {
      for (let seq = 1; seq <= count; seq++) await audit.append(entry(seq));
    }

    c.test('has no head when empty; the head is the highest seq', async () => {
      const { audit } = c.repos();
      expect(await audit.head()).toBeUndefined();
      await audit.append(entry(1));
      await audit.append(entry(3));
      await audit.append(entry(2));
      expect(await audit.head()).toEqual(entry(3));
    });

    c.test('refuses a seq that is taken and keeps the first entry', async () => {
      const { audit } = c.repos();
      await audit.append(entry(1));
      await audit.append(entry(2));
      await expect(audit.append(entry(1, { event: 'forged' }))).rejects.toThrow();
      expect((await audit.all({})).map((e) => e.event)).toEqual(['sign_in', 'volume_claimed']);
    });

    c.test('of two writers racing for the next seq, exactly one wins', async () => {
      const { audit } = c.repos();
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => audit.append(entry(1, { mac: `mac-${i}` }))),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(await audit.head()).toEqual(entry(1, { mac: 'mac-0' }));
    });

    c.test('gives back details as JSON would: a fresh copy without undefined values', async () => {
      const { audit } = c.repos();
      const details: Record<string, unknown> = {
        reason: 'locked_out',
        nested: { list: [1, 'two', null], flag: true },
        dropped: undefined,
      };
      await audit.append(entry(1, { details }));
      (details.nested as { flag: boolean }).flag = false;
      const head = (await audit.head())!;
      expect(head.details).toEqual({
        reason: 'locked_out',
        nested: { list: [1, 'two', null], flag: true },
      });
      expect('dropped' in head.details).toBe(false);
      (head.details.nested as { flag: boolean }).flag = false;
      expect((await audit.all({}))[0]!.details).toEqual({
        reason: 'locked_out',
        nested: { list: [1, 'two', null], flag: true },
      });
    });

    c.test('lists newest seq first, page by page, with the total of the filter', async () => {
      const { audit } = c.repos();
      await seed(audit, 12);
      const page1 = await audit.list({ page: 1, pageSize: 5 });
      expect(page1.entries.map((e) => e.seq)).toEqual([12, 11, 10, 9, 8]);
      expect(page1.total).toBe(12);
      expect((await audit.list({ page: 3, pageSize: 5 })).entries.map((e) => e.seq)).toEqual([
        2, 1,
      ]);
      expect(await audit.list({ page: 4, pageSize: 5 })).toEqual({ entries: [], total: 12 });
      const signIns = await audit.list({ event: 'sign_in', page: 2, pageSize: 2 });
      expect(signIns.entries.map((e) => e.seq)).toEqual([7, 5]);
      expect(signIns.total).toBe(6);
    });

    c.test(
      'exports every matching entry oldest first, by event, actor, volume and time',
      async () => {
        const { audit } = c.repos();
        await seed(audit, 12);
        const seqs = async (filter: Parameters<AuditRepository['all']>[0]) =>
          (await audit.all(filter)).map((e) => e.seq);
        expect(await seqs({})).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        expect(await seqs({ event: 'volume_claimed' })).toEqual([2, 4, 6, 8, 10, 12]);
        expect(await seqs({ user: 'ada' })).toEqual([1, 2, 4, 5, 7, 8, 10, 11]);
        expect(await seqs({ volume: 'vol-1', user: 'ada' })).toEqual([2, 4, 8, 10]);
        // seq % 5 + 1 is the day of March.
        expect(await seqs({ from: '2026-03-04', to: '2026-03-05' })).toEqual([3, 4, 8, 9]);
        expect(await seqs({ from: '2026-03-05T10:00:00.000Z' })).toEqual([4, 9]);
        expect(await seqs({ to: '2026-03-01T09:59:59.999Z' })).toEqual([]);
        expect(await seqs({ event: '', user: '' })).toHaveLength(12);
        await expect(audit.all({ to: 'not a date' })).rejects.toThrow();
      },
    );

    c.test('scans the whole log in seq order, in batches of the size asked', async () => {
      const { audit } = c.repos();
      const empty: (readonly AuditEntry[])[] = [];
      for await (const batch of audit.scan(4)) empty.push(batch);
      expect(empty).toEqual([]);
      for (const seq of [3, 1, 2, 5, 4, 7, 6, 9, 8, 10]) await audit.append(entry(seq));
      const batches: number[][] = [];
      for await (const batch of audit.scan(4)) batches.push(batch.map((e) => e.seq));
      expect(batches).toEqual([
        [1, 2, 3, 4],
        [5, 6, 7, 8],
        [9, 10],
      ]);
      const whole: number[][] = [];
      for await (const batch of audit.scan(10)) whole.push(batch.map((e) => e.seq));
      expect(whole).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]);
    });

    c.test('a scan sees entries appended while it runs', async () => {
      const { audit } = c.repos();
      await seed(audit, 3);
      const seen: number[] = [];
      for await (const batch of audit.scan(2)) {
        seen.push(...batch.map((e) => e.seq));
        if (seen.length === 2) await audit.append(entry(4));
      }
      expect(seen).toEqual([1, 2, 3, 4]);
    });
  });
}
