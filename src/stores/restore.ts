import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import { fetchRestorableVolumes, reportIntegrityFailure, type RetryPolicy } from '@/api/restore';
import { parseReceipt, type Receipt } from '@/core/crypto';
import { deleteRestoreKey } from '@/storage/key-store';
import {
  deleteRestore,
  getRestore,
  listRestores,
  putRestore,
  updateRestore,
  type RestoreRecord,
  type RestoreSource,
} from '@/storage/restore-progress';
import { RestoreQuotaError } from '@/workers/restore-opfs';
import type { PipelineProgress } from '@/workers/restore-pipeline';
import type { PreparedRestoreJob, RestoreJob } from '@/workers/restore-job';
import { latestGeneration, mergeCatalog, type RestorableRow } from './restore-catalog';
import {
  describeRestoreError,
  integrityWhat,
  REPORTED,
  type RestoreProblem,
} from './restore-errors';
import { createEphemeralKey, newRequestId, obtainEnvelope, openReleasedKeys } from './restore-keys';
import { listLocalGenerations } from './restore-local-copies';
import { loadVerifiedManifest, openSecret } from './restore-manifest';
import { restoreRuntime } from './restore-runtime';
import { useSessionStore } from './session';

/**
 * `keys`: the key release is asked for; `approval`: an administrator must
 * approve it first; `manifest`: the signed index is checked; `image`: chunks
 * are checked and written; `complete`: verified and downloaded; `failed`: it
 * ended for good; `interrupted`: it stopped and can continue from what was
 * verified.
 */
export type RestoreStage =
  'keys' | 'approval' | 'manifest' | 'image' | 'complete' | 'failed' | 'interrupted' | 'cancelled';

const RUNNING: ReadonlySet<RestoreStage> = new Set(['keys', 'approval', 'manifest', 'image']);

export interface ActiveRestore {
  readonly restoreId: string;
  readonly volumeId: string;
  readonly generation: number;
  readonly source: RestoreSource;
  stage: RestoreStage;
  fileName: string | null;
  /** Plaintext size of the image, once the sealed part is open. */
  size: number | null;
  chunkCount: number;
  nextPosition: number;
  bytesWritten: number;
  fromLocal: number;
  fromSite: number;
  damagedLocal: readonly number[];
  /** Bytes per second since this run started. */
  rate: number;
  sha256: string | null;
  downloaded: boolean;
  problem: RestoreProblem | null;
  /** Whether the site's administrators were told of a tampered chunk (RS-5). */
  reported: boolean | null;
}

export interface RestoreChoice {
  /** Latest by default (RS-7). */
  readonly generation?: number;
  /** Local copy first, then the site, by default (RS-4). */
  readonly source?: RestoreSource;
}

/** A kept, completed image is removed from this browser's storage after this long. */
export const COMPLETED_KEPT_MS = 10 * 60 * 1000;

/** Outcomes after which the restore stays resumable: nothing was refused or tampered with. */
function resumable(problem: RestoreProblem): boolean {
  switch (problem.kind) {
    case 'unreachable':
    case 'quota':
    case 'busy':
    case 'localMissing':
    case 'unexpected':
      return true;
    case 'site':
      return problem.error.status === 0 || problem.error.status === 401;
    default:
      return false;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** This browser keeps local copies and restore progress in IndexedDB; without it there are none. */
function hasIndexedDb(): boolean {
  return typeof indexedDB !== 'undefined';
}

/** Runs `work` holding this restore's Web Lock, so two tabs never write one image. */
async function withRestoreLock<T>(restoreId: string, work: () => Promise<T>): Promise<T | 'busy'> {
  const locks = globalThis.navigator?.locks;
  if (!locks) return work();
  return locks.request(`custodian-restore:${restoreId}`, { ifAvailable: true }, (lock) =>
    lock ? work() : ('busy' as const),
  );
}

/**
 * The restore screen's state (RS-1..RS-8): the restorable volumes, and the
 * one restore running at a time, from key release to the download, resumed
 * after a reload from what was verified.
 */
export const useRestoreStore = defineStore('restore', () => {
  const session = useSessionStore();
  const rows = ref<RestorableRow[]>([]);
  const listState = ref<'idle' | 'loading' | 'ready' | 'failed'>('idle');
  const listError = shallowRef<unknown>(null);
  const active = ref<ActiveRestore | null>(null);
  /** The retry policy of site calls; tests shorten it. */
  const retry = shallowRef<RetryPolicy | undefined>(undefined);

  let controller: AbortController | undefined;
  let job: RestoreJob | undefined;

  const running = computed(() => active.value !== null && RUNNING.has(active.value.stage));

  async function loadVolumes(): Promise<void> {
    listState.value = 'loading';
    listError.value = null;
    const userId = session.userId;
    let local: Awaited<ReturnType<typeof listLocalGenerations>> = [];
    if (userId && hasIndexedDb()) {
      try {
        local = await listLocalGenerations(userId);
      } catch {
        // No local copy database in this browser (or no IndexedDB at all).
        local = [];
      }
    }
    try {
      rows.value = mergeCatalog(await fetchRestorableVolumes(), local);
      listState.value = 'ready';
    } catch (error) {
      rows.value = mergeCatalog([], local);
      listError.value = error;
      listState.value = 'failed';
    }
  }

  function setActive(record: RestoreRecord): ActiveRestore {
    const progress = record.progress;
    active.value = {
      restoreId: record.restoreId,
      volumeId: record.volumeId,
      generation: record.generation,
      source: record.source,
      stage: 'keys',
      fileName: null,
      size: null,
      chunkCount: record.manifest?.index.chunks.length ?? 0,
      nextPosition: progress?.nextPosition ?? 0,
      bytesWritten: progress?.bytesWritten ?? 0,
      fromLocal: 0,
      fromSite: 0,
      damagedLocal: [],
      rate: 0,
      sha256: null,
      downloaded: false,
      problem: null,
      reported: null,
    };
    return active.value;
  }

  /** Drops a restore's key, record and output: it has ended (RS-2). */
  async function forget(restoreId: string): Promise<void> {
    await deleteRestoreKey(restoreId).catch(() => undefined);
    await deleteRestore(restoreId).catch(() => undefined);
    await restoreRuntime()
      .removeResult(restoreId)
      .catch(() => undefined);
  }

  /** Removes images completed a while ago, and any but `keep` when a new restore starts. */
  async function removeCompleted(userId: string, keep?: string, all = false): Promise<void> {
    const now = Date.now();
    for (const record of await listRestores(userId)) {
      if (record.phase !== 'complete' || record.restoreId === keep) continue;
      const age = now - Date.parse(record.completedAt ?? record.updatedAt);
      if (all || age > COMPLETED_KEPT_MS) await forget(record.restoreId);
    }
  }

  async function fail(view: ActiveRestore, record: RestoreRecord, error: unknown): Promise<void> {
    const problem = describeRestoreError(error, record.source);
    view.problem = problem;
    if (resumable(problem)) {
      view.stage = 'interrupted';
      return;
    }
    view.stage = 'failed';
    await forget(record.restoreId);
    if (REPORTED.has(problem.kind)) {
      const chunk = problem.kind === 'tamperedChunk' ? problem : undefined;
      try {
        await reportIntegrityFailure(
          {
            volumeId: record.volumeId,
            generation: record.generation,
            ...(chunk?.chunkIndex != null ? { chunkIndex: chunk.chunkIndex } : {}),
            ...(chunk?.chunkId ? { chunkId: chunk.chunkId } : {}),
            what: integrityWhat(problem, errorMessage(error)),
          },
          retry.value,
        );
        view.reported = true;
      } catch {
        view.reported = false;
      }
    }
    // The record's state may have changed (burned, used by you): show it.
    void loadVolumes();
  }

  function onProgress(view: ActiveRestore, startedAt: number, startBytes: number) {
    return (progress: PipelineProgress): void => {
      view.nextPosition = progress.nextPosition;
      view.chunkCount = progress.chunkCount;
      view.bytesWritten = progress.bytesWritten;
      view.fromLocal = progress.fromLocal;
      view.fromSite = progress.fromSite;
      view.damagedLocal = progress.damagedLocal;
      const seconds = (performance.now() - startedAt) / 1000;
      view.rate = seconds > 0.2 ? (progress.bytesWritten - startBytes) / seconds : 0;
    };
  }

  /** Takes a restore from wherever it stands to its end (RS-2..RS-6). */
  async function drive(record: RestoreRecord): Promise<void> {
    const view = setActive(record);
    const stop = new AbortController();
    controller = stop;
    const { signal } = stop;
    let prepared: PreparedRestoreJob | undefined;
    try {
      const outcome = await withRestoreLock(record.restoreId, async () => {
        const runtime = restoreRuntime();
        if (!runtime.supported()) {
          view.problem = { kind: 'unsupported' };
          view.stage = 'failed';
          return;
        }
        // The worker is loaded while the site still answers (see restore-job.ts).
        prepared = runtime.prepareJob();
        await prepared.ready;
        const envelope = await obtainEnvelope(
          record.restoreId,
          record.volumeId,
          record.generation,
          {
            onPending: () => {
              view.stage = 'approval';
            },
            retry: retry.value,
            signal,
          },
        );
        view.stage = 'manifest';
        const keys = await openReleasedKeys(
          record.restoreId,
          record.volumeId,
          record.generation,
          envelope,
        );
        const kept =
          record.manifest && record.devicePublicKey
            ? { manifest: record.manifest, devicePublicKey: record.devicePublicKey }
            : undefined;
        const verified = await loadVerifiedManifest({
          userId: record.userId,
          volumeId: record.volumeId,
          generation: record.generation,
          kept,
          retry: retry.value,
          signal,
        });
        const secret = await openSecret(verified.manifest, keys);
        const saved = await updateRestore(record.restoreId, {
          phase: 'image',
          manifest: verified.manifest,
          devicePublicKey: verified.devicePublicKey,
        });
        const progress = saved?.progress;
        view.fileName = secret.fileName;
        view.size = secret.size;
        view.chunkCount = verified.manifest.index.chunks.length;
        view.bytesWritten = progress?.bytesWritten ?? 0;
        view.nextPosition = progress?.nextPosition ?? 0;
        // BK-11: room for what is still to be written.
        const room = await runtime.checkRoom(secret.size - view.bytesWritten);
        if (!room.enough) throw new RestoreQuotaError();
        signal.throwIfAborted();
        view.stage = 'image';
        job = prepared.start(
          {
            type: 'start',
            restoreId: record.restoreId,
            index: verified.manifest.index,
            secret,
            keys,
            ...(progress ? { progress } : {}),
            source: record.source,
            ...(retry.value ? { retry: retry.value } : {}),
          },
          onProgress(view, performance.now(), view.bytesWritten),
        );
        prepared = undefined;
        const sha256 = await job.done;
        job = undefined;
        await updateRestore(record.restoreId, {
          phase: 'complete',
          imageSha256: sha256,
          completedAt: new Date().toISOString(),
          progress: undefined,
        });
        // RS-2: the restore has ended, so its ephemeral key and envelope go.
        await deleteRestoreKey(record.restoreId);
        view.sha256 = sha256;
        view.bytesWritten = secret.size;
        view.nextPosition = view.chunkCount;
        view.stage = 'complete';
        runtime.deliver(await runtime.openResult(record.restoreId), secret.fileName);
        view.downloaded = true;
        // A one-time or once-per-restorer record has changed state: show it.
        void loadVolumes();
      });
      if (outcome === 'busy') {
        view.problem = { kind: 'busy' };
        view.stage = 'interrupted';
      }
    } catch (error) {
      job = undefined;
      if (signal.aborted) return;
      await fail(view, record, error);
    } finally {
      prepared?.dispose();
      if (controller === stop) controller = undefined;
    }
  }

  /** RS-1, RS-4, RS-7: starts a restore at once (latest generation, automatic source). */
  async function restore(volumeId: string, choice: RestoreChoice = {}): Promise<void> {
    const userId = session.userId;
    if (!userId || running.value) return;
    const row = rows.value.find((r) => r.volumeId === volumeId);
    const generation = choice.generation ?? (row && latestGeneration(row)?.generation) ?? 1;
    const restoreId = newRequestId();
    await createEphemeralKey(restoreId, volumeId, generation);
    const now = new Date().toISOString();
    const record: RestoreRecord = {
      restoreId,
      userId,
      volumeId,
      generation,
      source: choice.source ?? 'automatic',
      phase: 'keys',
      startedAt: now,
      updatedAt: now,
    };
    await putRestore(record);
    await removeCompleted(userId, restoreId, true).catch(() => undefined);
    await drive(record);
  }

  /**
   * RS-1 "as when holding the medium": asks for the keys of a typed volume ID
   * at once. The site decides; a volume it does not list for this user is
   * asked for as generation 1, which it refuses whatever the generation.
   */
  async function openVolume(volumeId: string): Promise<void> {
    const id = volumeId.trim();
    if (!id || running.value) return;
    if (!rows.value.some((r) => r.volumeId === id)) await loadVolumes();
    await restore(id);
  }

  /** RS-1: a receipt file (or a recovery kit) names the volume and generation to restore. */
  async function openReceipt(text: string): Promise<void> {
    const receipt = receiptIn(text);
    await restore(receipt.statement.volumeId, { generation: receipt.statement.generation });
  }

  /** Continues an interrupted restore from what was verified (RS-6, RS-8). */
  async function resume(): Promise<void> {
    const view = active.value;
    if (!view || view.stage !== 'interrupted') return;
    const record = await getRestore(view.restoreId);
    if (!record) {
      active.value = null;
      return;
    }
    // The local copy lacked a chunk: go on with the site as well.
    const next =
      view.problem?.kind === 'localMissing'
        ? ((await updateRestore(record.restoreId, { source: 'automatic' })) ?? record)
        : record;
    await drive(next);
  }

  /** On opening the screen: picks up a restore a reload or crash interrupted (RS-6). */
  async function resumeInterrupted(): Promise<void> {
    const userId = session.userId;
    if (!userId || running.value || !hasIndexedDb()) return;
    let records: RestoreRecord[];
    try {
      await removeCompleted(userId);
      records = await listRestores(userId);
    } catch {
      return;
    }
    const unfinished = records.find((r) => r.phase !== 'complete');
    if (!unfinished || active.value?.restoreId === unfinished.restoreId) return;
    await drive(unfinished);
  }

  /** Cancel: stops, deletes the partial image and ends the key release's life here. */
  async function cancel(): Promise<void> {
    const view = active.value;
    if (!view || view.stage === 'complete') return;
    controller?.abort(new DOMException('Cancelled', 'AbortError'));
    job?.cancel(true);
    job = undefined;
    await forget(view.restoreId);
    view.stage = 'cancelled';
    view.problem = null;
  }

  /** Hands the finished image to the browser again. */
  async function downloadAgain(): Promise<void> {
    const view = active.value;
    if (!view?.sha256 || !view.fileName) return;
    const runtime = restoreRuntime();
    runtime.deliver(await runtime.openResult(view.restoreId), view.fileName);
  }

  /** The finished image as a file, for "Save to file…". */
  async function finishedFile(): Promise<{ file: Blob; fileName: string } | undefined> {
    const view = active.value;
    if (!view?.sha256 || !view.fileName) return undefined;
    return { file: await restoreRuntime().openResult(view.restoreId), fileName: view.fileName };
  }

  /** Removes the finished image from this browser's storage and closes the status. */
  async function dismiss(): Promise<void> {
    const view = active.value;
    if (!view || running.value) return;
    if (view.stage === 'complete') await forget(view.restoreId);
    active.value = null;
  }

  function setRetryPolicy(policy: RetryPolicy | undefined): void {
    retry.value = policy;
  }

  return {
    rows,
    listState,
    listError,
    active,
    running,
    loadVolumes,
    restore,
    openVolume,
    openReceipt,
    resume,
    resumeInterrupted,
    cancel,
    downloadAgain,
    finishedFile,
    dismiss,
    retryPolicy: retry,
    setRetryPolicy,
  };
});

/** The receipt in a receipt file, a {receipt} wrapper, or a recovery kit's latest one. */
export function receiptIn(text: string): Receipt {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return parseReceipt(text);
  }
  if (value && typeof value === 'object') {
    const object = value as { receipt?: unknown; generations?: { receipt?: unknown }[] };
    if (object.receipt) return parseReceipt(object.receipt);
    const kit = object.generations?.filter((g) => g.receipt).at(-1);
    if (kit) return parseReceipt(kit.receipt);
  }
  return parseReceipt(value);
}
