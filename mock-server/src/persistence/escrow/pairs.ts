import { sql, type Kysely, type Selectable } from 'kysely';
import type {
  InstructionRow,
  PairHistoryRow,
  PairRepository,
  PairRow,
} from '../../domain/escrow/ports';
import { dialectOf } from '../dialect';
import type { Database, PairInstructionsTable, PairsTable } from '../schema';

const toPair = (r: Selectable<PairsTable>): PairRow => ({
  pairId: r.pair_id,
  volumeId: r.volume_id,
  state: r.state,
  seqApplied: r.seq_applied,
  seqReceived: r.seq_received,
  bytes: r.bytes,
  chunksReceived: r.chunks_received,
  lastTransferAt: r.last_transfer_at,
  lastError: r.last_error,
  createdAt: r.created_at,
  unhealthyReason: r.unhealthy_reason,
  stateSince: r.state_since,
  cutSeq: r.cut_seq,
  lastHeartbeatAt: r.last_heartbeat_at,
  heartbeat: r.heartbeat,
  rotationEveryBytes: r.rotation_every_bytes,
  rotationEveryMs: r.rotation_every_ms,
});

const toInstruction = (r: Selectable<PairInstructionsTable>): InstructionRow => ({
  id: r.id,
  pairId: r.pair_id,
  action: r.action,
  requestedBy: r.requested_by,
  requestedAt: r.requested_at,
  reason: r.reason,
  state: r.state as InstructionRow['state'],
  acknowledgedAt: r.acknowledged_at,
});

/** Pairs, their history, instructions and samples on the site's SQLite database. */
export class SqlitePairRepository implements PairRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async find(pairId: string): Promise<PairRow | undefined> {
    const r = await this.db
      .selectFrom('pairs')
      .selectAll()
      .where('pair_id', '=', pairId)
      .executeTakeFirst();
    return r && toPair(r);
  }

  async ofVolume(volumeId: string): Promise<PairRow | undefined> {
    const r = await this.db
      .selectFrom('pairs')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .executeTakeFirst();
    return r && toPair(r);
  }

  async insert(p: PairRow): Promise<void> {
    await this.db
      .insertInto('pairs')
      .values({
        pair_id: p.pairId,
        volume_id: p.volumeId,
        state: p.state,
        seq_applied: p.seqApplied,
        seq_received: p.seqReceived,
        bytes: p.bytes,
        chunks_received: p.chunksReceived,
        last_transfer_at: p.lastTransferAt,
        last_error: p.lastError,
        created_at: p.createdAt,
        unhealthy_reason: p.unhealthyReason,
        state_since: p.stateSince,
        cut_seq: p.cutSeq,
        last_heartbeat_at: p.lastHeartbeatAt,
        heartbeat: p.heartbeat,
        rotation_every_bytes: p.rotationEveryBytes,
        rotation_every_ms: p.rotationEveryMs,
      })
      .execute();
  }

  async noteTransferReceived(pairId: string, seq: number, at: string): Promise<void> {
    await this.db
      .updateTable('pairs')
      .set({
        seq_received: dialectOf(this.db).greatest(sql<number>`seq_received`, seq),
        last_transfer_at: at,
      })
      .where('pair_id', '=', pairId)
      .execute();
  }

  async update(
    pairId: string,
    patch: Partial<Omit<PairRow, 'pairId' | 'volumeId' | 'createdAt'>>,
  ): Promise<void> {
    const set: Partial<PairsTable> = {};
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.seqApplied !== undefined) set.seq_applied = patch.seqApplied;
    if (patch.seqReceived !== undefined) set.seq_received = patch.seqReceived;
    if (patch.bytes !== undefined) set.bytes = patch.bytes;
    if (patch.chunksReceived !== undefined) set.chunks_received = patch.chunksReceived;
    if (patch.lastTransferAt !== undefined) set.last_transfer_at = patch.lastTransferAt;
    if (patch.lastError !== undefined) set.last_error = patch.lastError;
    if (patch.unhealthyReason !== undefined) set.unhealthy_reason = patch.unhealthyReason;
    if (patch.stateSince !== undefined) set.state_since = patch.stateSince;
    if (patch.cutSeq !== undefined) set.cut_seq = patch.cutSeq;
    if (patch.lastHeartbeatAt !== undefined) set.last_heartbeat_at = patch.lastHeartbeatAt;
    if (patch.heartbeat !== undefined) set.heartbeat = patch.heartbeat;
    if (patch.rotationEveryBytes !== undefined) set.rotation_every_bytes = patch.rotationEveryBytes;
    if (patch.rotationEveryMs !== undefined) set.rotation_every_ms = patch.rotationEveryMs;
    if (Object.keys(set).length)
      await this.db.updateTable('pairs').set(set).where('pair_id', '=', pairId).execute();
  }

  async list(owner?: string): Promise<PairRow[]> {
    let q = this.db.selectFrom('pairs').selectAll('pairs');
    if (owner)
      q = q
        .innerJoin('volumes', 'volumes.volume_id', 'pairs.volume_id')
        .where('volumes.owner', '=', owner);
    const rows = await q.orderBy('pairs.created_at').execute();
    return rows.map(toPair);
  }

  async addHistory(pairId: string, e: PairHistoryRow): Promise<void> {
    await this.db
      .insertInto('pair_history')
      .values({ pair_id: pairId, at: e.at, from_state: e.from, to_state: e.to, reason: e.reason })
      .execute();
  }

  async history(pairId: string): Promise<PairHistoryRow[]> {
    const rows = await this.db
      .selectFrom('pair_history')
      .selectAll()
      .where('pair_id', '=', pairId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ at: r.at, from: r.from_state, to: r.to_state, reason: r.reason }));
  }

  async insertInstruction(i: InstructionRow): Promise<void> {
    await this.db
      .insertInto('pair_instructions')
      .values({
        id: i.id,
        pair_id: i.pairId,
        action: i.action,
        requested_by: i.requestedBy,
        requested_at: i.requestedAt,
        reason: i.reason,
        state: i.state,
        acknowledged_at: i.acknowledgedAt,
      })
      .execute();
  }

  async instructionsOf(
    pairId: string,
    states: readonly InstructionRow['state'][],
  ): Promise<InstructionRow[]> {
    if (states.length === 0) return [];
    const rows = await this.db
      .selectFrom('pair_instructions')
      .selectAll()
      .where('pair_id', '=', pairId)
      .where('state', 'in', [...states])
      .orderBy('requested_at')
      .execute();
    return rows.map(toInstruction);
  }

  async findInstruction(id: string): Promise<InstructionRow | undefined> {
    const r = await this.db
      .selectFrom('pair_instructions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return r && toInstruction(r);
  }

  async updateInstruction(
    id: string,
    patch: Partial<Pick<InstructionRow, 'state' | 'acknowledgedAt'>>,
  ): Promise<void> {
    const set: { state?: string; acknowledged_at?: string | null } = {};
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.acknowledgedAt !== undefined) set.acknowledged_at = patch.acknowledgedAt;
    if (Object.keys(set).length)
      await this.db.updateTable('pair_instructions').set(set).where('id', '=', id).execute();
  }

  async addSample(
    pairId: string,
    at: string,
    lagSeconds: number | null,
    bytesPerSecond: number | null,
  ): Promise<void> {
    await this.db
      .insertInto('pair_samples')
      .values({ pair_id: pairId, at, lag_seconds: lagSeconds, bytes_per_second: bytesPerSecond })
      .execute();
  }

  async samples(pairId: string, since: string) {
    const rows = await this.db
      .selectFrom('pair_samples')
      .selectAll()
      .where('pair_id', '=', pairId)
      .where('at', '>=', since)
      .orderBy('at')
      .execute();
    return rows.map((r) => ({
      at: r.at,
      lagSeconds: r.lag_seconds,
      bytesPerSecond: r.bytes_per_second,
    }));
  }
}
