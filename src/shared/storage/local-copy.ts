/**
 * The local copy of a backup (BK-6, BK-7, RC-1): every write the pipeline
 * makes to IndexedDB goes through here, in transactions that keep the
 * chunks, the index, the outbox and the resumable state consistent with one
 * another, so a crash at any point leaves either the old or the new state.
 */

import type { ChunkEntry, Receipt, ReceiptStatement } from '@/core/crypto';
import Dexie from 'dexie';
import {
  backupDatabase,
  generationRange,
  type BackupDatabase,
  type ChunkRecord,
  type GenerationRecord,
  type IndexEntryRecord,
  type NumberedOutboxRecord,
  type OutboxRecord,
  type ReceiptRecord,
  type SiteCopyRecord,
  type EscrowEnvelopeRecord,
  type VolumeRecord,
} from './database';

/** What one batch of the writer stage stores at once (BK-6: batched bulkPut). */
export interface ChunkBatch {
  readonly volumeId: string;
  readonly generation: number;
  /** New blobs of the local copy. */
  readonly chunks: readonly ChunkRecord[];
  readonly indexEntries: readonly IndexEntryRecord[];
  /** New or updated outbox entries. */
  readonly outbox: readonly OutboxRecord[];
  /** The generation's progress after the batch. */
  readonly progress: Pick<GenerationRecord, 'nextPosition' | 'bytesStored' | 'hashState'> &
    Partial<Pick<GenerationRecord, 'file' | 'elapsedMs'>>;
  /** Plaintext bytes the site holds, counted after the batch. */
  readonly bytesConfirmed: number;
}

type GenerationKey = [string, number];

/** An outbox entry the site now holds, and how it came to. */
export type SettledEntry = OutboxRecord & {
  /** Sent by this backup (true) or found at the site already (false). */
  readonly sent: boolean;
  readonly siteSeqApplied?: number;
};

export class LocalCopy {
  constructor(readonly db: BackupDatabase = backupDatabase()) {}

  // ---- generations ----

  async createGeneration(record: GenerationRecord, volume: VolumeRecord): Promise<void> {
    await this.db.transaction('rw', this.db.generations, this.db.volumes, async () => {
      await this.db.generations.put(record);
      const existing = await this.db.volumes.get(volume.volumeId);
      await this.db.volumes.put(
        existing ? { ...existing, updatedAt: volume.updatedAt, label: volume.label } : volume,
      );
    });
  }

  getGeneration(volumeId: string, generation: number): Promise<GenerationRecord | undefined> {
    return this.db.generations.get([volumeId, generation]);
  }

  async updateGeneration(
    volumeId: string,
    generation: number,
    changes: Partial<GenerationRecord>,
  ): Promise<void> {
    await this.db.transaction('rw', this.db.generations, () =>
      this.#mutate([volumeId, generation], () => changes),
    );
  }

  /**
   * Read-modify-write of a generation inside the caller's transaction. A
   * plain get and put rather than Dexie's modify, which deep-copies records
   * and would rebuild binary fields (the hash state) as plain objects.
   */
  async #mutate(
    key: GenerationKey,
    changes: (record: GenerationRecord) => Partial<GenerationRecord>,
  ): Promise<void> {
    const record = await this.db.generations.get(key);
    if (record) await this.db.generations.put({ ...record, ...changes(record) });
  }

  /** Backups of this operator that have not finished, newest first (BK-7). */
  async inProgress(userId: string): Promise<GenerationRecord[]> {
    const records = await this.db.generations.where('userId').equals(userId).toArray();
    return records
      .filter((g) => g.state === 'in-progress')
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  async generationsOf(userId: string): Promise<GenerationRecord[]> {
    return this.db.generations.where('userId').equals(userId).toArray();
  }

  async volume(volumeId: string): Promise<VolumeRecord | undefined> {
    return this.db.volumes.get(volumeId);
  }

  /** The index of a generation, in image order. */
  async index(volumeId: string, generation: number): Promise<ChunkEntry[]> {
    const [lower, upper] = generationRange(volumeId, generation);
    const entries = await this.db.indexEntries
      .where('[volumeId+generation+position]')
      .between(lower, upper, true, true)
      .toArray();
    return entries.map(({ chunkId, ciphertextSha256, length, epoch }) => ({
      chunkId,
      ciphertextSha256,
      length,
      epoch,
    }));
  }

  // ---- escrow envelopes for other sites (MS-4) ----

  async putEscrowEnvelopes(records: readonly EscrowEnvelopeRecord[]): Promise<void> {
    await this.db.escrowEnvelopes.bulkPut([...records]);
  }

  /** The envelopes kept for `siteId`, in epoch order. */
  async escrowEnvelopesFor(volumeId: string, siteId: string): Promise<EscrowEnvelopeRecord[]> {
    return this.db.escrowEnvelopes
      .where('[volumeId+siteId+epoch]')
      .between([volumeId, siteId, Dexie.minKey], [volumeId, siteId, Dexie.maxKey])
      .toArray();
  }

  /** The site confirmed a generation: the envelopes it now holds are dropped here. */
  async dropEscrowEnvelopes(
    volumeId: string,
    siteId: string,
    upToGeneration: number,
  ): Promise<void> {
    await this.db.escrowEnvelopes
      .where('[volumeId+siteId+epoch]')
      .between([volumeId, siteId, Dexie.minKey], [volumeId, siteId, Dexie.maxKey])
      .filter((e) => e.generation <= upToGeneration)
      .delete();
  }

  // ---- copies on other sites (MS-3) ----

  siteCopy(volumeId: string, siteId: string): Promise<SiteCopyRecord | undefined> {
    return this.db.siteCopies.get([volumeId, siteId]);
  }

  siteCopiesOf(userId: string): Promise<SiteCopyRecord[]> {
    return this.db.siteCopies.where('userId').equals(userId).toArray();
  }

  /** The operator no longer sends this volume to the site; what the site holds stays there. */
  async deleteSiteCopy(volumeId: string, siteId: string): Promise<void> {
    await this.db.siteCopies.delete([volumeId, siteId]);
  }

  /** Records where a copy stands; a confirmed generation is never lowered by a later write. */
  async putSiteCopy(record: SiteCopyRecord): Promise<void> {
    await this.db.transaction('rw', this.db.siteCopies, async () => {
      const stored = await this.db.siteCopies.get([record.volumeId, record.siteId]);
      if (stored && stored.generation > record.generation) {
        await this.db.siteCopies.put({
          ...record,
          generation: stored.generation,
          receipt: stored.receipt,
        });
      } else {
        await this.db.siteCopies.put(record);
      }
    });
  }

  // ---- chunks ----

  /** Blobs already in the local copy for these chunk IDs (without their bytes' copies). */
  async findChunks(
    volumeId: string,
    chunkIds: readonly string[],
  ): Promise<Map<string, ChunkEntry>> {
    const found = new Map<string, ChunkEntry>();
    if (chunkIds.length === 0) return found;
    const records = await this.db.chunks.bulkGet(chunkIds.map((id) => [volumeId, id]));
    for (const record of records) {
      if (record) {
        found.set(record.chunkId, {
          chunkId: record.chunkId,
          ciphertextSha256: record.ciphertextSha256,
          length: record.length,
          epoch: record.epoch,
        });
      }
    }
    return found;
  }

  /** Every chunk entry of the local copy of a volume, by chunk ID. */
  async chunkEntries(volumeId: string): Promise<Map<string, ChunkEntry>> {
    const found = new Map<string, ChunkEntry>();
    await this.db.chunks
      .where('volumeId')
      .equals(volumeId)
      .each((record) => {
        found.set(record.chunkId, {
          chunkId: record.chunkId,
          ciphertextSha256: record.ciphertextSha256,
          length: record.length,
          epoch: record.epoch,
        });
      });
    return found;
  }

  async chunkBlob(volumeId: string, chunkId: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
    return (await this.db.chunks.get([volumeId, chunkId]))?.blob;
  }

  /** Stores one batch of the pipeline in one transaction (BK-6, BK-7). */
  async saveBatch(batch: ChunkBatch): Promise<void> {
    const { db } = this;
    await db.transaction(
      'rw',
      [db.chunks, db.indexEntries, db.outbox, db.generations],
      async () => {
        if (batch.chunks.length) await db.chunks.bulkPut(batch.chunks as ChunkRecord[]);
        if (batch.indexEntries.length) await db.indexEntries.bulkPut([...batch.indexEntries]);
        if (batch.outbox.length) await db.outbox.bulkPut([...batch.outbox]);
        await this.#mutate([batch.volumeId, batch.generation], (record) => ({
          ...batch.progress,
          bytesConfirmed: Math.max(record.bytesConfirmed, batch.bytesConfirmed),
        }));
      },
    );
  }

  // ---- outbox (RC-2) ----

  /** The outbox of a generation, each entry with the sequence number it was sent under, if any. */
  async outbox(volumeId: string, generation: number): Promise<OutboxRecord[]> {
    const [lower, upper] = generationRange(volumeId, generation);
    const { db } = this;
    return db.transaction('r', db.outbox, db.sequence, async () => {
      const entries = await db.outbox
        .where('[volumeId+generation+order]')
        .between(lower, upper, true, true)
        .toArray();
      const numbers = await db.sequence.bulkGet(
        entries.map((e) => [e.volumeId, e.generation, e.order] as [string, number, number]),
      );
      return entries.map((entry, i) => {
        const seq = numbers[i]?.seq;
        return seq === undefined ? { ...entry, seq: undefined } : { ...entry, seq };
      });
    });
  }

  /** The highest sequence number this generation ever used, 0 if none. */
  async highestSeq(volumeId: string, generation: number): Promise<number> {
    const [lower, upper] = generationRange(volumeId, generation);
    let highest = 0;
    await this.db.sequence
      .where('[volumeId+generation+order]')
      .between(lower, upper, true, true)
      .each((row) => {
        highest = Math.max(highest, row.seq);
      });
    return highest;
  }

  async putOutbox(entries: readonly OutboxRecord[]): Promise<void> {
    await this.db.outbox.bulkPut([...entries]);
  }

  /**
   * Stores the sequence numbers given to outbox entries, before their
   * transfers are sent, so that a resend after a crash uses the same
   * numbers. Only the sequence table is written: numbering never waits for
   * the writer's transactions.
   */
  async assignSeqs(entries: readonly NumberedOutboxRecord[]): Promise<void> {
    await this.db.sequence.bulkPut(
      entries.map(({ volumeId, generation, order, seq }) => ({ volumeId, generation, order, seq })),
    );
  }

  /**
   * Entries the site holds (acknowledged, or already there) leave the
   * outbox, in one transaction. Recording this late is harmless: an entry
   * still listed after a crash is sent again under its own number and the
   * site answers "duplicate".
   */
  async settle(
    entries: readonly SettledEntry[],
    /** Plaintext bytes the site holds, counted after these entries. */
    bytesConfirmed: number,
  ): Promise<void> {
    const first = entries[0];
    if (!first) return;
    const { db } = this;
    const sent = entries.filter((e) => e.sent).length;
    const siteSeqApplied = Math.max(0, ...entries.map((e) => e.siteSeqApplied ?? 0));
    await db.transaction('rw', db.outbox, db.generations, async () => {
      await db.outbox.bulkDelete(entries.map((e) => [e.volumeId, e.generation, e.order]));
      await this.#mutate([first.volumeId, first.generation], (record) => ({
        bytesConfirmed: Math.max(record.bytesConfirmed, bytesConfirmed),
        transfersSent: record.transfersSent + sent,
        chunksSkipped: record.chunksSkipped + (entries.length - sent),
        siteSeqApplied: Math.max(record.siteSeqApplied, siteSeqApplied),
      }));
    });
  }

  /** Empties the outbox and forgets its numbering (the stream is rebuilt). */
  async clearOutbox(volumeId: string, generation: number): Promise<void> {
    const [lower, upper] = generationRange(volumeId, generation);
    const { db } = this;
    await db.transaction('rw', db.outbox, db.sequence, async () => {
      await db.outbox.where('[volumeId+generation+order]').between(lower, upper).delete();
      await db.sequence.where('[volumeId+generation+order]').between(lower, upper).delete();
    });
  }

  // ---- completion (BK-8, BK-10) ----

  async complete(
    generation: GenerationRecord,
    receipt: Receipt,
    statement: ReceiptStatement,
    completedAt: string,
  ): Promise<void> {
    const { db } = this;
    const { volumeId } = generation;
    const stores = [db.generations, db.receipts, db.volumes, db.outbox, db.sequence];
    await db.transaction('rw', stores, async () => {
      const [lower, upper] = generationRange(volumeId, generation.generation);
      // BK-8: sent payloads (the wrapped keys, the commit) are dropped with the outbox.
      await db.outbox.where('[volumeId+generation+order]').between(lower, upper).delete();
      await db.sequence.where('[volumeId+generation+order]').between(lower, upper).delete();
      await this.#mutate([volumeId, generation.generation], () => ({
        state: 'complete',
        completedAt,
        hashState: undefined,
      }));
      const record: ReceiptRecord = {
        volumeId,
        generation: generation.generation,
        userId: generation.userId,
        receipt,
        statement,
        storedAt: completedAt,
      };
      await db.receipts.put(record);
      const volume = await db.volumes.get(volumeId);
      if (volume && volume.latestGeneration < generation.generation) {
        await db.volumes.put({
          ...volume,
          latestGeneration: generation.generation,
          latestManifestHash: statement.manifestHash,
          updatedAt: completedAt,
        });
      }
    });
  }

  receipt(volumeId: string, generation: number): Promise<ReceiptRecord | undefined> {
    return this.db.receipts.get([volumeId, generation]);
  }

  receiptsOf(userId: string): Promise<ReceiptRecord[]> {
    return this.db.receipts.where('userId').equals(userId).toArray();
  }

  /**
   * Deletes a generation's local copy: its record, index, outbox and every
   * blob no other generation of the volume uses. A volume left without any
   * generation is forgotten too.
   *
   * With `keepSent`, blobs the site acknowledged stay: the site keeps the
   * first blob it receives for a chunk ID of a registered volume, so a later
   * backup must reuse exactly that blob rather than encrypt the chunk anew.
   */
  async deleteGeneration(
    volumeId: string,
    generation: number,
    options: { readonly keepSent?: boolean } = {},
  ): Promise<void> {
    const { db } = this;
    await db.transaction(
      'rw',
      [
        db.generations,
        db.indexEntries,
        db.outbox,
        db.sequence,
        db.chunks,
        db.receipts,
        db.volumes,
        db.escrowEnvelopes,
      ],
      async () => {
        const key: GenerationKey = [volumeId, generation];
        await db.escrowEnvelopes
          .where('volumeId')
          .equals(volumeId)
          .filter((e) => e.generation === generation)
          .delete();
        const [lower, upper] = generationRange(volumeId, generation);
        const unsent = new Set<string>();
        await db.outbox
          .where('[volumeId+generation+order]')
          .between(lower, upper)
          .each((entry) => {
            if (entry.kind === 'chunk') unsent.add(entry.chunkId);
          });
        await db.generations.delete(key);
        await db.receipts.delete(key);
        await db.outbox.where('[volumeId+generation+order]').between(lower, upper).delete();
        await db.sequence.where('[volumeId+generation+order]').between(lower, upper).delete();
        await db.indexEntries
          .where('[volumeId+generation+position]')
          .between(lower, upper)
          .delete();
        const stillUsed = new Set<string>();
        await db.indexEntries
          .where('[volumeId+generation+position]')
          .between([volumeId, -Infinity, -Infinity], [volumeId, Infinity, Infinity])
          .each((entry) => {
            stillUsed.add(entry.chunkId);
          });
        const orphans: [string, string][] = [];
        await db.chunks
          .where('volumeId')
          .equals(volumeId)
          .eachPrimaryKey((primaryKey) => {
            const [, chunkId] = primaryKey;
            if (stillUsed.has(chunkId)) return;
            if (options.keepSent && !unsent.has(chunkId)) return;
            orphans.push([volumeId, chunkId]);
          });
        await db.chunks.bulkDelete(orphans);
        const remaining = await db.generations
          .where('[volumeId+generation]')
          .between([volumeId, -Infinity], [volumeId, Infinity])
          .count();
        if (remaining === 0) await db.volumes.delete(volumeId);
      },
    );
  }
}
