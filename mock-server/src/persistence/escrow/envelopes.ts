import type { Kysely } from 'kysely';
import type { EnvelopeRepository } from '../../domain/escrow/ports';
import type { Database } from '../schema';

/** Escrowed epoch-key envelopes on the site's SQLite database. */
export class SqliteEnvelopeRepository implements EnvelopeRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async add(volumeId: string, epoch: number, envelope: string, at: string): Promise<void> {
    await this.db
      .insertInto('escrow_envelopes')
      .values({ volume_id: volumeId, epoch, envelope, created_at: at })
      .onConflict((oc) => oc.columns(['volume_id', 'epoch']).doNothing())
      .execute();
  }

  async of(volumeId: string): Promise<{ epoch: number; envelope: string }[]> {
    return this.db
      .selectFrom('escrow_envelopes')
      .select(['epoch', 'envelope'])
      .where('volume_id', '=', volumeId)
      .orderBy('epoch')
      .execute();
  }

  async times(volumeId: string): Promise<{ epoch: number; at: string }[]> {
    const rows = await this.db
      .selectFrom('escrow_envelopes')
      .select(['epoch', 'created_at'])
      .where('volume_id', '=', volumeId)
      .orderBy('epoch')
      .execute();
    return rows.map((r) => ({ epoch: r.epoch, at: r.created_at }));
  }
}
