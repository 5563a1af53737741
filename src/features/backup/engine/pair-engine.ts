/**
 * The primary side of remote copy (RC-1..RC-5) while the operator's console
 * is open: every pair of the operator gets a heartbeat on a steady interval
 * (and at once after a backup writes or the site acknowledges), carrying the
 * backlog of the local outbox; the answer's instructions (suspend, resume,
 * rekey, flush) are carried out and acknowledged. The primary's own view of
 * each pair follows (RC-3): `PSUE` when the site has not answered for longer
 * than a threshold or refused a transfer, back by itself when the cause is
 * gone; `PSUS` while suspended. No Vue here: the store wraps it.
 */

import type { HeartbeatRequest, Instruction, PairState, PairSummary } from '@/core/contract';
import type { PairLink, PairStream } from './pair-link';

/** What the local copy holds for a pair and has not yet had acknowledged (RC-2). */
export interface PairBacklog {
  readonly pending: number;
  readonly pendingBytes: number;
  readonly oldestPendingAt: string | null;
  /** Highest sequence number this browser gave a transfer of the volume (0 if none). */
  readonly seqSent: number;
  /** Epoch of the newest data key this browser made for the volume, if any. */
  readonly epoch: number | null;
}

export interface PairEngineApi {
  myPairs(): Promise<PairSummary[]>;
  heartbeat(pairId: string, beat: HeartbeatRequest): Promise<Instruction[]>;
  acknowledge(
    pairId: string,
    instructionId: string,
    facts: { cutSeq?: number; epoch?: number },
  ): Promise<PairSummary>;
}

export interface PairEngineDeps {
  readonly api: PairEngineApi;
  /** The backlog, or null when this browser holds no copy of the volume (it is not the primary). */
  readonly backlog: (volumeId: string) => Promise<PairBacklog | null>;
  /**
   * RC-4 "rekey now" for a pair no backup is writing: announces a new epoch,
   * resolves with it. Null for a copy whose site holds no keys (MS-3): the
   * keys rotate with the home site's pair, and the instruction is
   * acknowledged with no epoch.
   */
  readonly rekeyIdle: ((pair: PairSummary) => Promise<number>) | null;
  /**
   * RC-2: sends the outbox of a backup interrupted after its image was
   * stored (a reload while the site was away); resolves when it is done.
   */
  readonly drainIdle?: (volumeId: string) => Promise<void>;
  /** Whether an error means the site is out of reach (rather than refusing). */
  readonly isUnreachable: (error: unknown) => boolean;
  readonly now: () => number;
  readonly intervalMs: number;
  /** RC-3: the site unanswered this long makes every pair PSUE. */
  readonly unreachableAfterMs: number;
  readonly onChange: (views: readonly PrimaryPairView[]) => void;
}

/** One pair as the operator's console shows it (RC-7, backup side). */
export interface PrimaryPairView {
  readonly pairId: string;
  readonly volumeId: string;
  /** This browser's view (RC-3), shown verbatim. */
  readonly state: PairState;
  /** Why the pair is PSUE, if it is, as the site is told. */
  readonly reason: string | null;
  /** The same, for the screen to say in the reader's language. */
  readonly cause: PsueCause | null;
  /** The site's view as last heard. */
  readonly siteState: PairState;
  readonly seqSent: number;
  readonly seqAcknowledged: number;
  readonly seqApplied: number;
  readonly cutSeq: number | null;
  readonly pending: number;
  readonly pendingBytes: number;
  readonly epochPrimary: number | null;
  readonly epochSecondary: number | null;
  /** Last time the site answered for this pair (ms since the epoch). */
  readonly lastContactAt: number | null;
  /** Instructions heard and not yet carried out. */
  readonly instructions: readonly Instruction[];
}

/** RC-3: why this browser holds a pair in PSUE. */
export type PsueCause =
  | { readonly kind: 'unreachable'; readonly seconds: number }
  | { readonly kind: 'rejected'; readonly message: string };

interface PairMemory {
  summary: PairSummary;
  backlog: PairBacklog;
  /** Whether this browser holds the volume's primary copy; only the primary beats and obeys. */
  primaryHere: boolean;
  suspended: boolean;
  cutSeq: number | null;
  /** The site's message for a refused transfer, while the pair is PSUE for it. */
  rejected: string | null;
  /** An error episode the site has not heard about yet (it happened while it was away). */
  episode: string | null;
  rekeyedEpoch: number | null;
  lastContactAt: number | null;
}

/** Longest reason a heartbeat may carry (heartbeatRequestSchema). */
const MAX_REASON = 500;

/** After a failed drain, the next try waits this long. */
const DRAIN_RETRY_MS = 60_000;

const EMPTY_BACKLOG: PairBacklog = {
  pending: 0,
  pendingBytes: 0,
  oldestPendingAt: null,
  seqSent: 0,
  epoch: null,
};

export class PairEngine implements PairLink {
  readonly #deps: PairEngineDeps;
  readonly #pairs = new Map<string, PairMemory>();
  readonly #streams = new Map<string, PairStream>();
  /** Instructions being carried out, by ID: each once, however often it is delivered. */
  readonly #carrying = new Set<string>();
  #unreachableSince: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #ticking: Promise<void> | undefined;
  #again = false;
  /** Volumes whose outbox is being drained without a backup, and when a drain last failed. */
  readonly #draining = new Set<string>();
  readonly #drainFailedAt = new Map<string, number>();

  constructor(deps: PairEngineDeps) {
    this.#deps = deps;
  }

  get views(): PrimaryPairView[] {
    return [...this.#pairs.values()].map((memory) => this.#view(memory));
  }

  /** Starts the heartbeat: one at once, then every interval. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.beatNow();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** One round now (after a backup, a flush); rounds never overlap, a request meanwhile runs after. */
  beatNow(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    if (this.#ticking) {
      this.#again = true;
      return this.#ticking;
    }
    this.#ticking = (async () => {
      do {
        this.#again = false;
        await this.#round();
      } while (this.#again && this.#running);
    })().finally(() => {
      this.#ticking = undefined;
      this.#schedule();
    });
    return this.#ticking;
  }

  // ---- PairLink: what a running backup tells the engine ----

  attach(stream: PairStream): () => void {
    this.#streams.set(stream.volumeId, stream);
    const memory = this.#memoryOf(stream.volumeId);
    // RC-5: a pair suspended before this run started sends nothing past its cut.
    if (memory?.suspended) void stream.suspend({ drain: false });
    return () => {
      if (this.#streams.get(stream.volumeId) === stream) this.#streams.delete(stream.volumeId);
      void this.beatNow();
    };
  }

  reachability(volumeId: string, reachable: boolean): void {
    if (reachable) {
      this.#reached();
      const memory = this.#memoryOf(volumeId);
      if (memory) memory.lastContactAt = this.#deps.now();
    } else {
      this.#unreached();
    }
    this.#emit();
  }

  rejected(volumeId: string, message: string): void {
    const memory = this.#memoryOf(volumeId);
    if (memory) memory.rejected = message;
    this.#emit();
    void this.beatNow();
  }

  changed(volumeId: string): void {
    const memory = this.#memoryOf(volumeId);
    if (memory?.rejected) memory.rejected = null;
    void this.beatNow();
  }

  // ---- the round ----

  #schedule(): void {
    clearTimeout(this.#timer);
    if (!this.#running) return;
    this.#timer = setTimeout(() => void this.beatNow(), this.#deps.intervalMs);
  }

  async #round(): Promise<void> {
    let summaries: PairSummary[];
    try {
      summaries = await this.#deps.api.myPairs();
    } catch (error) {
      if (this.#deps.isUnreachable(error)) this.#unreached();
      this.#emit();
      return;
    }
    this.#reached();
    const seen = new Set<string>();
    for (const summary of summaries) {
      seen.add(summary.pairId);
      const known = this.#pairs.get(summary.pairId);
      if (known) known.summary = summary;
      else {
        const memory = fresh(summary);
        this.#pairs.set(summary.pairId, memory);
        // RC-5: a backup that started before this console heard of the suspension stops too.
        if (memory.suspended) void this.#streams.get(summary.volumeId)?.suspend({ drain: false });
      }
    }
    for (const pairId of [...this.#pairs.keys()]) if (!seen.has(pairId)) this.#pairs.delete(pairId);
    for (const memory of this.#pairs.values()) {
      try {
        await this.#beat(memory);
        this.#drainIfIdle(memory);
      } catch (error) {
        if (!this.#deps.isUnreachable(error)) continue;
        this.#unreached();
        break;
      }
    }
    this.#emit();
  }

  async #beat(memory: PairMemory): Promise<void> {
    const { summary } = memory;
    const backlog = await this.#deps.backlog(summary.volumeId).catch(() => EMPTY_BACKLOG);
    memory.primaryHere = backlog !== null || this.#streams.has(summary.volumeId);
    memory.backlog = backlog ?? EMPTY_BACKLOG;
    // RC-1: another browser of the operator is this pair's primary; it speaks for it.
    if (!memory.primaryHere) return;
    if (memory.episode) {
      // The site was away while the pair was PSUE: tell it, so the episode is in its history.
      await this.#deps.api.heartbeat(summary.pairId, {
        ...this.#beatOf(memory),
        state: 'PSUE',
        reason: memory.episode.slice(0, MAX_REASON),
      });
      memory.episode = null;
    }
    const instructions = await this.#deps.api.heartbeat(summary.pairId, this.#beatOf(memory));
    memory.lastContactAt = this.#deps.now();
    for (const instruction of instructions) {
      if (instruction.state === 'acknowledged' || this.#carrying.has(instruction.id)) continue;
      this.#carrying.add(instruction.id);
      void this.#carryOut(memory, instruction);
    }
  }

  /** A backlog no backup is sending: drain it now the site answers (at most once a minute after a failure). */
  #drainIfIdle(memory: PairMemory): void {
    const { volumeId } = memory.summary;
    const failedAt = this.#drainFailedAt.get(volumeId);
    if (
      !this.#deps.drainIdle ||
      memory.backlog.pending === 0 ||
      memory.suspended ||
      this.#streams.has(volumeId) ||
      this.#draining.has(volumeId) ||
      (failedAt !== undefined && this.#deps.now() - failedAt < DRAIN_RETRY_MS)
    ) {
      return;
    }
    this.#draining.add(volumeId);
    this.#deps
      .drainIdle(volumeId)
      .then(
        () => this.#drainFailedAt.delete(volumeId),
        () => this.#drainFailedAt.set(volumeId, this.#deps.now()),
      )
      .finally(() => {
        this.#draining.delete(volumeId);
        void this.beatNow();
      });
  }

  #beatOf(memory: PairMemory): HeartbeatRequest {
    const view = this.#view(memory);
    const stream = this.#streams.get(memory.summary.volumeId)?.status();
    return {
      state: view.state,
      // The site keeps at most 500 characters of a reason; a site's refusal may say more.
      reason: view.state === 'PSUE' ? (view.reason?.slice(0, MAX_REASON) ?? null) : null,
      seqSent: view.seqSent,
      pending: memory.backlog.pending,
      pendingBytes: memory.backlog.pendingBytes,
      oldestPendingAt: memory.backlog.oldestPendingAt,
      epoch: view.epochPrimary,
      nextRotationAt: stream?.nextRotationAt ?? null,
      bytesPerSecond: stream?.bytesPerSecond ?? null,
    };
  }

  /** RC-3, RC-5: carries an instruction out and acknowledges it; on failure it is tried again when next delivered. */
  async #carryOut(memory: PairMemory, instruction: Instruction): Promise<void> {
    const { pairId, volumeId } = memory.summary;
    let done = true;
    try {
      const facts: { cutSeq?: number; epoch?: number } = {};
      const stream = this.#streams.get(volumeId);
      switch (instruction.action) {
        case 'suspend': {
          const drained = stream ? await stream.suspend({ drain: true }) : 0;
          memory.suspended = true;
          memory.cutSeq = Math.max(drained, memory.summary.seqApplied);
          facts.cutSeq = memory.cutSeq;
          break;
        }
        case 'resume':
          memory.suspended = false;
          memory.cutSeq = null;
          stream?.resume();
          break;
        case 'rekey': {
          const { rekeyIdle } = this.#deps;
          if (rekeyIdle === null) break;
          const epoch = stream ? await stream.rekey() : await rekeyIdle(memory.summary);
          if (epoch === null) {
            // The running backup has nothing left to encrypt: rekey once it ends.
            done = false;
            break;
          }
          memory.rekeyedEpoch = Math.max(epoch, memory.rekeyedEpoch ?? epoch);
          facts.epoch = epoch;
          break;
        }
        case 'flush':
        case 'takeover':
          break;
      }
      if (done) {
        memory.summary = await this.#deps.api.acknowledge(pairId, instruction.id, facts);
      }
    } catch (error) {
      if (this.#deps.isUnreachable(error)) this.#unreached();
      done = false;
    } finally {
      if (!done) this.#carrying.delete(instruction.id);
      this.#emit();
    }
    if (done) void this.beatNow();
  }

  // ---- state ----

  #reached(): void {
    if (this.#unreachableSince !== null && this.#overThreshold()) {
      const reason = this.#unreachableReason();
      for (const memory of this.#pairs.values()) memory.episode = reason;
    }
    this.#unreachableSince = null;
  }

  #unreached(): void {
    this.#unreachableSince ??= this.#deps.now();
  }

  #overThreshold(): boolean {
    return (
      this.#unreachableSince !== null &&
      this.#deps.now() - this.#unreachableSince >= this.#deps.unreachableAfterMs
    );
  }

  #unreachableSeconds(): number {
    return Math.round((this.#deps.now() - (this.#unreachableSince ?? 0)) / 1000);
  }

  #unreachableReason(): string {
    return `the site could not be reached for ${this.#unreachableSeconds()} s`;
  }

  #view(memory: PairMemory): PrimaryPairView {
    const { summary, backlog } = memory;
    let state: PairState;
    let reason: string | null = null;
    let cause: PsueCause | null = null;
    if (summary.state === 'SSWS' || !memory.primaryHere) state = summary.state;
    else if (this.#overThreshold()) {
      state = 'PSUE';
      reason = this.#unreachableReason();
      cause = { kind: 'unreachable', seconds: this.#unreachableSeconds() };
    } else if (memory.rejected) {
      state = 'PSUE';
      reason = `transfer rejected: ${memory.rejected}`;
      cause = { kind: 'rejected', message: memory.rejected };
    } else if (memory.suspended) {
      state = 'PSUS';
    } else state = summary.state === 'COPY' ? 'COPY' : 'PAIR';
    const stream = this.#streams.get(summary.volumeId)?.status();
    const epochs = [backlog.epoch, memory.rekeyedEpoch, stream?.epoch ?? null].filter(
      (e): e is number => e !== null,
    );
    return {
      pairId: summary.pairId,
      volumeId: summary.volumeId,
      state,
      reason,
      cause,
      siteState: summary.state,
      seqSent: Math.max(backlog.seqSent, stream?.seqSent ?? 0, summary.seqAcknowledged),
      seqAcknowledged: summary.seqAcknowledged,
      seqApplied: summary.seqApplied,
      cutSeq: state === 'PSUS' ? (memory.cutSeq ?? summary.cutSeq) : null,
      pending: backlog.pending,
      pendingBytes: backlog.pendingBytes,
      epochPrimary: epochs.length ? Math.max(...epochs) : summary.epochPrimary,
      epochSecondary: summary.epochSecondary,
      lastContactAt: memory.lastContactAt,
      instructions: summary.instructions.filter((i) => i.state !== 'acknowledged'),
    };
  }

  #memoryOf(volumeId: string): PairMemory | undefined {
    for (const memory of this.#pairs.values()) {
      if (memory.summary.volumeId === volumeId) return memory;
    }
    return undefined;
  }

  #emit(): void {
    this.#deps.onChange(this.views);
  }
}

function fresh(summary: PairSummary): PairMemory {
  return {
    summary,
    backlog: EMPTY_BACKLOG,
    primaryHere: true,
    suspended: summary.state === 'PSUS',
    cutSeq: summary.state === 'PSUS' ? summary.cutSeq : null,
    rejected: null,
    episode: null,
    rekeyedEpoch: null,
    lastContactAt: null,
  };
}
