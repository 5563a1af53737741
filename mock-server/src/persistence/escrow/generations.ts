import type { Kysely, Selectable } from 'kysely';
import type { GenerationRepository, GenerationRow } from '../../domain/escrow/ports';
import type { Database, GenerationsTable } from '../schema';
import { transact } from '../transactions';

const toGeneration = (r: Selectable<GenerationsTable>): GenerationRow => ({
  volumeId: r.volume_id,
  generation: r.generation,
  manifest: r.manifest,
  manifestHash: r.manifest_hash,
  size: r.size,
  chunks: r.chunks,
  deviceFingerprint: r.device_fingerprint,
  receipt: r.receipt,
  committedAt: r.committed_at,
});

/** Generations and the receipt counter on the site's SQLite database. */
export class SqliteGenerationRepository implements GenerationRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async of(volumeId: string): Promise<GenerationRow[]> {
    const rows = await this.db
      .selectFrom('generations')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .orderBy('generation')
      .execute();
    return rows.map(toGeneration);
  }

  async find(volumeId: string, generation: number): Promise<GenerationRow | undefined> {
    const r = await this.db
      .selectFrom('generations')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .where('generation', '=', generation)
      .executeTakeFirst();
    return r && toGeneration(r);
  }

  async latest(volumeId: string): Promise<GenerationRow | undefined> {
    const r = await this.db
      .selectFrom('generations')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .orderBy('generation', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r && toGeneration(r);
  }

  async insert(g: GenerationRow): Promise<void> {
    await this.db
      .insertInto('generations')
      .values({
        volume_id: g.volumeId,
        generation: g.generation,
        manifest: g.manifest,
        manifest_hash: g.manifestHash,
        size: g.size,
        chunks: g.chunks,
        device_fingerprint: g.deviceFingerprint,
        receipt: g.receipt,
        committed_at: g.committedAt,
      })
      .execute();
  }

  async nextReceiptCounter(): Promise<string> {
    return transact(this.db, async (trx) => {
      const row = await trx
        .selectFrom('site_meta')
        .select('value')
        .where('key', '=', 'receipt_counter')
        .executeTakeFirst();
      const next = (BigInt(row?.value ?? '0') + 1n).toString();
      await trx
        .insertInto('site_meta')
        .values({ key: 'receipt_counter', value: next })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: next }))
        .execute();
      return next;
    });
  }
}
