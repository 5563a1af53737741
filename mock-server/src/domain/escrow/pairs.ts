import {
  MIB,
  MINUTE_MS,
  PAIR_SILENCE_MS,
  SITE_DEFAULT_ROTATION,
  type HeartbeatRequest,
  type Instruction,
  type PairAction,
  type PairDetail,
  type PairRotationRequest,
  type PairRotationResponse,
  type PairState,
  type PairSummary,
} from '../../../../src/core/contract';
import { rotationPolicy, type RotationPolicy } from '../../../../src/core/transfer/rotation';
import { DomainError } from '../errors';
import { nowIso, type Caller, type EscrowDeps } from './context';
import { refuseNonOwner } from './non-owner';
import type { InstructionRow, PairRow } from './ports';

/** Where an unhealthy reason came from: the site saw it, or the primary reported it. */
const SITE = 'site: ';
const PRIMARY = 'primary: ';
const SAMPLE_WINDOW_MS = 24 * 3600_000;

/**
 * Remote copy of paired volumes (RC-1..RC-7) as the secondary sees it: pair
 * states with their history, the primary's heartbeats, and administrators'
 * instructions that reach the primary on its next contact and wait for its
 * acknowledgement. The secondary never decrypts what it stores (RC-6).
 */
export class PairService {
  constructor(
    private readonly deps: EscrowDeps,
    /** How long a gap in the sequence may wait before the pair is PSUE. */
    private readonly gapTimeoutMs: number,
  ) {}

  /** Moves a pair to a state, keeping the episode in its history, and tells its watchers. */
  async setState(
    pair: PairRow,
    to: PairState,
    reason: string,
    patch: Partial<PairRow> = {},
  ): Promise<PairRow> {
    const at = nowIso(this.deps);
    const changed =
      pair.state !== to ||
      (to === 'PSUE' && pair.unhealthyReason !== (patch.unhealthyReason ?? pair.unhealthyReason));
    const updated: PairRow = {
      ...pair,
      ...patch,
      state: to,
      ...(pair.state !== to ? { stateSince: at } : {}),
    };
    await this.deps.store.pairs.update(pair.pairId, {
      state: to,
      stateSince: updated.stateSince,
      unhealthyReason: updated.unhealthyReason,
      cutSeq: updated.cutSeq,
      ...('lastError' in patch ? { lastError: patch.lastError } : {}),
    });
    if (changed) {
      await this.deps.store.pairs.addHistory(pair.pairId, { at, from: pair.state, to, reason });
      await this.deps.audit.append({
        event: 'pair_state_changed',
        actor: null,
        volumeId: pair.volumeId,
        details: { pairId: pair.pairId, from: pair.state, to, reason },
      });
    }
    await this.publish(updated);
    return updated;
  }

  /** A transfer was applied: a commit puts the pair in step; a site-side error episode ends. */
  async onApplied(pairId: string, kind: string): Promise<void> {
    const pair = (await this.deps.store.pairs.find(pairId))!;
    const recovering = pair.state === 'PSUE' && pair.unhealthyReason?.startsWith(SITE);
    if (kind === 'commit' && (pair.state === 'COPY' || recovering)) {
      await this.setState(pair, 'PAIR', 'a generation was committed', { unhealthyReason: null });
    } else if (recovering && !(await this.gapAge(pair))) {
      await this.setState(
        pair,
        await this.healthyState(pair),
        'the transfer stream is whole again',
        { unhealthyReason: null },
      );
    } else {
      await this.publish(pair);
    }
  }

  /** A transfer was refused in sequence: the pair is suspended by error (RC-3). */
  async onRejected(pairId: string, message: string): Promise<void> {
    const pair = (await this.deps.store.pairs.find(pairId))!;
    await this.setState(pair, 'PSUE', `a transfer was rejected: ${message}`, {
      unhealthyReason: `${SITE}transfer rejected: ${message}`,
    });
  }

  /**
   * RC-2 gaps: a transfer waiting too long for an earlier one makes the pair
   * PSUE. One pair (after each of its transfers), or all (housekeeping).
   */
  async checkGaps(pairId?: string): Promise<void> {
    const pairs =
      pairId === undefined
        ? await this.deps.store.pairs.list()
        : [await this.deps.store.pairs.find(pairId)].filter((p) => p !== undefined);
    for (const pair of pairs) {
      const age = await this.gapAge(pair);
      if (
        age !== undefined &&
        age > this.gapTimeoutMs &&
        pair.state !== 'PSUE' &&
        pair.state !== 'SSWS'
      ) {
        const reason = `transfer ${pair.seqApplied + 1} has been missing for ${Math.round(age / 1000)} s while later ones wait`;
        await this.setState(pair, 'PSUE', reason, { unhealthyReason: `${SITE}${reason}` });
      }
    }
  }

  /** The primary's heartbeat: its view, its backlog; answered with instructions for it. */
  async heartbeat(caller: Caller, pairId: string, beat: HeartbeatRequest): Promise<Instruction[]> {
    let pair = await this.ownPair(caller, pairId);
    const at = nowIso(this.deps);
    await this.deps.store.pairs.update(pairId, {
      lastHeartbeatAt: at,
      heartbeat: JSON.stringify(beat),
    });
    pair = { ...pair, lastHeartbeatAt: at, heartbeat: JSON.stringify(beat) };
    const lag =
      beat.pending === 0 || !beat.oldestPendingAt
        ? 0
        : Math.max(0, (Date.parse(at) - Date.parse(beat.oldestPendingAt)) / 1000);
    await this.deps.store.pairs.addSample(pairId, at, lag, beat.bytesPerSecond);
    if (pair.state !== 'SSWS') {
      if (beat.state === 'PSUE' && !pair.unhealthyReason?.startsWith(SITE)) {
        const reason = beat.reason ?? 'the primary reports an error';
        pair = await this.setState(pair, 'PSUE', `the primary reports: ${reason}`, {
          unhealthyReason: `${PRIMARY}${reason}`,
        });
      } else if (
        pair.state === 'PSUE' &&
        pair.unhealthyReason?.startsWith(PRIMARY) &&
        beat.state !== 'PSUE'
      ) {
        pair = await this.setState(
          pair,
          await this.healthyState(pair),
          'the primary reaches the site again',
          { unhealthyReason: null },
        );
      } else {
        await this.publish(pair);
      }
    }
    const waiting = await this.deps.store.pairs.instructionsOf(pairId, ['requested', 'delivered']);
    const fresh = waiting.filter((i) => i.state === 'requested');
    for (const instruction of fresh) {
      await this.deps.store.pairs.updateInstruction(instruction.id, { state: 'delivered' });
    }
    // The screens show an instruction as delivered as soon as the primary has it.
    if (fresh.length > 0) await this.publish(pair);
    return waiting.map((i) => toInstruction({ ...i, state: 'delivered' }));
  }

  /** The primary carried an instruction out (RC-3, RC-5). */
  async acknowledge(
    caller: Caller,
    pairId: string,
    instructionId: string,
    facts: { cutSeq?: number },
  ): Promise<PairSummary> {
    const pair = await this.ownPair(caller, pairId);
    const instruction = await this.deps.store.pairs.findInstruction(instructionId);
    if (!instruction || instruction.pairId !== pairId) {
      throw new DomainError(
        'instruction_not_found',
        'There is no such instruction for this pair.',
        404,
      );
    }
    if (instruction.state === 'acknowledged') return this.summary(pair);
    const at = nowIso(this.deps);
    await this.deps.store.pairs.updateInstruction(instructionId, {
      state: 'acknowledged',
      acknowledgedAt: at,
    });
    await this.deps.audit.append({
      event: 'pair_instruction_acknowledged',
      actor: caller.userId,
      volumeId: pair.volumeId,
      clientAddress: caller.clientAddress,
      details: { pairId, instructionId, action: instruction.action, cutSeq: facts.cutSeq ?? null },
    });
    let updated = pair;
    if (instruction.action === 'suspend') {
      const cut = facts.cutSeq ?? pair.seqApplied;
      updated = await this.setState(
        pair,
        'PSUS',
        `suspended by ${instruction.requestedBy}: ${instruction.reason} (cut at sequence ${cut})`,
        {
          cutSeq: cut,
        },
      );
    } else if (instruction.action === 'resume' && pair.state === 'PSUS') {
      updated = await this.setState(
        pair,
        await this.healthyState(pair),
        `resumed by ${instruction.requestedBy}: ${instruction.reason}`,
        { cutSeq: null },
      );
    } else {
      await this.publish(pair);
    }
    return this.summary(updated);
  }

  /** RC-3 actions by an administrator, for one pair or a selection. */
  async act(admin: Caller, pairIds: readonly string[], action: PairAction, reason: string) {
    const result: (Instruction & { pairId: string })[] = [];
    for (const pairId of pairIds) {
      const pair = await this.deps.store.pairs.find(pairId);
      if (!pair) throw new DomainError('pair_not_found', `There is no pair ${pairId}.`, 404);
      const at = nowIso(this.deps);
      const row: InstructionRow = {
        id: globalThis.crypto.randomUUID(),
        pairId,
        action,
        requestedBy: admin.userId,
        requestedAt: at,
        reason,
        state: action === 'takeover' ? 'acknowledged' : 'requested',
        acknowledgedAt: action === 'takeover' ? at : null,
      };
      await this.deps.audit.append({
        event: 'pair_action_requested',
        actor: admin.userId,
        volumeId: pair.volumeId,
        clientAddress: admin.clientAddress,
        details: { pairId, action, reason },
      });
      await this.deps.store.pairs.insertInstruction(row);
      if (action === 'takeover') {
        // The secondary takes over at once: it serves restores elsewhere and waits for a new primary.
        await this.setState(pair, 'SSWS', `taken over by ${admin.userId}: ${reason}`, {
          unhealthyReason: null,
        });
      }
      const volume = await this.deps.store.volumes.find(pair.volumeId);
      if (volume) {
        this.deps.events.publish(
          { type: 'instruction', pairId, volumeId: pair.volumeId, instruction: toInstruction(row) },
          { kind: 'user', userId: volume.owner },
        );
      }
      await this.publish((await this.deps.store.pairs.find(pairId))!);
      result.push({ ...toInstruction(row), pairId });
    }
    return result;
  }

  /**
   * RC-4: an administrator sets when a pair's primary replaces its data key.
   * Both limits are clamped to ROTATION_BOUNDS; the answer says whether they were.
   * The primary follows the policy from its next claim, i.e. the next backup.
   */
  async setRotation(
    admin: Caller,
    pairId: string,
    request: PairRotationRequest,
  ): Promise<PairRotationResponse> {
    const pair = await this.deps.store.pairs.find(pairId);
    if (!pair) throw new DomainError('pair_not_found', `There is no pair ${pairId}.`, 404);
    const requested = {
      everyBytes: request.everyMiB * MIB,
      everyMs: request.everyMinutes * MINUTE_MS,
    };
    const policy = rotationPolicy(requested.everyBytes, requested.everyMs);
    const old = rotationOf(pair);
    await this.deps.store.pairs.update(pairId, {
      rotationEveryBytes: policy.everyBytes,
      rotationEveryMs: policy.everyMs,
    });
    const clamped =
      policy.everyBytes !== requested.everyBytes || policy.everyMs !== requested.everyMs;
    await this.deps.audit.append({
      event: 'pair_rotation_changed',
      actor: admin.userId,
      volumeId: pair.volumeId,
      clientAddress: admin.clientAddress,
      details: {
        pairId,
        old: { everyBytes: old.everyBytes, everyMs: old.everyMs, siteDefault: old.siteDefault },
        new: { everyBytes: policy.everyBytes, everyMs: policy.everyMs },
        requested,
        clamped,
        reason: request.reason,
      },
    });
    const updated = (await this.deps.store.pairs.find(pairId))!;
    await this.publish(updated);
    return { pair: await this.summary(updated), requested, clamped };
  }

  /** A new claim after a take-over makes the claimant the new primary (RC-3 SSWS). */
  async acceptNewPrimary(pairId: string, userId: string): Promise<void> {
    const pair = await this.deps.store.pairs.find(pairId);
    if (pair?.state === 'SSWS') {
      await this.setState(pair, 'COPY', `${userId} became the new primary`, {
        unhealthyReason: null,
        cutSeq: null,
      });
    }
  }

  async list(): Promise<PairSummary[]> {
    return Promise.all((await this.deps.store.pairs.list()).map((p) => this.summary(p)));
  }

  async mine(caller: Caller): Promise<PairSummary[]> {
    return Promise.all(
      (await this.deps.store.pairs.list(caller.userId)).map((p) => this.summary(p)),
    );
  }

  async detail(pairId: string): Promise<PairDetail> {
    const pair = await this.deps.store.pairs.find(pairId);
    if (!pair) throw new DomainError('pair_not_found', `There is no pair ${pairId}.`, 404);
    const since = new Date(this.deps.clock.now().getTime() - SAMPLE_WINDOW_MS).toISOString();
    return {
      pair: await this.summary(pair),
      history: (await this.deps.store.pairs.history(pairId)).map((h) => ({
        at: h.at,
        from: h.from as PairState | null,
        to: h.to as PairState,
        reason: h.reason,
      })),
      epochs: await this.deps.store.envelopes.times(pair.volumeId),
      samples: await this.deps.store.pairs.samples(pairId, since),
    };
  }

  async summary(pair: PairRow): Promise<PairSummary> {
    const beat = pair.heartbeat ? (JSON.parse(pair.heartbeat) as HeartbeatRequest) : null;
    const volume = await this.deps.store.volumes.find(pair.volumeId);
    const epochs = await this.deps.store.envelopes.times(pair.volumeId);
    const instructions = await this.deps.store.pairs.instructionsOf(pair.pairId, [
      'requested',
      'delivered',
    ]);
    const seqSent = Math.max(beat?.seqSent ?? 0, pair.seqReceived);
    const pendingChunks = beat?.pending ?? 0;
    const pendingBytes = beat?.pendingBytes ?? 0;
    const now = this.deps.clock.now().getTime();
    const lagSeconds = beat
      ? pendingChunks === 0 || !beat.oldestPendingAt
        ? 0
        : Math.max(0, (now - Date.parse(beat.oldestPendingAt)) / 1000)
      : null;
    const bytesPerSecond = beat?.bytesPerSecond ?? null;
    const syncing =
      pendingChunks > 0 || pair.seqReceived > pair.seqApplied || pair.state === 'COPY';
    const lastContact = [pair.lastHeartbeatAt, pair.lastTransferAt, pair.createdAt]
      .filter((at): at is string => at !== null)
      .reduce((latest, at) => (Date.parse(at) > Date.parse(latest) ? at : latest));
    return {
      pairId: pair.pairId,
      volumeId: pair.volumeId,
      owner: volume?.owner ?? '',
      siteId: this.deps.siteId,
      state: pair.state as PairState,
      group: pair.state === 'PSUE' ? 'error' : syncing ? 'syncing' : 'in_step',
      unhealthyReason: pair.unhealthyReason
        ? pair.unhealthyReason.replace(/^(site|primary): /, '')
        : null,
      copyPercent:
        seqSent === 0
          ? pair.state === 'COPY'
            ? 0
            : 100
          : Math.min(100, Math.round((pair.seqApplied / seqSent) * 1000) / 10),
      seqSent,
      seqAcknowledged: pair.seqReceived,
      seqApplied: pair.seqApplied,
      pendingChunks,
      pendingBytes,
      lagSeconds,
      bytesPerSecond,
      timeToSyncSeconds:
        bytesPerSecond && bytesPerSecond > 0
          ? pendingBytes / bytesPerSecond
          : pendingBytes === 0
            ? 0
            : null,
      epochPrimary: beat?.epoch ?? null,
      epochSecondary: epochs.at(-1)?.epoch ?? null,
      nextRotationAt: beat?.nextRotationAt ?? null,
      bytes: pair.bytes,
      lastTransferAt: pair.lastTransferAt,
      lastError: pair.lastError,
      lastHeartbeatAt: pair.lastHeartbeatAt,
      silentSince: now - Date.parse(lastContact) > PAIR_SILENCE_MS ? lastContact : null,
      cutSeq: pair.state === 'PSUS' ? pair.cutSeq : null,
      instructions: instructions.map(toInstruction),
      rotation: rotationOf(pair),
    };
  }

  private async ownPair(caller: Caller, pairId: string): Promise<PairRow> {
    const pair = await this.deps.store.pairs.find(pairId);
    const volume = pair && (await this.deps.store.volumes.find(pair.volumeId));
    if (!pair || !volume)
      throw new DomainError('pair_not_found', `There is no pair ${pairId}.`, 404);
    if (volume.owner !== caller.userId) {
      await refuseNonOwner(
        this.deps,
        caller,
        volume,
        'act on the pair of',
        new DomainError('forbidden', 'This pair belongs to another operator.', 403),
      );
    }
    return pair;
  }

  /** In step once a generation is committed; the initial copy before that. */
  private async healthyState(pair: PairRow): Promise<PairState> {
    return (await this.deps.store.generations.latest(pair.volumeId)) ? 'PAIR' : 'COPY';
  }

  private async gapAge(pair: PairRow): Promise<number | undefined> {
    const oldest = await this.deps.store.transfers.oldestBufferedAt(pair.pairId, pair.seqApplied);
    return oldest ? this.deps.clock.now().getTime() - Date.parse(oldest) : undefined;
  }

  private async publish(pair: PairRow): Promise<void> {
    const summary = await this.summary(pair);
    // Administrators hear every user's events too, so one message reaches both.
    this.deps.events.publish(
      { type: 'pair', pair: summary },
      summary.owner ? { kind: 'user', userId: summary.owner } : { kind: 'admins' },
    );
  }
}

/** RC-4: the pair's key rotation, or the site's default when none was set. */
export function rotationOf(pair: PairRow): RotationPolicy & { siteDefault: boolean } {
  return pair.rotationEveryBytes !== null && pair.rotationEveryMs !== null
    ? { everyBytes: pair.rotationEveryBytes, everyMs: pair.rotationEveryMs, siteDefault: false }
    : { ...SITE_DEFAULT_ROTATION, siteDefault: true };
}

function toInstruction(row: InstructionRow): Instruction {
  return {
    id: row.id,
    action: row.action as PairAction,
    requestedBy: row.requestedBy,
    requestedAt: row.requestedAt,
    reason: row.reason,
    state: row.state,
    acknowledgedAt: row.acknowledgedAt,
  };
}
