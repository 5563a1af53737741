/**
 * One backup of one image, from "Back up" to the verified receipt (BK-3 …
 * BK-11), in the order BK-8 fixes: claim → chunks → escrow → commit →
 * receipt. The local half (encoder) and the remote half (uploader) run side
 * by side; everything they do is stored as they go, so a reload, a crash or
 * a site that goes away resumes from IndexedDB without encrypting a stored
 * chunk again or resending an acknowledged transfer (BK-7). No Vue here: the
 * screen's store and the benchmark drive it the same way.
 */

import { ApiError } from '@/shared/api/request';
import type { Claim } from '@/core/contract';
import { paddedTransferSize } from '@/core/crypto/constants';
import {
  buildManifest,
  CHUNK_SIZE,
  ImageHash,
  manifestHash,
  restorerListHash,
  signManifest,
  verifyReceipt,
  type Receipt,
  type ReceiptStatement,
} from '@/core/crypto';
import { DEFAULT_ROTATION, type RotationPolicy } from '@/core/transfer/rotation';
import type { GenerationRecord } from '@/shared/storage/database';
import { deletePendingDataKey, type DeviceKeyRecord } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import { checkQuota, requestPersistence } from '@/shared/storage/storage-quota';
import { ChunkBudget } from '@/shared/workers/chunk-budget';
import { ChunkReader, type ImageFile } from '@/features/backup/worker/chunk-reader';
import {
  MIN_IMAGE_SIZE,
  PROGRESS_INTERVAL_MS,
  RUNNER_LOCK_NAME,
  maxChunksInMemory,
} from '@/features/backup/engine/backup-tuning';
import { cryptoWorkerCount } from '@/shared/workers/crypto-workers';
import { createSealPool, type SealPool } from '@/features/backup/worker/seal-pool';
import { BackupCancelled, RunControl } from './backup-control';
import { BackupError, isSiteUnreachable } from './backup-errors';
import type { ShareSite } from './backup-escrow';
import { checkSiteKeys, ensureDeviceKey, registerDeviceKey } from './backup-keys';
import {
  checkSameImage,
  discardGeneration,
  prepareGeneration,
  type BackupRequest,
  type RunState,
} from './backup-generation';
import { EpochSchedule, encodeInEpochs } from './backup-rotation';
import { liveSite, type BackupSite } from './backup-site';
import { commitEntry, rebuildOutbox, reconcileOutbox, type StreamDeps } from './backup-stream';
import { ClaimLostError, StreamLostError, Uploader } from './backup-uploader';
import type { PairLink, PairStreamStatus } from '@/features/backup/engine/pair-link';

export type { BackupRequest } from './backup-generation';

export type BackupStage =
  'preparing' | 'claiming' | 'encrypting' | 'sending' | 'committing' | 'complete';

/** What the screen shows while a backup runs (BK-7). */
export interface BackupSnapshot {
  readonly stage: BackupStage;
  readonly paused: boolean;
  readonly siteReachable: boolean;
  readonly volumeId: string;
  readonly generation: number | null;
  readonly totalBytes: number;
  /** Plaintext bytes encrypted and in the local copy. */
  readonly bytesStored: number;
  /** Plaintext bytes the site holds: what the progress bar counts. */
  readonly bytesConfirmed: number;
  readonly transfersSent: number;
  readonly chunksSkipped: number;
  /** Running time of this backup, across reloads, without pauses. */
  readonly elapsedMs: number;
}

export interface BackupResult {
  readonly volumeId: string;
  readonly generation: number;
  readonly fileName: string;
  readonly size: number;
  readonly imageSha256: string;
  readonly durationMs: number;
  readonly bytesPerSecond: number;
  /** Padded transfers this generation sent, across reloads, and their bytes. */
  readonly transfersSent: number;
  readonly bytesSent: number;
  readonly receipt: Receipt;
  readonly statement: ReceiptStatement;
}

export interface RunnerDeps {
  readonly site: BackupSite;
  readonly localCopy: LocalCopy;
  readonly createPool: (size: number) => SealPool;
  readonly workers: number;
  /** The format fixes 4 MiB; tests use smaller chunks. */
  readonly chunkSize: number;
  readonly now: () => number;
  readonly storage: StorageManager | undefined;
  readonly locks: LockManager | undefined;
  /** Label the device key is registered under (ID-6). */
  readonly deviceLabel: string;
  /** RC-4: overrides the pair's policy from the claim (else DEFAULT_ROTATION for an older site). */
  readonly rotation?: RotationPolicy;
  /** The pair engine, told about the stream and steering it (RC-3, RC-5). */
  readonly pairs?: PairLink;
  /** Other sites this console is signed in at: those that keep shares of a volume's keys. */
  readonly shareSites?: (siteIds: readonly string[]) => readonly ShareSite[];
}

export function defaultRunnerDeps(): RunnerDeps {
  return {
    site: liveSite,
    localCopy: new LocalCopy(),
    createPool: createSealPool,
    workers: cryptoWorkerCount(),
    chunkSize: CHUNK_SIZE,
    now: () => Date.now(),
    storage: globalThis.navigator?.storage,
    locks: globalThis.navigator?.locks,
    deviceLabel: globalThis.navigator?.userAgent?.slice(0, 100) ?? 'browser',
  };
}

export class BackupRunner {
  /**
   * RC-2: sends what an interrupted backup left in the outbox once its whole
   * image is stored and signed here, without the image file: the pair
   * engine drains it by itself when the site answers again.
   */
  static drain(
    record: GenerationRecord,
    onSnapshot: (snapshot: BackupSnapshot) => void,
    deps: RunnerDeps = defaultRunnerDeps(),
  ): BackupRunner {
    if (record.state !== 'in-progress' || !record.manifest) {
      throw new BackupError(
        'unexpected',
        'Only a fully stored backup can be sent without its image.',
        {
          message: `generation ${record.generation} of ${record.volumeId} is not fully stored`,
        },
      );
    }
    const request: BackupRequest = {
      file: storedOnly(record),
      identity: {
        kind: record.kind,
        volumeId: record.volumeId,
        ...(record.label === undefined ? {} : { label: record.label }),
        details: {},
      },
      userId: record.userId,
      restorers: record.restorers,
      policy: record.policy,
    };
    return new BackupRunner(request, onSnapshot, deps, true);
  }

  readonly control: RunControl;
  readonly #drainOnly: boolean;
  readonly #deps: RunnerDeps;
  readonly #request: BackupRequest;
  readonly #onSnapshot: (snapshot: BackupSnapshot) => void;
  #snapshot: BackupSnapshot;
  #lastEmit = 0;
  #startedAt = 0;
  #elapsedBefore = 0;

  constructor(
    request: BackupRequest,
    onSnapshot: (snapshot: BackupSnapshot) => void,
    deps: RunnerDeps = defaultRunnerDeps(),
    drainOnly = false,
  ) {
    this.#drainOnly = drainOnly;
    this.#deps = deps;
    this.#request = request;
    this.#onSnapshot = onSnapshot;
    this.control = new RunControl(deps.now);
    this.#snapshot = {
      stage: 'preparing',
      paused: false,
      siteReachable: true,
      volumeId: request.identity.volumeId,
      generation: null,
      totalBytes: request.file.size,
      bytesStored: 0,
      bytesConfirmed: 0,
      transfersSent: 0,
      chunksSkipped: 0,
      elapsedMs: 0,
    };
  }

  pause(): void {
    this.control.pause();
    this.#emit({ paused: true }, true);
  }

  resume(): void {
    this.control.resume();
    this.#emit({ paused: false }, true);
  }

  /** Stops at once; run() then releases the claim and rejects with BackupCancelled. */
  cancel(): void {
    this.control.stop(new BackupCancelled());
  }

  /** Runs the backup; one runner per browser at a time (Web Locks, BK-7). */
  async run(): Promise<BackupResult> {
    const { locks } = this.#deps;
    if (!locks) return this.#run();
    return locks.request(RUNNER_LOCK_NAME, { ifAvailable: true }, async (lock) => {
      if (!lock) {
        throw new BackupError(
          'already_running',
          'Another backup is running in this browser (in another tab or window).',
        );
      }
      return this.#run();
    });
  }

  #elapsed(): number {
    return this.#elapsedBefore + (this.#deps.now() - this.#startedAt - this.control.pausedMs);
  }

  #emit(changes: Partial<BackupSnapshot>, force = false): void {
    this.#snapshot = { ...this.#snapshot, ...changes, elapsedMs: this.#elapsed() };
    const now = this.#deps.now();
    if (force || now - this.#lastEmit >= PROGRESS_INTERVAL_MS) {
      this.#lastEmit = now;
      this.#onSnapshot(this.#snapshot);
    }
  }

  async #run(): Promise<BackupResult> {
    const { site } = this.#deps;
    const { file, identity } = this.#request;
    const volumeId = identity.volumeId;
    this.#startedAt = this.#deps.now();
    let claimed = false;
    try {
      this.#emit({ stage: 'preparing' }, true);
      checkImageSize(file.size);
      const info = await this.#reach(() => site.siteInfo());
      const signingKey = await checkSiteKeys(info, this.#deps.localCopy.db);
      const device = await ensureDeviceKey(this.#request.userId);
      await this.#reach(() => registerDeviceKey(site, device, this.#deps.deviceLabel));

      let pending = (await this.#deps.localCopy.inProgress(this.#request.userId)).find(
        (g) => g.volumeId === volumeId,
      );
      if (this.#drainOnly && !pending?.manifest) {
        throw new BackupError('unexpected', 'This backup is no longer waiting to be sent.', {
          message: `no stored backup of ${volumeId} waits in this browser`,
        });
      }
      if (pending && !this.#drainOnly) await checkSameImage(file, pending);
      const quota = await checkQuota(file.size, pending?.bytesStored ?? 0, this.#deps.storage);
      if (!quota.enough) {
        throw new BackupError('quota_insufficient', 'Not enough browser storage for this backup.', {
          needed: quota.needed,
          available: quota.available ?? 0,
        });
      }
      await requestPersistence(this.#deps.storage);

      this.#emit({ stage: 'claiming' }, true);
      const claim = await this.#reach(() => site.claim(volumeId, pending !== undefined));
      claimed = true;
      if (pending && committedMeanwhile(pending, claim)) {
        const result = await this.#completeLanded(pending, signingKey);
        await site.releaseClaim(volumeId).catch(() => undefined);
        claimed = false;
        return result;
      }
      if (this.#drainOnly && pending?.generation !== claim.nextGeneration) {
        // Draining never throws local work away; the operator decides on the screen.
        throw new BackupError('unexpected', 'The site expects another generation of this volume.', {
          message: `the site expects generation ${claim.nextGeneration}`,
        });
      }
      if (pending && pending.generation !== claim.nextGeneration) {
        await discardGeneration(this.#deps.localCopy, pending);
        pending = undefined;
      }
      const state = await prepareGeneration(this.#deps, this.#request, {
        info,
        signingKey,
        device,
        claim,
        pending,
      });
      this.#elapsedBefore = state.record.elapsedMs;
      return await this.#transfer(state, claim);
    } catch (error) {
      if (this.control.stopped && this.control.signal.reason instanceof BackupCancelled) {
        // BK-7: Cancel gives the claim back; the local copy stays until the operator decides.
        if (claimed) await site.releaseClaim(volumeId).catch(() => undefined);
        throw this.control.signal.reason;
      }
      throw error;
    }
  }

  /** What the stream functions need: the local copy and a way to claim again. */
  #stream(state: RunState): StreamDeps {
    return {
      localCopy: this.#deps.localCopy,
      claim: (resume) => this.#reach(() => this.#deps.site.claim(state.record.volumeId, resume)),
    };
  }

  /** Calls the site once; unreachable becomes a clear error before anything is stored. */
  async #reach<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (this.control.stopped) throw this.control.signal.reason;
      if (isSiteUnreachable(error)) {
        throw new BackupError(
          'site_unreachable',
          'The site could not be reached.',
          {},
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  async #transfer(state: RunState, firstClaim: Claim): Promise<BackupResult> {
    const { localCopy, site } = this.#deps;
    const { record, ledger } = state;
    // The ledger learns what is waiting and what the site already holds.
    const waiting = await localCopy.outbox(record.volumeId, record.generation);
    for (const entry of waiting) if (entry.kind === 'chunk') ledger.markPending(entry.chunkId);
    ledger.restoreConfirmed(await localCopy.index(record.volumeId, record.generation));
    const reconciled = await reconcileOutbox(this.#stream(state), state, firstClaim);
    state.record = (await localCopy.getGeneration(record.volumeId, record.generation))!;

    const reader = new ChunkReader(this.#request.file, record.chunkSize);
    const pool = this.#deps.createPool(this.#deps.workers);
    const budget = new ChunkBudget(maxChunksInMemory(pool.size));
    let transfersSent = state.record.transfersSent;
    let chunksSkipped = state.record.chunksSkipped;
    let bytesStored = state.record.bytesStored;
    let encodingDone = false;
    const uploader = new Uploader({
      volumeId: record.volumeId,
      generation: record.generation,
      chunkSize: record.chunkSize,
      site,
      localCopy,
      ledger,
      control: this.control,
      pairId: reconciled.claim.pairId,
      nextSeq: reconciled.nextSeq,
      onReachability: (reachable) => {
        this.#deps.pairs?.reachability(record.volumeId, reachable);
        this.#emit({ siteReachable: reachable }, true);
      },
      onSettled: (_entry, sent) => {
        if (sent) transfersSent += 1;
        else chunksSkipped += 1;
        this.#emit({
          bytesConfirmed: ledger.bytesConfirmed,
          transfersSent,
          chunksSkipped,
          ...(encodingDone ? { stage: uploader.pendingCount <= 1 ? 'committing' : 'sending' } : {}),
        });
      },
    });
    uploader.load(reconciled.outbox);
    const schedule = new EpochSchedule(
      this.#deps.rotation ?? reconciled.claim.rotation ?? DEFAULT_ROTATION,
      this.#deps.now(),
    );
    const status = (): PairStreamStatus => {
      const elapsed = this.#elapsed();
      return {
        seqSent: uploader.seqSent,
        epoch: state.record.epoch,
        nextRotationAt: schedule.nextRotationAt,
        bytesPerSecond: elapsed > 0 ? (ledger.bytesConfirmed * 1000) / elapsed : null,
      };
    };
    const detach = this.#deps.pairs?.attach({
      volumeId: record.volumeId,
      pairId: reconciled.claim.pairId,
      suspend: (options) => uploader.suspend(options),
      resume: () => uploader.resume(),
      rekey: () => schedule.rekeys.request(),
      status,
    });
    this.#emit(
      {
        stage: 'encrypting',
        generation: record.generation,
        bytesStored,
        bytesConfirmed: ledger.bytesConfirmed,
        transfersSent,
        chunksSkipped,
      },
      true,
    );

    try {
      const encoding = (async () => {
        await encodeInEpochs({
          state,
          schedule,
          now: this.#deps.now,
          initPool: () =>
            pool.init({
              volumeId: record.volumeId,
              epoch: state.record.epoch,
              chunkIdKey: state.chunkIdKey,
              dataKey: state.dataKey,
              knownChunkIds: ledger.knownChunkIds(),
            }),
          reader,
          pool,
          budget,
          localCopy,
          ledger,
          control: this.control,
          handOver: (entries, blob) => uploader.enqueue(entries, blob),
          onStored: (progress) => {
            bytesStored = progress.bytesStored;
            this.#emit({ bytesStored, bytesConfirmed: ledger.bytesConfirmed });
          },
          elapsedMs: () => this.#elapsed(),
        });
        schedule.rekeys.close();
        encodingDone = true;
        this.#emit({ stage: uploader.pendingCount <= 1 ? 'committing' : 'sending' }, true);
        await this.#addCommit(state, uploader);
      })();
      encoding.catch((error: unknown) => this.control.stop(error));
      const [, answer] = await Promise.all([encoding, this.#sendAll(state, uploader)]);
      this.#emit({ stage: 'committing' }, true);
      return await this.#finish(state.record, state.signingKey, state.device, answer.receipt!);
    } finally {
      schedule.rekeys.close();
      detach?.();
      pool.close();
      uploader.dispose();
    }
  }

  /**
   * Sends until the receipt. A lost claim is claimed again and the outbox
   * reconciled; a stream the site lost part of is rebuilt from the local
   * copy. Each at most twice, then the site's refusal is shown.
   */
  async #sendAll(state: RunState, uploader: Uploader): ReturnType<Uploader['run']> {
    for (let recoveries = 0; ; recoveries++) {
      try {
        return await uploader.run();
      } catch (error) {
        const refusal =
          error instanceof ClaimLostError || error instanceof StreamLostError
            ? error.refusal
            : error;
        const lost = error instanceof ClaimLostError || error instanceof StreamLostError;
        if (
          refusal instanceof ApiError &&
          !isSiteUnreachable(refusal) &&
          (!lost || recoveries >= 2)
        ) {
          // RC-3: a transfer the site refused makes the pair PSUE, with the site's reason.
          this.#deps.pairs?.rejected(state.record.volumeId, refusal.message);
        }
        if (!lost) throw error;
        if (recoveries >= 2) throw error.refusal;
        uploader.holdIntake();
        state.record = (await this.#deps.localCopy.getGeneration(
          state.record.volumeId,
          state.record.generation,
        ))!;
        const stream = this.#stream(state);
        const reconciled =
          error instanceof ClaimLostError
            ? await reconcileOutbox(stream, state, await stream.claim(true))
            : await rebuildOutbox(stream, state);
        uploader.renumber(reconciled.claim.pairId, reconciled.nextSeq);
        uploader.reload(reconciled.outbox);
      }
    }
  }

  /** Builds and signs the manifest once every chunk is stored, and queues the commit. */
  async #addCommit(state: RunState, uploader: Uploader): Promise<void> {
    const { localCopy } = this.#deps;
    let record = (await localCopy.getGeneration(state.record.volumeId, state.record.generation))!;
    if (!record.manifest) {
      const chunks = await localCopy.index(record.volumeId, record.generation);
      if (chunks.length !== record.chunkCount || !record.hashState) {
        throw new BackupError('unexpected', 'The local copy of this backup is incomplete.', {
          message: `${chunks.length} of ${record.chunkCount} chunks are stored`,
        });
      }
      const imageSha256 = (await ImageHash.restore(new Uint8Array(record.hashState))).digestHex();
      const unsigned = await buildManifest(
        {
          volumeId: record.volumeId,
          generation: record.generation,
          previousManifestHash: record.previousManifestHash,
          chunks,
          deviceKeyFingerprint: state.device.fingerprint,
          chunkSize: record.chunkSize,
          ...(record.escrow
            ? {
                escrow: {
                  threshold: record.escrow.threshold,
                  sites: record.escrow.sites.map(({ siteId, fingerprint }) => ({
                    siteId,
                    fingerprint,
                  })),
                },
              }
            : {}),
        },
        {
          imageSha256,
          fileName: record.file.name,
          size: record.file.size,
          volumeKind: record.kind,
        },
        { dataKey: state.dataKey, epoch: record.epoch },
      );
      const manifest = await signManifest(unsigned, state.device.privateKey);
      const changes = { manifest, manifestHash: await manifestHash(manifest), imageSha256 };
      await localCopy.updateGeneration(record.volumeId, record.generation, changes);
      record = { ...record, ...changes };
    }
    state.record = record;
    const commit = commitEntry(record);
    const waiting = await localCopy.outbox(record.volumeId, record.generation);
    if (!waiting.some((e) => e.kind === 'commit')) await localCopy.putOutbox([commit]);
    uploader.enqueue([commit]);
  }

  /** BK-10: checks the receipt's signature and content, stores it, drops the data key (BK-8). */
  async #finish(
    record: GenerationRecord,
    signingKey: CryptoKey,
    device: DeviceKeyRecord,
    receipt: Receipt,
  ): Promise<BackupResult> {
    let statement: ReceiptStatement;
    try {
      statement = await verifyReceipt(receipt, signingKey, {
        volumeId: record.volumeId,
        generation: record.generation,
        manifestHash: record.manifestHash!,
        owner: record.userId,
        policy: record.policy,
        restorerListHash: await restorerListHash(record.restorers),
        siteId: record.siteId,
        deviceKeyFingerprint: device.fingerprint,
      });
    } catch (error) {
      throw new BackupError(
        'receipt_invalid',
        'The site confirmed this backup with a receipt that does not check out.',
        { message: error instanceof Error ? error.message : String(error) },
        { cause: error },
      );
    }
    const elapsedMs = this.#elapsed();
    const completedAt = new Date(this.#deps.now()).toISOString();
    await this.#deps.localCopy.updateGeneration(record.volumeId, record.generation, { elapsedMs });
    await this.#deps.localCopy.complete(record, receipt, statement, completedAt);
    await deletePendingDataKey(record.volumeId, record.generation);
    // The home site holds its share now; other sites' shares stay sealed until they confirm.
    await this.#deps.localCopy.dropEscrowEnvelopes(
      record.volumeId,
      record.siteId,
      record.generation,
    );
    this.#deps.pairs?.changed(record.volumeId);
    this.#emit({ stage: 'complete', bytesConfirmed: record.file.size }, true);
    const sent = this.#snapshot.transfersSent;
    return resultOf(record, receipt, statement, elapsedMs, sent);
  }

  /**
   * The commit of an interrupted backup reached the site before the page
   * went away: fetch its receipt and finish, instead of backing up again.
   */
  async #completeLanded(pending: GenerationRecord, signingKey: CryptoKey): Promise<BackupResult> {
    const device = await ensureDeviceKey(this.#request.userId);
    const landed = await this.#reach(() =>
      this.#deps.site.generationManifest(pending.volumeId, pending.generation),
    );
    this.#elapsedBefore = pending.elapsedMs;
    this.#startedAt = this.#deps.now();
    return this.#finish(pending, signingKey, device, landed.receipt);
  }
}

/** The image of a fully stored backup, which draining never reads. */
function storedOnly(record: GenerationRecord): ImageFile {
  return {
    name: record.file.name,
    size: record.file.size,
    lastModified: record.file.lastModified,
    slice: () => {
      throw new BackupError('unexpected', 'The image of a stored backup is not read again.', {
        message: 'a drained backup tried to read its image',
      });
    },
  };
}

function checkImageSize(size: number): void {
  if (size === 0) throw new BackupError('image_empty', 'The image is empty (0 bytes).');
  if (size < MIN_IMAGE_SIZE) {
    throw new BackupError('image_too_small', 'The file is too small to be a media image.', {
      size,
      min: MIN_IMAGE_SIZE,
    });
  }
}

function committedMeanwhile(pending: GenerationRecord, claim: Claim): boolean {
  return (
    pending.manifestHash !== undefined &&
    claim.nextGeneration === pending.generation + 1 &&
    claim.previousManifestHash === pending.manifestHash
  );
}

function resultOf(
  record: GenerationRecord,
  receipt: Receipt,
  statement: ReceiptStatement,
  durationMs: number,
  transfersSent: number,
): BackupResult {
  const size = record.file.size;
  return {
    volumeId: record.volumeId,
    generation: record.generation,
    fileName: record.file.name,
    size,
    imageSha256: record.imageSha256 ?? '',
    durationMs,
    bytesPerSecond: durationMs > 0 ? (size * 1000) / durationMs : 0,
    transfersSent,
    bytesSent: transfersSent * paddedTransferSize(record.chunkSize),
    receipt,
    statement,
  };
}
