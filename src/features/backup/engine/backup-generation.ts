/**
 * The generation a backup writes (BK-3, BK-7, BK-8): a new one with fresh
 * keys and its epoch-key announcement queued first, or the interrupted one
 * found in IndexedDB, with the ledger of which chunks the site already holds.
 */

import type { Claim, SiteInfo } from '@/core/contract';
import {
  computeChunkId,
  manifestHash,
  toHex,
  type ChunkEntry,
  type ReleasePolicy,
} from '@/core/crypto';
import type { VolumeIdentity } from '@/core/volume';
import type { EscrowPlan, GenerationRecord } from '@/shared/storage/database';
import {
  deletePendingDataKey,
  getChunkIdKey,
  getPendingDataKey,
  type DeviceKeyRecord,
} from '@/shared/storage/key-store';
import type { LocalCopy } from '@/shared/storage/local-copy';
import { ChunkLedger } from '@/features/backup/worker/chunk-ledger';
import { ChunkReader, type ImageFile } from '@/features/backup/worker/chunk-reader';
import { BackupError } from './backup-errors';
import { sealEpochEscrow } from './backup-escrow';
import { makeGenerationKeys } from './backup-keys';
import { moveVolumeHere, type MoveDeps } from './backup-move';
import type { BackupSite } from './backup-site';
import { epochKeyEntry, nextSeqAfter } from './backup-stream';

export interface BackupRequest {
  readonly file: ImageFile;
  readonly identity: VolumeIdentity;
  readonly userId: string;
  /** Restorer IDs; the operator is added (BK-4). */
  readonly restorers: readonly string[];
  readonly policy: ReleasePolicy;
  /** MS-4: the sites that keep the keys, k of them needed; absent: the home site alone. */
  readonly escrow?: EscrowPlan;
  /**
   * ES-5: seal every chunk anew under a new chunk-ID key and data key, so
   * that keys released so far (the site counts `releases`) open none of
   * this generation; it costs sending the whole image again.
   */
  readonly retireKeys?: { readonly releases: number };
}

/** Everything one run knows about the generation it writes. */
export interface RunState {
  info: SiteInfo;
  signingKey: CryptoKey;
  device: DeviceKeyRecord;
  record: GenerationRecord;
  chunkIdKey: CryptoKey;
  dataKey: CryptoKey;
  ledger: ChunkLedger;
  /** Chunk IDs of the previous generation: the site holds them for good. */
  previous: Set<string>;
}

export interface GenerationDeps extends MoveDeps {
  readonly site: BackupSite;
  readonly localCopy: LocalCopy;
  readonly chunkSize: number;
  readonly now: () => number;
}

/** BK-4: the operator is always a restorer; IDs once each, sorted. */
export function restorersWithOwner(restorers: readonly string[], owner: string): string[] {
  return [...new Set([owner, ...restorers])].sort();
}

/** BK-7: a re-selected file must be the one the interrupted backup was reading. */
export async function checkSameImage(file: ImageFile, pending: GenerationRecord): Promise<void> {
  const mismatch = (): BackupError =>
    new BackupError('image_mismatch', 'This file is not the image the interrupted backup read.', {
      fileName: pending.file.name,
    });
  if (file.size !== pending.file.size) throw mismatch();
  const key = await getChunkIdKey(pending.volumeId);
  if (!key) return;
  const reader = new ChunkReader(file, pending.chunkSize);
  const check = async (position: number, expected: string | undefined): Promise<void> => {
    if (!expected) return;
    const id = toHex(await computeChunkId(key, new Uint8Array(await reader.read(position))));
    if (id !== expected) throw mismatch();
  };
  await check(0, pending.file.firstChunkId);
  await check(reader.chunkCount - 1, pending.file.lastChunkId);
}

/** Drops an interrupted generation: its local copy (see deleteGeneration) and its data key. */
export async function discardGeneration(
  localCopy: LocalCopy,
  record: GenerationRecord,
): Promise<void> {
  await localCopy.deleteGeneration(record.volumeId, record.generation, {
    keepSent: record.generation > 1,
  });
  await deletePendingDataKey(record.volumeId, record.generation);
}

/** Keys, the generation record and the ledger: a new generation, or the interrupted one. */
export async function prepareGeneration(
  deps: GenerationDeps,
  request: BackupRequest,
  found: {
    readonly info: SiteInfo;
    readonly signingKey: CryptoKey;
    readonly device: DeviceKeyRecord;
    readonly claim: Claim;
    readonly pending: GenerationRecord | undefined;
  },
): Promise<RunState> {
  const { localCopy } = deps;
  const { file, identity, userId } = request;
  const { info, signingKey, device, claim, pending } = found;
  const volumeId = identity.volumeId;
  let record = pending;
  let chunkIdKey: CryptoKey | undefined;
  let dataKey: CryptoKey | undefined;
  if (record) {
    const stored = await getPendingDataKey(volumeId, record.generation);
    chunkIdKey = await getChunkIdKey(volumeId);
    if (!stored || !chunkIdKey || stored.epoch !== record.epoch) {
      await discardGeneration(localCopy, record);
      record = undefined;
    } else {
      dataKey = stored.key;
      // The terms as the operator left them when resuming travel with the commit,
      // unless the commit is already on its way with the earlier ones.
      const outbox = await localCopy.outbox(volumeId, record.generation);
      if (!outbox.some((e) => e.kind === 'commit' && e.seq !== undefined)) {
        const terms = {
          restorers: restorersWithOwner(request.restorers, userId),
          policy: request.policy,
        };
        await localCopy.updateGeneration(volumeId, record.generation, terms);
        record = { ...record, ...terms };
      }
    }
  }
  // RC-4: a "rekey now" between two backups escrowed the next generation's key already
  // (under the chunk-ID key that retiring replaces).
  const rekeyed = record || request.retireKeys ? undefined : await rekeyedBetween(volumeId, claim);
  if (!record) {
    // Another browser of the owner made the earlier generations: the sites hand this one the key.
    // Retiring the released keys makes a new one instead.
    const needsKey = !rekeyed && !request.retireKeys && claim.nextGeneration > 1;
    if (needsKey && !(await getChunkIdKey(volumeId))) {
      await moveVolumeHere(deps, volumeId, claim, device);
    }
    const epoch = rekeyed?.epoch ?? (claim.epochs.length ? Math.max(...claim.epochs) + 1 : 0);
    const generated = rekeyed
      ? undefined
      : await makeGenerationKeys(volumeId, claim.nextGeneration, epoch, request.retireKeys);
    const keys = rekeyed ?? generated!;
    chunkIdKey = keys.chunkIdKey;
    dataKey = keys.dataKey;
    const now = new Date(deps.now()).toISOString();
    record = {
      volumeId,
      generation: claim.nextGeneration,
      userId,
      siteId: info.siteId,
      state: 'in-progress',
      kind: identity.kind,
      ...(identity.label === undefined ? {} : { label: identity.label }),
      file: { name: file.name, size: file.size, lastModified: file.lastModified },
      chunkSize: deps.chunkSize,
      chunkCount: new ChunkReader(file, deps.chunkSize).chunkCount,
      epoch,
      previousManifestHash: claim.previousManifestHash,
      restorers: restorersWithOwner(request.restorers, userId),
      policy: request.policy,
      ...(request.escrow ? { escrow: request.escrow } : {}),
      nextPosition: 0,
      bytesStored: 0,
      bytesConfirmed: 0,
      pairId: claim.pairId,
      nextSeq: nextSeqAfter(claim),
      siteSeqApplied: claim.seqApplied,
      transfersSent: 0,
      chunksSkipped: 0,
      elapsedMs: 0,
      startedAt: now,
    };
    await localCopy.createGeneration(record, {
      volumeId,
      userId,
      kind: identity.kind,
      ...(identity.label === undefined ? {} : { label: identity.label }),
      latestGeneration: claim.nextGeneration - 1,
      latestManifestHash: claim.previousManifestHash,
      createdAt: now,
      updatedAt: now,
    });
    if (generated) {
      // BK-8: the epoch key is announced before any chunk encrypted under it.
      const envelope = await sealEpochEscrow(localCopy, record, info.escrowKey.jwk, {
        volumeId,
        chunkIdKey: generated.chunkIdKeyForEscrow,
        dataKeys: new Map([[epoch, generated.dataKeyForEscrow]]),
      });
      await localCopy.putOutbox([epochKeyEntry(record, envelope)]);
    }
  }
  const previous = await previousIndex(deps, volumeId, claim);
  const ledger = new ChunkLedger();
  ledger.addAtSite(previous);
  const escrowed = new Set([...claim.epochs, record.epoch]);
  const local = await localCopy.chunkEntries(volumeId);
  ledger.addLocal([...local.values()].filter((entry) => escrowed.has(entry.epoch)));
  return {
    info,
    signingKey,
    device,
    record,
    chunkIdKey: chunkIdKey!,
    dataKey: dataKey!,
    ledger,
    previous: new Set(previous.map((entry) => entry.chunkId)),
  };
}

/**
 * The data key a "rekey now" made for the next generation while no backup
 * ran (RC-4): usable if the site escrowed it and no newer epoch exists.
 */
async function rekeyedBetween(
  volumeId: string,
  claim: Claim,
): Promise<{ epoch: number; dataKey: CryptoKey; chunkIdKey: CryptoKey } | undefined> {
  const stored = await getPendingDataKey(volumeId, claim.nextGeneration);
  const chunkIdKey = await getChunkIdKey(volumeId);
  if (!stored || !chunkIdKey || stored.epoch !== Math.max(-1, ...claim.epochs)) return undefined;
  return { epoch: stored.epoch, dataKey: stored.key, chunkIdKey };
}

/** The previous generation's index: what the site holds for good (BK-6 dedup). */
async function previousIndex(
  deps: GenerationDeps,
  volumeId: string,
  claim: Claim,
): Promise<ChunkEntry[]> {
  const previous = claim.nextGeneration - 1;
  if (previous < 1) return [];
  const local = await deps.localCopy.getGeneration(volumeId, previous);
  if (local?.state === 'complete' && local.manifestHash === claim.previousManifestHash) {
    return deps.localCopy.index(volumeId, previous);
  }
  try {
    const remote = await deps.site.generationManifest(volumeId, previous);
    if ((await manifestHash(remote.manifest)) === claim.previousManifestHash) {
      return remote.manifest.index.chunks;
    }
  } catch {
    // Without the previous index every chunk is checked with the site (HEAD) instead.
  }
  return [];
}
