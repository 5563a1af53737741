import type {
  Instruction,
  PairAction,
  PairDetail,
  PairState,
  PairSummary,
  ServerEvent,
} from '@/core/contract';
import { EscrowRefusal } from './escrow-refusal';

interface DemoPairEntry {
  summary: PairSummary;
  history: PairDetail['history'];
  epochs: PairDetail['epochs'];
  samples: PairDetail['samples'];
}

export interface DemoPairsHost {
  readonly siteId: string;
  publish(event: ServerEvent): void;
}

function groupOf(
  pair: Pick<PairSummary, 'state' | 'pendingChunks' | 'seqAcknowledged' | 'seqApplied'>,
) {
  if (pair.state === 'PSUE') return 'error' as const;
  const syncing =
    pair.pendingChunks > 0 || pair.seqAcknowledged > pair.seqApplied || pair.state === 'COPY';
  return syncing ? ('syncing' as const) : ('in_step' as const);
}

/**
 * Remote-copy pairs of the demo site (RC-1..RC-7) as the secondary sees them:
 * administrators' instructions wait as "requested" until the primary
 * acknowledges them; suspend records the cut (RC-5), take-over is at once.
 * Every change is published as a `pair` event, as the site does.
 */
export class DemoPairs {
  private readonly entries = new Map<string, DemoPairEntry>();

  constructor(private readonly host: DemoPairsHost) {}

  reset(): void {
    this.entries.clear();
  }

  /** Puts a pair in place; defaults describe an idle pair in step. */
  add(
    pair: Partial<PairSummary> & Pick<PairSummary, 'pairId' | 'volumeId' | 'owner'>,
    extra: Partial<Omit<DemoPairEntry, 'summary'>> = {},
  ): PairSummary {
    const base = {
      siteId: this.host.siteId,
      state: 'PAIR' as PairState,
      unhealthyReason: null,
      copyPercent: 100,
      seqSent: 3,
      seqAcknowledged: 3,
      seqApplied: 3,
      pendingChunks: 0,
      pendingBytes: 0,
      lagSeconds: 0,
      bytesPerSecond: null,
      timeToSyncSeconds: 0,
      epochPrimary: 0,
      epochSecondary: 0,
      nextRotationAt: null,
      bytes: 4096,
      lastTransferAt: '2026-11-21T09:00:00.000Z',
      lastError: null,
      lastHeartbeatAt: '2026-11-21T09:00:05.000Z',
      cutSeq: null,
      instructions: [],
      ...pair,
    };
    const summary: PairSummary = { ...base, group: pair.group ?? groupOf(base) };
    this.entries.set(summary.pairId, {
      summary,
      history: extra.history ?? [
        { at: '2026-11-21T08:59:00.000Z', from: null, to: 'COPY', reason: 'first transfer' },
        {
          at: '2026-11-21T09:00:00.000Z',
          from: 'COPY',
          to: 'PAIR',
          reason: 'generation 1 committed',
        },
      ],
      epochs: extra.epochs ?? [{ epoch: 0, at: '2026-11-21T08:59:00.000Z' }],
      samples: extra.samples ?? [],
    });
    return summary;
  }

  list(): PairSummary[] {
    return [...this.entries.values()].map((e) => e.summary);
  }

  detail(pairId: string): PairDetail {
    const entry = this.require(pairId);
    return {
      pair: entry.summary,
      history: entry.history,
      epochs: entry.epochs,
      samples: entry.samples,
    };
  }

  act(admin: string, pairIds: readonly string[], action: PairAction, reason: string) {
    const entries = pairIds.map((id) => this.require(id));
    return entries.map((entry) => {
      const at = new Date().toISOString();
      const instruction: Instruction = {
        id: globalThis.crypto.randomUUID(),
        action,
        requestedBy: admin,
        requestedAt: at,
        reason,
        state: action === 'takeover' ? 'acknowledged' : 'requested',
        acknowledgedAt: action === 'takeover' ? at : null,
      };
      if (action === 'takeover') {
        this.change(
          entry,
          { state: 'SSWS', unhealthyReason: null },
          `taken over by ${admin}: ${reason}`,
        );
      } else {
        this.update(entry, { instructions: [...entry.summary.instructions, instruction] });
      }
      return { ...instruction, pairId: entry.summary.pairId };
    });
  }

  /** What the primary does on its next contact: it hears the instruction and carries it out. */
  acknowledge(pairId: string, instructionId: string, cutSeq?: number): PairSummary {
    const entry = this.require(pairId);
    const instruction = entry.summary.instructions.find((i) => i.id === instructionId);
    if (!instruction) throw new Error(`no instruction ${instructionId}`);
    const instructions = entry.summary.instructions.filter((i) => i !== instruction);
    const by = `${instruction.requestedBy}: ${instruction.reason}`;
    if (instruction.action === 'suspend') {
      const cut = cutSeq ?? entry.summary.seqApplied;
      return this.change(
        entry,
        { state: 'PSUS', cutSeq: cut, instructions },
        `suspended by ${by} (cut at sequence ${cut})`,
      );
    }
    if (instruction.action === 'resume') {
      return this.change(entry, { state: 'PAIR', cutSeq: null, instructions }, `resumed by ${by}`);
    }
    if (instruction.action === 'rekey') {
      const epoch = (entry.summary.epochSecondary ?? -1) + 1;
      entry.epochs.push({ epoch, at: new Date().toISOString() });
      return this.update(entry, { epochPrimary: epoch, epochSecondary: epoch, instructions });
    }
    return this.update(entry, { instructions });
  }

  /** A live change of a pair's figures, as a heartbeat or transfer would bring. */
  update(entry: DemoPairEntry | string, change: Partial<PairSummary>): PairSummary {
    const target = typeof entry === 'string' ? this.require(entry) : entry;
    const next = { ...target.summary, ...change };
    target.summary = { ...next, group: groupOf(next) };
    this.host.publish({ type: 'pair', pair: target.summary });
    return target.summary;
  }

  private change(entry: DemoPairEntry, change: Partial<PairSummary>, reason: string): PairSummary {
    entry.history.push({
      at: new Date().toISOString(),
      from: entry.summary.state,
      to: change.state ?? entry.summary.state,
      reason,
    });
    return this.update(entry, change);
  }

  private require(pairId: string): DemoPairEntry {
    const entry = this.entries.get(pairId);
    if (!entry) throw new EscrowRefusal('pair_not_found', `There is no pair ${pairId}.`, 404);
    return entry;
  }
}
