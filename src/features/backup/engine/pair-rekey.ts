/**
 * What the pair engine reads from and writes to the local copy for a pair
 * no backup is writing: its backlog for the heartbeat (RC-2, RC-7) and
 * "rekey now" between two backups (RC-4) — a new epoch key for the next
 * generation, escrowed and announced in the pair's stream with its own
 * sequence number, so the next backup encrypts under it.
 */

import type { PairSummary } from '@/core/contract';
import { sha256Hex, utf8 } from '@/core/crypto';
import { CHUNK_SIZE, paddedTransferSize } from '@/core/crypto/constants';
import { encodeTransfer } from '@/core/transfer/frame';
import type { GenerationRecord } from '@/shared/storage/database';
import { getPendingDataKey } from '@/shared/storage/key-store';
import type { LocalCopy } from '@/shared/storage/local-copy';
import { checkSiteKeys, makeEpochKey } from '@/features/backup/engine/backup-keys';
import type { BackupSite } from '@/features/backup/engine/backup-site';
import { sealEpochEscrow } from './backup-escrow';
import type { PairBacklog } from './pair-engine';

export interface IdlePairDeps {
  readonly site: BackupSite;
  readonly localCopy: LocalCopy;
  readonly userId: string;
}

async function generationsOf(deps: IdlePairDeps, volumeId: string): Promise<GenerationRecord[]> {
  return (await deps.localCopy.generationsOf(deps.userId)).filter((g) => g.volumeId === volumeId);
}

/**
 * RC-2: the outbox entries of the volume not yet acknowledged, as the
 * heartbeat reports them; null when this browser holds no copy of the
 * volume, so is not its primary (RC-1).
 */
export async function backlogOf(deps: IdlePairDeps, volumeId: string): Promise<PairBacklog | null> {
  let pending = 0;
  let pendingBytes = 0;
  let oldestPendingAt: string | null = null;
  let seqSent = 0;
  let epoch: number | null = null;
  const generations = await generationsOf(deps, volumeId);
  if (generations.length === 0) return null;
  for (const record of generations) {
    epoch = Math.max(epoch ?? record.epoch, record.epoch);
    seqSent = Math.max(seqSent, record.nextSeq - 1);
    if (record.state !== 'in-progress') continue;
    const outbox = await deps.localCopy.outbox(volumeId, record.generation);
    if (outbox.length === 0) continue;
    pending += outbox.length;
    // Every transfer has the same padded size on the wire (RC-4).
    pendingBytes += outbox.length * paddedTransferSize(record.chunkSize);
    if (!oldestPendingAt || record.startedAt < oldestPendingAt) oldestPendingAt = record.startedAt;
  }
  // A key made by "rekey now" for the next generation is the pair's newest epoch.
  const next = Math.max(0, ...generations.map((g) => g.generation)) + 1;
  const rekeyed = await getPendingDataKey(volumeId, next);
  if (rekeyed) epoch = Math.max(epoch ?? rekeyed.epoch, rekeyed.epoch);
  return { pending, pendingBytes, oldestPendingAt, seqSent, epoch };
}

/**
 * RC-4 "rekey now" with no backup running: the next generation's key is
 * made now, kept on this device as its pending key, escrowed and announced
 * after everything this browser numbered for the pair. Resolves with the
 * new epoch once the site has acknowledged the announcement.
 */
export async function rekeyIdlePair(deps: IdlePairDeps, pair: PairSummary): Promise<number> {
  const info = await deps.site.siteInfo();
  await checkSiteKeys(info, deps.localCopy.db);
  const generations = await generationsOf(deps, pair.volumeId);
  const epoch =
    Math.max(
      pair.epochSecondary ?? -1,
      pair.epochPrimary ?? -1,
      ...generations.map((g) => g.epoch),
    ) + 1;
  const nextGeneration = Math.max(0, ...generations.map((g) => g.generation)) + 1;
  const key = await makeEpochKey(pair.volumeId, nextGeneration, epoch);
  // A volume whose keys are split keeps splitting them across the same sites (MS-4).
  const latest = generations.sort((a, b) => a.generation - b.generation).at(-1);
  const envelope = await sealEpochEscrow(
    deps.localCopy,
    {
      volumeId: pair.volumeId,
      generation: nextGeneration,
      siteId: info.siteId,
      ...(latest?.escrow ? { escrow: latest.escrow } : {}),
    },
    info.escrowKey.jwk,
    {
      volumeId: pair.volumeId,
      chunkIdKey: key.chunkIdKeyForEscrow,
      dataKeys: new Map([[epoch, key.dataKeyForEscrow]]),
    },
  );
  const seq =
    Math.max(pair.seqAcknowledged, pair.seqApplied, ...generations.map((g) => g.nextSeq - 1)) + 1;
  // Padded like every other transfer of the pair (RC-4): its generations' chunk size.
  const chunkSize = generations.at(-1)?.chunkSize ?? CHUNK_SIZE;
  const body = encodeTransfer(
    { kind: 'epoch-key', volumeId: pair.volumeId, epoch },
    utf8(envelope),
    chunkSize,
  );
  await deps.site.putTransfer(pair.pairId, seq, body, await sha256Hex(body));
  return epoch;
}
