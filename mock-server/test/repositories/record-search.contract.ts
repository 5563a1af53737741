import { beforeAll, describe, expect } from 'vitest';
import type { EscrowStore, RecordRow, RecordSearch } from '../../src/domain/escrow/ports';
import { RECORD_COUNT_CAP } from '../../src/persistence/escrow/records';
import { at, type Contract } from './contract';
import { recordRow } from './fixtures';

type Policy = RecordRow['policy']['kind'];

function record(
  volumeId: string,
  owner: string,
  restorers: string[],
  kind: Policy,
  state: RecordRow['state'],
  minute: number,
): RecordRow {
  return recordRow(volumeId, {
    owner,
    restorers,
    policy: { kind, approvalRequired: false, expiresAt: null },
    state,
    updatedAt: at(minute),
  });
}

/** Seven records whose IDs and owners try the edges: case, non-ASCII, wildcards, ties. */
const RECORDS = [
  record('iso-alpha', 'olive', ['olive', 'rita'], 'reusable', 'active', 5),
  record('ISO-beta', 'otto', ['otto'], 'one-time', 'burned', 5),
  record('ext4_home', 'olive', ['anna', 'olive'], 'once-per-restorer', 'active', 1),
  record('fat%32', 'Olga', ['Olga', 'ann'], 'reusable', 'revoked', 9),
  record('gpt\\disk', 'otto', ['otto', 'rita', 'rolf'], 'one-time', 'active', 3),
  record('émile', 'olive', ['olive'], 'reusable', 'active', 7),
  record('raw-Émile', 'otto', ['otto'], 'reusable', 'active', 7),
];

async function ids(store: EscrowStore, search: Partial<RecordSearch>): Promise<string[]> {
  const { records } = await store.records.search({
    sort: 'volumeId',
    order: 'asc',
    page: 1,
    pageSize: 100,
    ...search,
  });
  return records.map((r) => r.volumeId);
}

/** The restorer DB as administrators search it (ES-1): filters, free text, order, paging, capped count. */
export function recordSearchContract(c: Contract): void {
  describe('EscrowStore: record search', () => {
    const seeded = async (): Promise<EscrowStore> => {
      const { escrow } = c.repos();
      for (const r of RECORDS) await escrow.records.upsert(r);
      return escrow;
    };

    c.test('sorts by each column both ways, ties always by volume ID ascending', async () => {
      const escrow = await seeded();
      const order = (sort: RecordSearch['sort'], direction: RecordSearch['order']) =>
        ids(escrow, { sort, order: direction });
      expect(await order('updatedAt', 'desc')).toEqual([
        'fat%32',
        'raw-Émile',
        'émile',
        'ISO-beta',
        'iso-alpha',
        'gpt\\disk',
        'ext4_home',
      ]);
      expect(await order('updatedAt', 'asc')).toEqual([
        'ext4_home',
        'gpt\\disk',
        'ISO-beta',
        'iso-alpha',
        'raw-Émile',
        'émile',
        'fat%32',
      ]);
      const byId = [
        'ISO-beta',
        'ext4_home',
        'fat%32',
        'gpt\\disk',
        'iso-alpha',
        'raw-Émile',
        'émile',
      ];
      expect(await order('volumeId', 'asc')).toEqual(byId);
      expect(await order('volumeId', 'desc')).toEqual([...byId].reverse());
      expect(await order('owner', 'asc')).toEqual([
        'fat%32',
        'ext4_home',
        'iso-alpha',
        'émile',
        'ISO-beta',
        'gpt\\disk',
        'raw-Émile',
      ]);
      expect(await order('owner', 'desc')).toEqual([
        'ISO-beta',
        'gpt\\disk',
        'raw-Émile',
        'ext4_home',
        'iso-alpha',
        'émile',
        'fat%32',
      ]);
      expect(await order('state', 'asc')).toEqual([
        'ext4_home',
        'gpt\\disk',
        'iso-alpha',
        'raw-Émile',
        'émile',
        'ISO-beta',
        'fat%32',
      ]);
      expect(await order('policy', 'desc')).toEqual([
        'fat%32',
        'iso-alpha',
        'raw-Émile',
        'émile',
        'ISO-beta',
        'gpt\\disk',
        'ext4_home',
      ]);
    });

    c.test('filters by state, policy, owner and restorer, together or alone', async () => {
      const escrow = await seeded();
      expect(await ids(escrow, { state: 'active' })).toEqual([
        'ext4_home',
        'gpt\\disk',
        'iso-alpha',
        'raw-Émile',
        'émile',
      ]);
      expect(await ids(escrow, { policy: 'one-time' })).toEqual(['ISO-beta', 'gpt\\disk']);
      expect(await ids(escrow, { owner: 'olive' })).toEqual(['ext4_home', 'iso-alpha', 'émile']);
      expect(await ids(escrow, { owner: 'Olive' })).toEqual([]);
      expect(await ids(escrow, { restorer: 'rita' })).toEqual(['gpt\\disk', 'iso-alpha']);
      // A restorer is a whole user ID: "ann" is not "anna".
      expect(await ids(escrow, { restorer: 'ann' })).toEqual(['fat%32']);
      expect(await ids(escrow, { restorer: 'otto', policy: 'one-time', state: 'active' })).toEqual([
        'gpt\\disk',
      ]);
      expect(await ids(escrow, { owner: 'otto', restorer: 'olive' })).toEqual([]);
      expect(await ids(escrow, { owner: '', restorer: '', q: '' })).toHaveLength(7);
    });

    c.test(
      'records.search: the restorer filter matches the exact user ID, not another case of it',
      async () => {
        // User IDs are case-sensitive (users.user_id), and the owner filter is exact.
        const escrow = await seeded();
        expect(await ids(escrow, { restorer: 'RITA' })).toEqual([]);
      },
    );

    c.test(
      'finds free text in volume ID, owner or restorer, ignoring ASCII case only',
      async () => {
        const escrow = await seeded();
        expect(await ids(escrow, { q: 'iso' })).toEqual(['ISO-beta', 'iso-alpha']);
        expect(await ids(escrow, { q: 'OLGA' })).toEqual(['fat%32']);
        expect(await ids(escrow, { q: 'olf' })).toEqual(['gpt\\disk']);
        expect(await ids(escrow, { q: 'ann' })).toEqual(['ext4_home', 'fat%32']);
        expect(await ids(escrow, { q: 'mile' })).toEqual(['raw-Émile', 'émile']);
        // Beyond ASCII, case is not folded.
        expect(await ids(escrow, { q: 'émile' })).toEqual(['émile']);
        expect(await ids(escrow, { q: 'Émile' })).toEqual(['raw-Émile']);
        expect(await ids(escrow, { q: 'nobody' })).toEqual([]);
        expect(await ids(escrow, { q: 'ita', state: 'active', owner: 'olive' })).toEqual([
          'iso-alpha',
        ]);
      },
    );

    c.test('takes LIKE wildcards and the escape character in free text literally', async () => {
      const escrow = await seeded();
      expect(await ids(escrow, { q: '%' })).toEqual(['fat%32']);
      expect(await ids(escrow, { q: '_' })).toEqual(['ext4_home']);
      expect(await ids(escrow, { q: '\\' })).toEqual(['gpt\\disk']);
      expect(await ids(escrow, { q: 't%3' })).toEqual(['fat%32']);
      expect(await ids(escrow, { q: 'o_a' })).toEqual([]);
      expect(await ids(escrow, { q: '\\%' })).toEqual([]);
    });

    c.test(
      'records.search: free text matches within a restorer, not across the stored list',
      async () => {
        // The API contract: q "Matches volume ID, owner or a restorer (substring, case-insensitive)".
        const escrow = await seeded();
        expect(await ids(escrow, { q: '","' })).toEqual([]);
        expect(await ids(escrow, { q: 'ann"' })).toEqual([]);
      },
    );

    c.test('pages through matches with an exact total below the cap', async () => {
      const escrow = await seeded();
      const page = (n: number, search: Partial<RecordSearch> = {}) =>
        escrow.records.search({ sort: 'volumeId', order: 'asc', page: n, pageSize: 3, ...search });
      const first = await page(1);
      expect(first.records.map((r) => r.volumeId)).toEqual(['ISO-beta', 'ext4_home', 'fat%32']);
      expect(first).toMatchObject({ total: 7, totalIsCapped: false });
      expect((await page(2)).records.map((r) => r.volumeId)).toEqual([
        'gpt\\disk',
        'iso-alpha',
        'raw-Émile',
      ]);
      expect(await page(3)).toEqual({ records: [RECORDS[5]], total: 7, totalIsCapped: false });
      expect(await page(4)).toEqual({ records: [], total: 7, totalIsCapped: false });
      expect(await page(2, { state: 'active' })).toMatchObject({ total: 5, totalIsCapped: false });
      expect(await page(9, { state: 'revoked' })).toEqual({
        records: [],
        total: 1,
        totalIsCapped: false,
      });
      expect(await page(1, { q: 'nobody' })).toEqual({
        records: [],
        total: 0,
        totalIsCapped: false,
      });
      const whole = await escrow.records.search({
        sort: 'volumeId',
        order: 'asc',
        page: 1,
        pageSize: 7,
      });
      expect(whole).toMatchObject({ total: 7, totalIsCapped: false });
    });

    c.test('returns copies of the records it finds', async () => {
      const escrow = await seeded();
      const { records } = await escrow.records.search({
        sort: 'volumeId',
        order: 'asc',
        page: 1,
        pageSize: 1,
      });
      (records[0]!.restorers as string[]).push('mallory');
      expect(await escrow.records.find('ISO-beta')).toEqual(RECORDS[1]);
    });

    describe('beyond the count cap', () => {
      const store = c.shared();
      /** The cap's worth of active records and five revoked ones. */
      const many = Array.from({ length: RECORD_COUNT_CAP + 5 }, (_, i) =>
        record(
          `cap-${String(i).padStart(5, '0')}`,
          i % 2 ? 'olive' : 'otto',
          i % 3 ? ['olive', 'otto'] : ['otto'],
          'reusable',
          i < RECORD_COUNT_CAP ? 'active' : 'revoked',
          i,
        ),
      );
      beforeAll(async () => {
        await store().seedRecords(many);
      }, 120_000);
      const search = (s: Partial<RecordSearch>) =>
        store().repos.escrow.records.search({
          sort: 'volumeId',
          order: 'asc',
          page: 1,
          pageSize: 50,
          ...s,
        });

      c.test('the seeded records read back as records.upsert would store them', async () => {
        const { escrow } = store().repos;
        expect(await escrow.records.find('cap-00000')).toEqual(many[0]);
        expect(await escrow.records.find('cap-10004')).toEqual(many[RECORD_COUNT_CAP + 4]);
        expect((await escrow.records.naming('olive')).length).toBe(
          many.filter((r) => r.owner === 'olive' || r.restorers.includes('olive')).length,
        );
      });

      c.test('stops counting at the cap and says so', async () => {
        const first = await search({});
        expect(first.records.map((r) => r.volumeId)).toEqual(
          many.slice(0, 50).map((r) => r.volumeId),
        );
        expect(first).toMatchObject({ total: RECORD_COUNT_CAP, totalIsCapped: true });
        const newest = await search({ sort: 'updatedAt', order: 'desc', page: 2 });
        expect(newest.records[0]?.volumeId).toBe('cap-09954');
        expect(newest).toMatchObject({ total: RECORD_COUNT_CAP, totalIsCapped: true });
        expect(await search({ page: 1000 })).toEqual({
          records: [],
          total: RECORD_COUNT_CAP,
          totalIsCapped: true,
        });
      });

      c.test('counts exactly the cap without calling it capped', async () => {
        expect(await search({ state: 'active' })).toMatchObject({
          total: RECORD_COUNT_CAP,
          totalIsCapped: false,
        });
        const last = await search({ state: 'active', page: RECORD_COUNT_CAP / 50 });
        expect(last.records.at(-1)?.volumeId).toBe('cap-09999');
        expect(last).toMatchObject({ total: RECORD_COUNT_CAP, totalIsCapped: false });
        expect(await search({ state: 'revoked' })).toMatchObject({
          total: 5,
          totalIsCapped: false,
        });
        expect(await search({ q: 'CAP-0999', owner: 'olive' })).toMatchObject({
          total: 5,
          totalIsCapped: false,
        });
      });

      c.test(
        'records.search: the total never exceeds the cap, even on a last page beyond it',
        async () => {
          // The port: "the count stops at a cap (totalIsCapped)".
          const last = await search({ page: RECORD_COUNT_CAP / 50 + 1 });
          expect(last.records).toHaveLength(5);
          expect(last).toMatchObject({ total: RECORD_COUNT_CAP, totalIsCapped: true });
        },
      );
    });
  });
}
