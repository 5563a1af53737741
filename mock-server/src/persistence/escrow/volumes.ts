import type { Kysely, Selectable } from 'kysely';
import type { VolumeRepository, VolumeRow, VolumeState } from '../../domain/escrow/ports';
import type { Database, VolumesTable } from '../schema';
import { transact } from '../transactions';

const toVolume = (r: Selectable<VolumesTable>): VolumeRow => ({
  volumeId: r.volume_id,
  owner: r.owner,
  state: r.state as VolumeState,
  pairId: r.pair_id,
  claimExpiresAt: r.claim_expires_at,
  createdAt: r.created_at,
});

/** Volumes and their claims on the site's SQLite database. */
export class SqliteVolumeRepository implements VolumeRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async find(volumeId: string): Promise<VolumeRow | undefined> {
    const r = await this.db
      .selectFrom('volumes')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .executeTakeFirst();
    return r && toVolume(r);
  }

  async insertIfAbsent(v: VolumeRow): Promise<VolumeRow> {
    // One transaction: the row read back is the row the insert left (BK-3).
    return transact(this.db, async (trx) => {
      await trx
        .insertInto('volumes')
        .values({
          volume_id: v.volumeId,
          owner: v.owner,
          state: v.state,
          pair_id: v.pairId,
          claim_expires_at: v.claimExpiresAt,
          created_at: v.createdAt,
        })
        .onConflict((oc) => oc.column('volume_id').doNothing())
        .execute();
      const row = await trx
        .selectFrom('volumes')
        .selectAll()
        .where('volume_id', '=', v.volumeId)
        .executeTakeFirstOrThrow();
      return toVolume(row);
    });
  }

  async update(
    volumeId: string,
    patch: Partial<Pick<VolumeRow, 'owner' | 'state' | 'claimExpiresAt'>>,
  ): Promise<void> {
    const set: Partial<VolumesTable> = {};
    if (patch.owner !== undefined) set.owner = patch.owner;
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.claimExpiresAt !== undefined) set.claim_expires_at = patch.claimExpiresAt;
    if (Object.keys(set).length)
      await this.db.updateTable('volumes').set(set).where('volume_id', '=', volumeId).execute();
  }

  async delete(volumeId: string): Promise<void> {
    await this.db.deleteFrom('volumes').where('volume_id', '=', volumeId).execute();
  }

  async expiredClaims(now: string): Promise<VolumeRow[]> {
    const rows = await this.db
      .selectFrom('volumes')
      .selectAll()
      .where('state', '=', 'claimed')
      .where('claim_expires_at', '<', now)
      .execute();
    return rows.map(toVolume);
  }
}
