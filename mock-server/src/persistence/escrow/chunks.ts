import type { Kysely } from 'kysely';
import type { ChunkRepository, ChunkRow } from '../../domain/escrow/ports';
import type { Database } from '../schema';

/** Chunk rows on the site's SQLite database. */
export class SqliteChunkRepository implements ChunkRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async find(volumeId: string, chunkId: string): Promise<ChunkRow | undefined> {
    const r = await this.db
      .selectFrom('chunks')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .where('chunk_id', '=', chunkId)
      .executeTakeFirst();
    return (
      r && {
        volumeId: r.volume_id,
        chunkId: r.chunk_id,
        ciphertextSha256: r.ciphertext_sha256,
        size: r.size,
        storedAt: r.stored_at,
      }
    );
  }

  async insertIfAbsent(c: ChunkRow): Promise<void> {
    await this.db
      .insertInto('chunks')
      .values({
        volume_id: c.volumeId,
        chunk_id: c.chunkId,
        ciphertext_sha256: c.ciphertextSha256,
        size: c.size,
        stored_at: c.storedAt,
        verified_at: null,
      })
      .onConflict((oc) => oc.columns(['volume_id', 'chunk_id']).doNothing())
      .execute();
  }

  async of(volumeId: string): Promise<ChunkRow[]> {
    const rows = await this.db
      .selectFrom('chunks')
      .selectAll()
      .where('volume_id', '=', volumeId)
      // The primary key's order, which SQLite reads them in anyway.
      .orderBy('chunk_id')
      .execute();
    return rows.map((r) => ({
      volumeId: r.volume_id,
      chunkId: r.chunk_id,
      ciphertextSha256: r.ciphertext_sha256,
      size: r.size,
      storedAt: r.stored_at,
    }));
  }

  async markVerified(volumeId: string, chunkIds: readonly string[], at: string): Promise<void> {
    for (let i = 0; i < chunkIds.length; i += 500) {
      await this.db
        .updateTable('chunks')
        .set({ verified_at: at })
        .where('volume_id', '=', volumeId)
        .where('chunk_id', 'in', chunkIds.slice(i, i + 500))
        .execute();
    }
  }

  async delete(volumeId: string, chunkIds: readonly string[]): Promise<void> {
    for (let i = 0; i < chunkIds.length; i += 500) {
      await this.db
        .deleteFrom('chunks')
        .where('volume_id', '=', volumeId)
        .where('chunk_id', 'in', chunkIds.slice(i, i + 500))
        .execute();
    }
  }
}
