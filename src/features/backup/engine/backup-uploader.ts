/**
 * The remote half of the pipeline (BK-6, BK-8, RC-2): drains the outbox into
 * the pair's transfer stream. Each transfer gets the next sequence number
 * when it is first sent (stored before the PUT, so a resend after a crash
 * uses the same number), the epoch-key announcement before any chunk, the
 * commit only after everything else is acknowledged. A chunk that may be at
 * the site already (an older blob, a rebuilt stream) is asked about first
 * (HEAD) and not sent if the site holds it. While the site is unreachable
 * the uploader waits and tries again; the local copy goes on growing
 * meanwhile.
 */

import { ApiError } from '@/shared/api/request';
import type { TransferReceived } from '@/shared/api/transfers';
import { sha256Hex } from '@/core/crypto';
import { encodeTransfer, type TransferHeader } from '@/core/transfer/frame';
import {
  isNumbered,
  type NumberedOutboxRecord,
  type OutboxRecord,
} from '@/shared/storage/database';
import type { LocalCopy, SettledEntry } from '@/shared/storage/local-copy';
import type { ChunkLedger } from '@/features/backup/worker/chunk-ledger';
import {
  COMMIT_RECHECK,
  RECONNECT,
  UPLOAD_HANDOVER_CHUNKS,
  UPLOAD_PARALLELISM,
} from '@/features/backup/engine/backup-tuning';
import type { RunControl } from './backup-control';
import type { BlobHandover } from './backup-encoder';
import { BackupError, isSiteUnreachable } from './backup-errors';
import type { BackupSite } from './backup-site';

/** The site no longer knows the pair this stream was numbered for: claim again. */
export class ClaimLostError extends Error {
  constructor(readonly refusal: ApiError) {
    super(`The site refused a transfer of this backup's claim: ${refusal.message}`);
    this.name = 'ClaimLostError';
  }
}

/**
 * The site refused the commit because chunks or epoch keys it had received
 * are gone (a claim that outlived its time-to-live is collected, BK-8): the
 * stream is rebuilt from the local copy and the commit sent again.
 */
export class StreamLostError extends Error {
  constructor(readonly refusal: ApiError) {
    super(`The site lost part of this backup's transfers: ${refusal.message}`);
    this.name = 'StreamLostError';
  }
}

/** Site codes meaning "claim the volume again": the pair is gone, or the site took it over (RC-3 SSWS). */
const CLAIM_LOST_CODES = new Set(['pair_not_found', 'pair_taken_over']);

/** Site codes of a commit refused for lack of what was sent earlier. */
const STREAM_LOST_CODES = new Set(['chunks_missing', 'keys_missing']);

export interface UploaderParams {
  readonly volumeId: string;
  readonly generation: number;
  readonly chunkSize: number;
  readonly site: BackupSite;
  readonly localCopy: LocalCopy;
  readonly ledger: ChunkLedger;
  readonly control: RunControl;
  readonly pairId: string;
  readonly nextSeq: number;
  /** The site became unreachable (false) or answered again (true). */
  readonly onReachability: (reachable: boolean) => void;
  /** An outbox entry was settled (sent or found at the site). */
  readonly onSettled: (entry: OutboxRecord, sent: boolean) => void;
}

type Pick = OutboxRecord | 'wait' | 'done';

export class Uploader {
  readonly #p: UploaderParams;
  #pairId: string;
  #nextSeq: number;
  #pending: OutboxRecord[] = [];
  #inFlight = new Set<number>();
  #blobs = new Map<string, BlobHandover>();
  /** Numbers handed out and waiting to be stored, and the storing under way. */
  #numbering: {
    entry: NumberedOutboxRecord;
    resolve: (entry: NumberedOutboxRecord) => void;
    reject: (error: unknown) => void;
  }[] = [];
  #storingNumbers: Promise<void> | undefined;
  #wakers: (() => void)[] = [];
  #failure: unknown;
  #receipt: TransferReceived | undefined;
  #reachable = true;
  /** Settled entries not yet recorded in IndexedDB, and the recording under way. */
  #settled: SettledEntry[] = [];
  #recording: Promise<void> | undefined;
  /** Entries handed over while the outbox is being reconciled, added afterwards. */
  #intake: OutboxRecord[] | null = null;
  /** RC-5: while suspended, the send orders that may still go (written before the suspension). */
  #cut: Set<number> | null = null;
  #cutReached: (() => void)[] = [];
  /** Highest sequence number the site acknowledged in this run. */
  #highestAcknowledged = 0;

  constructor(params: UploaderParams) {
    this.#p = params;
    this.#pairId = params.pairId;
    this.#nextSeq = params.nextSeq;
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Highest sequence number handed out so far. */
  get seqSent(): number {
    return this.#nextSeq - 1;
  }

  get suspended(): boolean {
    return this.#cut !== null;
  }

  /**
   * RC-5: with `drain`, sends what is waiting now and nothing added after;
   * without, sends nothing more. Resolves, once what may go has been
   * acknowledged, with the highest sequence number acknowledged in this run.
   */
  suspend(options: { drain: boolean }): Promise<number> {
    const allowed = options.drain
      ? [...this.#pending.map((e) => e.order), ...this.#inFlight]
      : [...this.#inFlight];
    this.#cut = new Set(allowed);
    const reached = new Promise<number>((resolve) => {
      this.#cutReached.push(() => resolve(this.#highestAcknowledged));
    });
    this.#checkCut();
    this.#wake();
    return reached;
  }

  /** Sends everything again after a suspension. */
  resume(): void {
    this.#cut = null;
    this.#wake();
  }

  #checkCut(): void {
    const cut = this.#cut;
    if (!cut || this.#cutReached.length === 0) return;
    const waiting = this.#pending.some((e) => cut.has(e.order)) || this.#inFlight.size > 0;
    if (!waiting) for (const reached of this.#cutReached.splice(0)) reached();
  }

  /** A new claim after the old one was lost: new pair, new numbering. */
  renumber(pairId: string, nextSeq: number): void {
    this.#pairId = pairId;
    this.#nextSeq = nextSeq;
    this.#failure = undefined;
  }

  /** Replaces what is waiting (resume, or after a rebuild of the outbox). */
  load(entries: readonly OutboxRecord[]): void {
    this.#pending = [];
    this.#add(entries);
    this.#wake();
  }

  /** Holds new entries back while the outbox is reconciled with the site. */
  holdIntake(): void {
    this.#intake ??= [];
  }

  /** Replaces what is waiting with `entries`, then adds what arrived meanwhile. */
  reload(entries: readonly OutboxRecord[]): void {
    const arrived = this.#intake ?? [];
    this.#intake = null;
    this.#pending = [];
    this.#add([...entries, ...arrived]);
    this.#wake();
  }

  /**
   * Adds stored outbox entries. The blob of a new chunk may come along; the
   * uploader keeps a few so it need not read them back. Returns whether it
   * kept the blob (then it returns the blob's permit itself).
   */
  enqueue(entries: readonly OutboxRecord[], handover?: BlobHandover): boolean {
    if (this.#intake) {
      this.#intake.push(...entries);
      return false;
    }
    this.#add(entries);
    let kept = false;
    if (handover && this.#blobs.size < UPLOAD_HANDOVER_CHUNKS) {
      this.#blobs.set(handover.chunkId, handover);
      kept = true;
    }
    this.#wake();
    return kept;
  }

  /** Sends until the commit is acknowledged with a receipt; returns that answer. */
  async run(): Promise<TransferReceived> {
    this.#failure = undefined;
    const slots = Array.from({ length: UPLOAD_PARALLELISM }, () => this.#slot());
    const results = await Promise.allSettled(slots);
    await this.#storingNumbers?.catch(() => undefined);
    await this.#recorded().catch(() => undefined);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw this.#failure ?? (failed as PromiseRejectedResult).reason;
    if (!this.#receipt) throw this.#failure ?? new Error('The uploader stopped before the commit.');
    return this.#receipt;
  }

  /** Gives back every blob permit it holds (when the run ends). */
  dispose(): void {
    for (const handover of this.#blobs.values()) handover.release();
    this.#blobs.clear();
    this.#wake();
  }

  /** Adds entries not already waiting (an entry is known by its send order). */
  #add(entries: readonly OutboxRecord[]): void {
    const waiting = new Set(this.#pending.map((e) => e.order));
    for (const entry of entries) {
      if (!waiting.has(entry.order)) {
        this.#pending.push(entry);
        waiting.add(entry.order);
      }
    }
    this.#sort();
  }

  #sort(): void {
    // Entries already numbered go first, in their order; then by send order.
    this.#pending.sort((a, b) => {
      if (a.seq !== undefined || b.seq !== undefined) {
        return (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER);
      }
      return a.order - b.order;
    });
  }

  #wake(): void {
    this.#checkCut();
    for (const wake of this.#wakers.splice(0)) wake();
  }

  #waitForChange(): Promise<void> {
    return new Promise((resolve) => {
      const { signal } = this.#p.control;
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#wakers.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #pick(): Pick {
    if (this.#failure !== undefined || this.#receipt) return 'done';
    const cut = this.#cut;
    const allowed = (entry: OutboxRecord): boolean => !cut || cut.has(entry.order);
    const epochKey = this.#pending.find(
      (e) => e.kind === 'epoch-key' && e.seq === undefined && allowed(e),
    );
    if (epochKey) return this.#inFlight.has(epochKey.order) ? 'wait' : epochKey;
    for (const entry of this.#pending) {
      if (this.#inFlight.has(entry.order) || !allowed(entry)) continue;
      if (entry.kind === 'commit') {
        // BK-8: the commit goes last, after every other transfer is acknowledged.
        const alone = this.#pending.length === 1 && this.#inFlight.size === 0;
        return alone ? entry : 'wait';
      }
      return entry;
    }
    return 'wait';
  }

  async #slot(): Promise<void> {
    for (;;) {
      await this.#p.control.gate();
      const entry = this.#pick();
      if (entry === 'done') return;
      if (entry === 'wait') {
        await this.#waitForChange();
        continue;
      }
      this.#inFlight.add(entry.order);
      try {
        await this.#send(entry);
      } catch (error) {
        if (this.#failure === undefined) this.#failure = error;
        this.#wake();
        throw error;
      } finally {
        this.#inFlight.delete(entry.order);
        this.#wake();
      }
    }
  }

  async #send(waiting: OutboxRecord): Promise<void> {
    const { volumeId } = this.#p;
    if (waiting.kind === 'chunk' && waiting.seq === undefined && waiting.probe) {
      const { chunkId } = waiting;
      const stored = await this.#withSite(() =>
        this.#p.site.headChunk(volumeId, chunkId, this.#p.control.signal),
      );
      // BK-6: skip a chunk the site holds — the same blob, when the site says which.
      if (
        stored.present &&
        (stored.ciphertextSha256 === undefined ||
          stored.ciphertextSha256 === waiting.ciphertextSha256)
      ) {
        this.#settle(waiting, false);
        return;
      }
    }
    const payload = await this.#payloadOf(waiting);
    let entry: NumberedOutboxRecord;
    if (isNumbered(waiting)) {
      entry = waiting;
    } else {
      entry = await this.#assignSeq(waiting);
      this.#wake();
    }
    const body = encodeTransfer(headerOf(entry, volumeId), payload.bytes, this.#p.chunkSize);
    payload.release();
    const bodySha256 = await sha256Hex(body);
    const { seq } = entry;
    let answer = await this.#put(entry, body, bodySha256);
    if (entry.kind === 'commit') {
      // A commit applied answers with the receipt; one buffered behind a gap
      // is sent again until the gap fills and the site answers "duplicate".
      for (let attempt = 1; !answer.receipt; attempt++) {
        if (attempt > COMMIT_RECHECK.attempts) {
          throw new BackupError(
            'commit_stuck',
            'The site did not apply the commit of this backup.',
            { seq },
          );
        }
        await this.#p.control.sleep(COMMIT_RECHECK.delayMs);
        answer = await this.#put(entry, body, bodySha256);
      }
      this.#receipt = answer;
    }
    this.#settle(entry, true, answer.seqApplied);
  }

  async #put(
    entry: NumberedOutboxRecord,
    body: Uint8Array<ArrayBuffer>,
    sha: string,
  ): Promise<TransferReceived> {
    try {
      return await this.#withSite(() =>
        this.#p.site.putTransfer(this.#pairId, entry.seq, body, sha, this.#p.control.signal),
      );
    } catch (error) {
      if (error instanceof ApiError && CLAIM_LOST_CODES.has(error.code)) {
        throw new ClaimLostError(error);
      }
      if (
        error instanceof ApiError &&
        entry.kind === 'commit' &&
        STREAM_LOST_CODES.has(error.code)
      ) {
        throw new StreamLostError(error);
      }
      throw error;
    }
  }

  async #payloadOf(
    entry: OutboxRecord,
  ): Promise<{ bytes: Uint8Array<ArrayBuffer>; release: () => void }> {
    if (entry.kind !== 'chunk') {
      return { bytes: entry.payload, release: () => undefined };
    }
    const { chunkId } = entry;
    const held = this.#blobs.get(chunkId);
    if (held) {
      this.#blobs.delete(chunkId);
      return { bytes: held.blob, release: held.release };
    }
    const blob = await this.#p.localCopy.chunkBlob(this.#p.volumeId, chunkId);
    if (!blob) {
      throw new BackupError(
        'unexpected',
        `Chunk ${chunkId} is missing from the local copy, so it cannot be sent.`,
        { message: `chunk ${chunkId.slice(0, 16)}… is missing from the local copy` },
      );
    }
    return { bytes: blob, release: () => undefined };
  }

  /**
   * Hands out the next number at once and resolves once it is stored.
   * Numbers handed out meanwhile are stored together, in the order given, so
   * a stored number always has every lower one stored too (no gap can reach
   * the site after a crash).
   */
  #assignSeq(entry: OutboxRecord): Promise<NumberedOutboxRecord> {
    const numbered: NumberedOutboxRecord = { ...entry, seq: this.#nextSeq++ };
    const index = this.#pending.findIndex((e) => e.order === entry.order);
    if (index >= 0) this.#pending[index] = numbered;
    return new Promise((resolve, reject) => {
      this.#numbering.push({ entry: numbered, resolve, reject });
      this.#storingNumbers ??= this.#storeNumbers().finally(() => {
        this.#storingNumbers = undefined;
      });
    });
  }

  async #storeNumbers(): Promise<void> {
    while (this.#numbering.length) {
      const batch = this.#numbering.splice(0);
      try {
        await this.#p.localCopy.assignSeqs(batch.map((waiting) => waiting.entry));
        for (const waiting of batch) waiting.resolve(waiting.entry);
      } catch (error) {
        for (const waiting of batch) waiting.reject(error);
      }
    }
  }

  /**
   * Settles an entry at once in memory and records it in IndexedDB with the
   * others settled meanwhile, one transaction at a time (fewer transactions
   * competing with the writer's; see LocalCopy.settle for why late is safe).
   */
  #settle(entry: OutboxRecord, sent: boolean, siteSeqApplied?: number): void {
    if (entry.kind === 'chunk') this.#p.ledger.settle(entry.chunkId);
    if (sent && entry.seq !== undefined) {
      this.#highestAcknowledged = Math.max(this.#highestAcknowledged, entry.seq);
    }
    this.#pending = this.#pending.filter((e) => e.order !== entry.order);
    this.#settled.push({
      ...entry,
      sent,
      ...(siteSeqApplied === undefined ? {} : { siteSeqApplied }),
    });
    this.#p.onSettled(entry, sent);
    this.#recording ??= this.#record().finally(() => {
      this.#recording = undefined;
    });
  }

  async #record(): Promise<void> {
    try {
      while (this.#settled.length) {
        const batch = this.#settled.splice(0);
        await this.#p.localCopy.settle(batch, this.#p.ledger.bytesConfirmed);
      }
    } catch (error) {
      if (this.#failure === undefined) this.#failure = error;
      this.#wake();
    }
  }

  /** Waits until every settled entry is recorded. */
  async #recorded(): Promise<void> {
    while (this.#recording) await this.#recording;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Calls the site, waiting with back-off for as long as it is unreachable (BK-7). */
  async #withSite<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.#p.control.gate();
      if (this.#failure !== undefined) throw this.#failure;
      try {
        const result = await call();
        this.#setReachable(true);
        return result;
      } catch (error) {
        if (this.#p.control.stopped) throw this.#p.control.signal.reason;
        if (!isSiteUnreachable(error)) throw error;
        this.#setReachable(false);
        await this.#p.control.sleep(
          Math.min(RECONNECT.baseDelayMs * 2 ** attempt, RECONNECT.maxDelayMs),
        );
      }
    }
  }

  #setReachable(reachable: boolean): void {
    if (reachable === this.#reachable) return;
    this.#reachable = reachable;
    this.#p.onReachability(reachable);
  }
}

function headerOf(entry: OutboxRecord, volumeId: string): TransferHeader {
  switch (entry.kind) {
    case 'chunk':
      return { kind: 'chunk', volumeId, chunkId: entry.chunkId };
    case 'epoch-key':
      return { kind: 'epoch-key', volumeId, epoch: entry.epoch };
    case 'commit':
      return { kind: 'commit', volumeId };
  }
}
