/**
 * Which chunks of a volume exist where, during one backup (BK-6): held by
 * the site already (an earlier generation, or acknowledged in this one),
 * waiting in the outbox, or only in the local copy. It decides what a chunk
 * position costs — nothing, a reference to a blob already made, or a new
 * blob and transfer — and counts the plaintext bytes the site holds, which
 * is what the progress bar shows.
 */

import type { ChunkEntry } from '@/core/crypto';

export type PositionOutcome =
  /** The site holds this chunk: nothing to store or send. */
  | 'at-site'
  /** A transfer of this chunk is already waiting. */
  | 'pending'
  /** The local copy has the blob but the site may not: queue a transfer of it. */
  | 'queue-local'
  /** A chunk never seen: store its new blob and queue a transfer. */
  | 'new';

export class ChunkLedger {
  readonly #entries = new Map<string, ChunkEntry>();
  readonly #atSite = new Set<string>();
  /** Chunk ID → plaintext bytes of the positions waiting for it. */
  readonly #pending = new Map<string, number>();
  #bytesConfirmed = 0;

  /** Chunks the site is known to hold (the previous generation's index). */
  addAtSite(entries: Iterable<ChunkEntry>): void {
    for (const entry of entries) {
      this.#entries.set(entry.chunkId, entry);
      this.#atSite.add(entry.chunkId);
    }
  }

  /** Blobs in the local copy whose epoch key the site holds (reusable without encrypting). */
  addLocal(entries: Iterable<ChunkEntry>): void {
    for (const entry of entries) {
      if (!this.#entries.has(entry.chunkId)) this.#entries.set(entry.chunkId, entry);
    }
  }

  /** On resume: a chunk whose transfer is still in the outbox. */
  markPending(chunkId: string): void {
    if (!this.#pending.has(chunkId)) this.#pending.set(chunkId, 0);
  }

  /** Every chunk ID whose blob already exists (the workers skip encrypting these). */
  knownChunkIds(): string[] {
    return [...this.#entries.keys()];
  }

  entry(chunkId: string): ChunkEntry | undefined {
    return this.#entries.get(chunkId);
  }

  get bytesConfirmed(): number {
    return this.#bytesConfirmed;
  }

  get pendingChunks(): number {
    return this.#pending.size;
  }

  /**
   * Accounts for one position of the image holding `chunkId`. `sealed` is
   * the fresh entry when the chunk was just encrypted, used only if no blob
   * of that chunk exists yet (two positions with equal content share one).
   */
  place(chunkId: string, length: number, sealed?: ChunkEntry): PositionOutcome {
    if (this.#atSite.has(chunkId)) {
      this.#bytesConfirmed += length;
      return 'at-site';
    }
    const waiting = this.#pending.get(chunkId);
    if (waiting !== undefined) {
      this.#pending.set(chunkId, waiting + length);
      return 'pending';
    }
    this.#pending.set(chunkId, length);
    if (this.#entries.has(chunkId)) return 'queue-local';
    if (!sealed) throw new Error(`Chunk ${chunkId} was neither sealed nor known.`);
    this.#entries.set(chunkId, sealed);
    return 'new';
  }

  /** The site now holds the chunk (acknowledged, or it already had it). */
  settle(chunkId: string): void {
    const waiting = this.#pending.get(chunkId);
    if (waiting === undefined) return;
    this.#pending.delete(chunkId);
    this.#atSite.add(chunkId);
    this.#bytesConfirmed += waiting;
  }

  /**
   * The site lost a chunk it had acknowledged (its state went back): the
   * chunk waits for a transfer again, with the bytes of its positions.
   */
  requeue(chunkId: string, bytes: number): void {
    if (this.#atSite.delete(chunkId)) this.#bytesConfirmed -= bytes;
    if (!this.#pending.has(chunkId)) this.#pending.set(chunkId, bytes);
  }

  /** On resume: bytes of stored positions whose chunks the site already holds. */
  restoreConfirmed(stored: Iterable<{ chunkId: string; length: number }>): void {
    for (const { chunkId, length } of stored) {
      const waiting = this.#pending.get(chunkId);
      if (waiting !== undefined) {
        this.#pending.set(chunkId, waiting + length);
      } else {
        this.#atSite.add(chunkId);
        this.#bytesConfirmed += length;
      }
    }
  }
}
