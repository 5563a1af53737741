import type { Kysely, Selectable } from 'kysely';
import type { TransferRepository, TransferRow, TransferStatus } from '../../domain/escrow/ports';
import type { Database, TransfersTable } from '../schema';

const toTransfer = (r: Selectable<TransfersTable>): TransferRow => ({
  pairId: r.pair_id,
  seq: r.seq,
  kind: r.kind,
  bodySha256: r.body_sha256,
  header: r.header,
  payload: r.payload ? new Uint8Array(r.payload) : null,
  status: r.status as TransferStatus,
  outcome: r.outcome,
  receivedAt: r.received_at,
  appliedAt: r.applied_at,
});

/** Transfers on the site's SQLite database. */
export class SqliteTransferRepository implements TransferRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async find(pairId: string, seq: number): Promise<TransferRow | undefined> {
    const r = await this.db
      .selectFrom('transfers')
      .selectAll()
      .where('pair_id', '=', pairId)
      .where('seq', '=', seq)
      .executeTakeFirst();
    return r && toTransfer(r);
  }

  async insert(t: TransferRow): Promise<boolean> {
    const result = await this.db
      .insertInto('transfers')
      .values({
        pair_id: t.pairId,
        seq: t.seq,
        kind: t.kind,
        body_sha256: t.bodySha256,
        header: t.header,
        payload: t.payload,
        status: t.status,
        outcome: t.outcome,
        received_at: t.receivedAt,
        applied_at: t.appliedAt,
      })
      .onConflict((oc) => oc.columns(['pair_id', 'seq']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async settle(
    pairId: string,
    seq: number,
    status: TransferStatus,
    outcome: string,
    at: string,
  ): Promise<void> {
    await this.db
      .updateTable('transfers')
      // The payload of an applied transfer is no longer needed: its effect is stored.
      .set({ status, outcome, applied_at: at, payload: null })
      .where('pair_id', '=', pairId)
      .where('seq', '=', seq)
      .execute();
  }

  async buffered(pairId: string, aboveSeq: number): Promise<TransferRow[]> {
    const rows = await this.db
      .selectFrom('transfers')
      .selectAll()
      .where('pair_id', '=', pairId)
      .where('seq', '>', aboveSeq)
      .where('status', '=', 'received')
      .orderBy('seq')
      .execute();
    return rows.map(toTransfer);
  }

  async dropBuffered(pairId: string, aboveSeq: number): Promise<void> {
    await this.db
      .deleteFrom('transfers')
      .where('pair_id', '=', pairId)
      .where('seq', '>', aboveSeq)
      .where('status', '=', 'received')
      .execute();
  }

  async oldestBufferedAt(pairId: string, aboveSeq: number): Promise<string | undefined> {
    const r = await this.db
      .selectFrom('transfers')
      .select((eb) => eb.fn.min('received_at').as('at'))
      .where('pair_id', '=', pairId)
      // The transfer at aboveSeq + 1 is the one being waited for, not one waiting.
      .where('seq', '>', aboveSeq + 1)
      .where('status', '=', 'received')
      .executeTakeFirst();
    return r?.at ?? undefined;
  }
}
