/**
 * The pair's transfer stream as this browser keeps it (RC-2): the outbox
 * entries of a generation, reconciled with what the site says it holds
 * after a claim, and rebuilt from the local copy when the site lost part of
 * it (a claim collected after its time-to-live, a site restored from an
 * older copy).
 */

import type { Claim, CommitPayload } from '@/core/contract';
import { canonicalJson, utf8, type ChunkEntry, type JsonValue } from '@/core/crypto';
import {
  OUTBOX_ORDER_COMMIT,
  OUTBOX_ORDER_EPOCH_KEY,
  outboxOrderOfPosition,
  type CommitOutboxRecord,
  type EpochKeyOutboxRecord,
  type GenerationRecord,
  type OutboxRecord,
} from '@/shared/storage/database';
import {
  getChunkIdKeyForEscrow,
  getPendingDataKey,
  unwrapPendingDataKey,
} from '@/shared/storage/key-store';
import type { LocalCopy } from '@/shared/storage/local-copy';
import { keptHomeEnvelope, sealEpochEscrow } from './backup-escrow';
import { BackupError } from './backup-errors';
import type { RunState } from './backup-generation';

export interface StreamDeps {
  readonly localCopy: LocalCopy;
  /** Claims the volume again; `resume` keeps what the site buffered. */
  readonly claim: (resume: boolean) => Promise<Claim>;
}

/** The outbox as it stands after reconciling, and where numbering goes on. */
export interface Reconciled {
  readonly outbox: OutboxRecord[];
  readonly nextSeq: number;
  readonly claim: Claim;
}

/**
 * Brings the outbox in line with what the site says it has (RC-2):
 * acknowledged entries leave, the rest keep their numbers, and if the site
 * lost transfers it had acknowledged, the stream is rebuilt from the local copy.
 */
export async function reconcileOutbox(
  deps: StreamDeps,
  state: RunState,
  claim: Claim,
): Promise<Reconciled> {
  const { localCopy } = deps;
  const { record, ledger } = state;
  let outbox = await localCopy.outbox(record.volumeId, record.generation);
  const received = new Set(claim.buffered);
  const acknowledged = (entry: OutboxRecord): boolean =>
    entry.seq !== undefined && (entry.seq <= claim.seqApplied || received.has(entry.seq));
  const numbered = new Set(outbox.map((e) => e.seq).filter((s) => s !== undefined));
  let lost =
    record.pairId !== claim.pairId ||
    claim.seqApplied < record.siteSeqApplied ||
    (!claim.epochs.includes(record.epoch) &&
      !outbox.some((e) => e.kind === 'epoch-key' && e.epoch === record.epoch));
  const highest = Math.max(
    record.nextSeq - 1,
    await localCopy.highestSeq(record.volumeId, record.generation),
  );
  for (let seq = claim.seqApplied + 1; seq <= highest && !lost; seq++) {
    if (!received.has(seq) && !numbered.has(seq)) lost = true;
  }
  if (lost) return rebuildOutbox(deps, state);

  const settled = outbox.filter(acknowledged);
  for (const entry of settled) if (entry.kind === 'chunk') ledger.settle(entry.chunkId);
  await localCopy.settle(
    settled.map((entry) => ({ ...entry, sent: true, siteSeqApplied: claim.seqApplied })),
    ledger.bytesConfirmed,
  );
  outbox = outbox.filter((entry) => !acknowledged(entry));
  // A commit not sent yet carries the current terms; one already numbered stays as sent.
  const queuedCommit = outbox.find((e) => e.kind === 'commit');
  if (record.manifest && (!queuedCommit || queuedCommit.seq === undefined)) {
    const commit = commitEntry(record);
    await localCopy.putOutbox([commit]);
    outbox = [...outbox.filter((e) => e.kind !== 'commit'), commit];
  }
  const nextSeq = Math.max(
    nextSeqAfter(claim),
    highest + 1,
    ...outbox.map((e) => (e.seq ?? 0) + 1),
  );
  await localCopy.updateGeneration(record.volumeId, record.generation, {
    pairId: claim.pairId,
    siteSeqApplied: claim.seqApplied,
    nextSeq,
  });
  return { outbox, nextSeq, claim };
}

/**
 * The site lost part of the stream: claim afresh (dropping what it
 * buffered) and queue again, from the local copy, everything of this
 * generation it may not hold.
 */
export async function rebuildOutbox(deps: StreamDeps, state: RunState): Promise<Reconciled> {
  const { localCopy } = deps;
  const { record, ledger } = state;
  const claim = await deps.claim(false);
  await localCopy.clearOutbox(record.volumeId, record.generation);
  const outbox: OutboxRecord[] = [];
  if (!claim.epochs.includes(record.epoch)) {
    outbox.push(epochKeyEntry(record, await resealEpochKey(localCopy, state)));
  }
  const stored = await localCopy.index(record.volumeId, record.generation);
  const bytes = new Map<string, number>();
  const first = new Map<string, { position: number; entry: ChunkEntry }>();
  stored.forEach((entry, position) => {
    if (state.previous.has(entry.chunkId)) return;
    bytes.set(entry.chunkId, (bytes.get(entry.chunkId) ?? 0) + entry.length);
    if (!first.has(entry.chunkId)) first.set(entry.chunkId, { position, entry });
  });
  for (const [chunkId, { position, entry }] of first) {
    ledger.requeue(chunkId, bytes.get(chunkId)!);
    outbox.push({
      volumeId: record.volumeId,
      generation: record.generation,
      order: outboxOrderOfPosition(position),
      kind: 'chunk',
      chunkId,
      ciphertextSha256: entry.ciphertextSha256,
      probe: true,
    });
  }
  if (record.manifest) outbox.push(commitEntry(record));
  await localCopy.putOutbox(outbox);
  const nextSeq = nextSeqAfter(claim);
  await localCopy.updateGeneration(record.volumeId, record.generation, {
    pairId: claim.pairId,
    siteSeqApplied: claim.seqApplied,
    nextSeq,
  });
  return { outbox, nextSeq, claim };
}

/** A new escrow envelope of this generation's epoch key, from the kept escrow copies. */
async function resealEpochKey(localCopy: LocalCopy, state: RunState): Promise<string> {
  const { record, info } = state;
  // Split keys are never split again: the shares other sites get must fit the home site's.
  if (record.escrow) return keptHomeEnvelope(localCopy, record, record.epoch);
  const stored = await getPendingDataKey(record.volumeId, record.generation);
  const chunkIdKey = await getChunkIdKeyForEscrow(record.volumeId);
  if (!stored || !chunkIdKey) {
    throw new BackupError('chunk_id_key_missing', "This volume's keys are not on this device.", {
      volumeId: record.volumeId,
    });
  }
  return sealEpochEscrow(localCopy, record, info.escrowKey.jwk, {
    volumeId: record.volumeId,
    chunkIdKey,
    dataKeys: new Map([[record.epoch, await unwrapPendingDataKey(stored)]]),
  });
}

/** The first number after everything the site has, applied or buffered. */
export function nextSeqAfter(claim: Claim): number {
  return Math.max(claim.seqApplied, ...claim.buffered) + 1;
}

export function epochKeyEntry(record: GenerationRecord, envelope: string): EpochKeyOutboxRecord {
  return {
    volumeId: record.volumeId,
    generation: record.generation,
    order: OUTBOX_ORDER_EPOCH_KEY,
    kind: 'epoch-key',
    epoch: record.epoch,
    payload: utf8(envelope),
  };
}

export function commitEntry(record: GenerationRecord): CommitOutboxRecord {
  return {
    volumeId: record.volumeId,
    generation: record.generation,
    order: OUTBOX_ORDER_COMMIT,
    kind: 'commit',
    payload: commitPayloadBytes(record),
  };
}

/** The commit's payload: canonical JSON of the signed manifest and the escrow terms (BK-8). */
function commitPayloadBytes(record: GenerationRecord): Uint8Array<ArrayBuffer> {
  const payload: CommitPayload = {
    manifest: record.manifest!,
    restorers: [...record.restorers],
    policy: record.policy,
  };
  return canonicalJson(payload as unknown as JsonValue);
}
