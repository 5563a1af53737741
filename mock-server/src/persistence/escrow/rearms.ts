import type { Kysely, Selectable } from 'kysely';
import type { RearmRepository, RearmRow } from '../../domain/escrow/ports';
import type { Database, RearmRequestsTable } from '../schema';

const toRearm = (r: Selectable<RearmRequestsTable>): RearmRow => ({
  id: r.id,
  volumeId: r.volume_id,
  requestedBy: r.requested_by,
  reason: r.reason,
  state: r.state as RearmRow['state'],
  decidedBy: r.decided_by,
  decisionReason: r.decision_reason,
  createdAt: r.created_at,
  decidedAt: r.decided_at,
});

/** Re-arm requests on the site's SQLite database. */
export class SqliteRearmRepository implements RearmRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async insert(r: RearmRow): Promise<void> {
    await this.db
      .insertInto('rearm_requests')
      .values({
        id: r.id,
        volume_id: r.volumeId,
        requested_by: r.requestedBy,
        reason: r.reason,
        state: r.state,
        decided_by: r.decidedBy,
        decision_reason: r.decisionReason,
        created_at: r.createdAt,
        decided_at: r.decidedAt,
      })
      .execute();
  }

  async find(id: string): Promise<RearmRow | undefined> {
    const r = await this.db
      .selectFrom('rearm_requests')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return r && toRearm(r);
  }

  async pending(): Promise<RearmRow[]> {
    const rows = await this.db
      .selectFrom('rearm_requests')
      .selectAll()
      .where('state', '=', 'pending')
      .orderBy('created_at')
      .execute();
    return rows.map(toRearm);
  }

  async decide(
    id: string,
    patch: Pick<RearmRow, 'state' | 'decidedBy' | 'decisionReason' | 'decidedAt'>,
  ): Promise<void> {
    await this.db
      .updateTable('rearm_requests')
      .set({
        state: patch.state,
        decided_by: patch.decidedBy,
        decision_reason: patch.decisionReason,
        decided_at: patch.decidedAt,
      })
      .where('id', '=', id)
      .execute();
  }
}
