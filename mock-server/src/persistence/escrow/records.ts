import { sql, type Kysely, type Selectable } from 'kysely';
import type { RecordState } from '../../../../src/core/contract';
import type { ReleasePolicy } from '../../../../src/core/crypto/release-policy';
import type { EscrowRecordRepository, RecordRow, RecordSearch } from '../../domain/escrow/ports';
import { dialectOf } from '../dialect';
import type { Database, EscrowRecordsTable } from '../schema';
import { transact } from '../transactions';

const toRecord = (r: Selectable<EscrowRecordsTable>): RecordRow => ({
  volumeId: r.volume_id,
  owner: r.owner,
  restorers: JSON.parse(r.restorers) as string[],
  policy: {
    kind: r.policy_kind as ReleasePolicy['kind'],
    approvalRequired: r.approval_required === 1,
    expiresAt: r.expires_at,
  },
  state: r.state as RecordState,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  // Absent, not null, for a volume whose keys are here: records read back as they were stored.
  ...(r.keys_site_id === null ? {} : { keysAt: r.keys_site_id }),
  ...(r.label === null ? {} : { label: r.label }),
  ...(r.expiry_ceiling === null ? {} : { expiryCeiling: r.expiry_ceiling }),
});

/** Counting matches of a restorer DB search stops here. */
export const RECORD_COUNT_CAP = 10_000;

/** Escrow records on the site's SQLite database. */
export class SqliteEscrowRecordRepository implements EscrowRecordRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async find(volumeId: string): Promise<RecordRow | undefined> {
    const r = await this.db
      .selectFrom('escrow_records')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .executeTakeFirst();
    return r && toRecord(r);
  }

  async upsert(rec: RecordRow): Promise<void> {
    const values = {
      volume_id: rec.volumeId,
      owner: rec.owner,
      restorers: JSON.stringify(rec.restorers),
      policy_kind: rec.policy.kind,
      approval_required: rec.policy.approvalRequired ? 1 : 0,
      expires_at: rec.policy.expiresAt,
      state: rec.state,
      created_at: rec.createdAt,
      updated_at: rec.updatedAt,
      keys_site_id: rec.keysAt ?? null,
      ...(rec.expiryCeiling === undefined ? {} : { expiry_ceiling: rec.expiryCeiling }),
    };
    await transact(this.db, async (trx) => {
      await trx
        .insertInto('escrow_records')
        .values(values)
        .onConflict((oc) =>
          oc
            .column('volume_id')
            .doUpdateSet({ ...values, created_at: sql`escrow_records.created_at` }),
        )
        .execute();
      await trx.deleteFrom('record_restorers').where('volume_id', '=', rec.volumeId).execute();
      if (rec.restorers.length) {
        await trx
          .insertInto('record_restorers')
          .values(rec.restorers.map((userId) => ({ volume_id: rec.volumeId, user_id: userId })))
          .execute();
      }
    });
  }

  async setLabel(volumeId: string, label: string | null, at: string): Promise<void> {
    await this.db
      .updateTable('escrow_records')
      .set({ label, updated_at: at })
      .where('volume_id', '=', volumeId)
      .execute();
  }

  async compareAndSetState(
    volumeId: string,
    from: RecordState,
    to: RecordState,
    at: string,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('escrow_records')
      .set({ state: to, updated_at: at })
      .where('volume_id', '=', volumeId)
      .where('state', '=', from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async ownedBy(owner: string): Promise<RecordRow[]> {
    const rows = await this.db
      .selectFrom('escrow_records')
      .selectAll()
      .where('owner', '=', owner)
      .orderBy('volume_id')
      .execute();
    return rows.map(toRecord);
  }

  async naming(userId: string): Promise<RecordRow[]> {
    const rows = await this.db
      .selectFrom('escrow_records')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('owner', '=', userId),
          eb(
            'volume_id',
            'in',
            eb.selectFrom('record_restorers').select('volume_id').where('user_id', '=', userId),
          ),
        ]),
      )
      .orderBy('volume_id')
      .execute();
    return rows.map(toRecord);
  }

  async expiringUnnoticed(from: string, to: string, limit: number): Promise<RecordRow[]> {
    const rows = await this.db
      .selectFrom('escrow_records')
      .selectAll()
      .where('expires_at', '>', from)
      .where('expires_at', '<=', to)
      .where('state', '!=', 'revoked')
      .where((eb) =>
        eb.or([
          eb('expiry_noticed_for', 'is', null),
          eb('expiry_noticed_for', '!=', eb.ref('expires_at')),
        ]),
      )
      .orderBy('expires_at')
      .orderBy('volume_id')
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }

  async markExpiryNoticed(volumeId: string, expiresAt: string): Promise<boolean> {
    const result = await this.db
      .updateTable('escrow_records')
      .set({ expiry_noticed_for: expiresAt })
      .where('volume_id', '=', volumeId)
      .where('expires_at', '=', expiresAt)
      .where((eb) =>
        eb.or([eb('expiry_noticed_for', 'is', null), eb('expiry_noticed_for', '!=', expiresAt)]),
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async search(
    search: RecordSearch,
  ): Promise<{ records: RecordRow[]; total: number; totalIsCapped: boolean }> {
    // One table, no joins: the restorer list is also kept as JSON text on the
    // record, so every filter is a scan that can stop once the page is full
    // (ES-1: a filtered page stays fast with 100 000 records).
    const like = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    let q = this.db.selectFrom('escrow_records');
    if (search.state) q = q.where('state', '=', search.state);
    if (search.policy) q = q.where('policy_kind', '=', search.policy);
    if (search.owner) q = q.where('owner', '=', search.owner);
    if (search.expiresBetween) {
      q = q
        .where('expires_at', '>', search.expiresBetween.from)
        .where('expires_at', '<=', search.expiresBetween.to);
    }
    const dialect = dialectOf(this.db);
    // Case-sensitive, like user IDs; the quotes make it the whole ID.
    if (search.restorer)
      q = q.where(dialect.contains(sql<string>`restorers`, JSON.stringify(search.restorer)));
    if (search.q) {
      const text = search.q;
      const pattern = like(text);
      q = q.where((eb) =>
        eb.or([
          dialect.likeEscaped(sql<string>`volume_id`, pattern),
          dialect.likeEscaped(sql<string>`owner`, pattern),
          // Only text that can be part of a user ID is looked for in the restorer
          // list, so no match spans two entries of its JSON text.
          ...(/^[A-Za-z0-9._-]+$/.test(text)
            ? [dialect.likeEscaped(sql<string>`restorers`, pattern)]
            : []),
        ]),
      );
    }
    const column = (
      {
        volumeId: 'volume_id',
        owner: 'owner',
        state: 'state',
        policy: 'policy_kind',
        updatedAt: 'updated_at',
      } as const
    )[search.sort];
    const rows = await q
      .selectAll()
      .orderBy(column, search.order)
      .orderBy('volume_id', 'asc')
      .limit(search.pageSize)
      .offset((search.page - 1) * search.pageSize)
      .execute();
    const offset = (search.page - 1) * search.pageSize;
    if (rows.length > 0 && rows.length < search.pageSize) {
      // The last page: the count is known without a second scan.
      const counted = offset + rows.length;
      return {
        records: rows.map(toRecord),
        total: Math.min(counted, RECORD_COUNT_CAP),
        totalIsCapped: counted > RECORD_COUNT_CAP,
      };
    }
    // Counting stops at a cap: beyond it the console says "more than".
    const { total } = await this.db
      .selectFrom(
        q
          .select(sql`1`.as('one'))
          .limit(RECORD_COUNT_CAP + 1)
          .as('matches'),
      )
      .select((eb) => eb.fn.countAll<number>().as('total'))
      .executeTakeFirstOrThrow();
    const n = Number(total);
    return {
      records: rows.map(toRecord),
      total: Math.min(n, RECORD_COUNT_CAP),
      totalIsCapped: n > RECORD_COUNT_CAP,
    };
  }
}
