import type { Kysely, Selectable } from 'kysely';
import type { ReleaseRepository, ReleaseRow, ReleaseState } from '../../domain/escrow/ports';
import type { Database, ReleasesTable } from '../schema';
import { transact } from '../transactions';

const toRelease = (r: Selectable<ReleasesTable>): ReleaseRow => ({
  requestId: r.request_id,
  userId: r.user_id,
  volumeId: r.volume_id,
  generation: r.generation,
  ephemeralJwk: r.ephemeral_jwk,
  state: r.state as ReleaseState,
  envelope: r.envelope,
  reason: r.reason,
  decidedBy: r.decided_by,
  createdAt: r.created_at,
  decidedAt: r.decided_at,
});

function releaseValues(r: ReleaseRow) {
  return {
    request_id: r.requestId,
    user_id: r.userId,
    volume_id: r.volumeId,
    generation: r.generation,
    ephemeral_jwk: r.ephemeralJwk,
    state: r.state,
    envelope: r.envelope,
    reason: r.reason,
    decided_by: r.decidedBy,
    created_at: r.createdAt,
    decided_at: r.decidedAt,
  };
}

/** Key releases on the site's SQLite database. */
export class SqliteReleaseRepository implements ReleaseRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async find(requestId: string): Promise<ReleaseRow | undefined> {
    const r = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('request_id', '=', requestId)
      .executeTakeFirst();
    return r && toRelease(r);
  }

  async insert(release: ReleaseRow): Promise<boolean> {
    const result = await this.db
      .insertInto('releases')
      .values(releaseValues(release))
      .onConflict((oc) => oc.column('request_id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async update(
    requestId: string,
    patch: Partial<Pick<ReleaseRow, 'state' | 'envelope' | 'reason' | 'decidedBy' | 'decidedAt'>>,
  ): Promise<void> {
    const set: Partial<ReleasesTable> = {};
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.envelope !== undefined) set.envelope = patch.envelope;
    if (patch.reason !== undefined) set.reason = patch.reason;
    if (patch.decidedBy !== undefined) set.decided_by = patch.decidedBy;
    if (patch.decidedAt !== undefined) set.decided_at = patch.decidedAt;
    if (Object.keys(set).length)
      await this.db.updateTable('releases').set(set).where('request_id', '=', requestId).execute();
  }

  async count(volumeId: string, userId?: string): Promise<number> {
    let q = this.db
      .selectFrom('releases')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('volume_id', '=', volumeId)
      .where('state', '=', 'released');
    if (userId) q = q.where('user_id', '=', userId);
    return Number((await q.executeTakeFirstOrThrow()).n);
  }

  async releaseOnceTo(release: ReleaseRow, pendingExists: boolean): Promise<boolean> {
    return transact(this.db, async (trx) => {
      const prior = await trx
        .selectFrom('releases')
        .select('request_id')
        .where('volume_id', '=', release.volumeId)
        .where('user_id', '=', release.userId)
        .where('state', '=', 'released')
        .executeTakeFirst();
      if (prior) return false;
      if (pendingExists) {
        await trx
          .updateTable('releases')
          .set({
            state: 'released',
            envelope: release.envelope,
            decided_by: release.decidedBy,
            decided_at: release.decidedAt,
            reason: release.reason,
          })
          .where('request_id', '=', release.requestId)
          .execute();
      } else {
        await trx.insertInto('releases').values(releaseValues(release)).execute();
      }
      return true;
    });
  }

  async pending(): Promise<ReleaseRow[]> {
    const rows = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('state', '=', 'pending_approval')
      .orderBy('created_at')
      .execute();
    return rows.map(toRelease);
  }

  async hasPending(volumeId: string, userId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('releases')
      .select('request_id')
      .where('volume_id', '=', volumeId)
      .where('user_id', '=', userId)
      .where('state', '=', 'pending_approval')
      .executeTakeFirst();
    return Boolean(r);
  }

  async of(volumeId: string): Promise<ReleaseRow[]> {
    const rows = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toRelease);
  }

  async pageOf(
    volumeId: string,
    before: { readonly at: string; readonly requestId: string } | null,
    limit: number,
  ): Promise<ReleaseRow[]> {
    // Read from releases_by_volume_time (migration 0007) and stops after `limit` rows.
    let query = this.db.selectFrom('releases').selectAll().where('volume_id', '=', volumeId);
    if (before) {
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', before.at),
          eb.and([eb('created_at', '=', before.at), eb('request_id', '<', before.requestId)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('request_id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toRelease);
  }
}
