import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { RetryPolicy } from '@/shared/api/request';
import { fetchRestorableVolumes } from '@/shared/api/restore';
import {
  getRestore,
  listRestores,
  putRestore,
  updateRestore,
  type RestoreRecord,
  type RestoreSource,
} from '@/shared/storage/restore-progress';
import type { RestoreJob } from '@/features/restore/worker/restore-job';
import { latestGeneration, mergeCatalog, type RestorableRow } from '../engine/restore-catalog';
import { describeRestoreError } from '../engine/restore-errors';
import {
  BUNDLE_HEADER_LENGTH,
  BUNDLE_TRAILER_LENGTH,
  readBundle,
  readBundleHeader,
} from '@/core/crypto';
import { createEphemeralKey, newRequestId } from '../engine/restore-keys';
import { listLocalGenerations } from '../engine/restore-local-copies';
import { receiptIn } from '../engine/restore-recovery-kit';
import {
  activeRestoreOf,
  forgetRestore,
  runRestore,
  RUNNING,
  type ActiveRestore,
  type ChosenBundle,
  type KnownSite,
} from '../engine/restore-run';
import { restoreRuntime } from '../engine/restore-runtime';
import { useSessionStore } from '@/features/account';
import { useOtherSitesStore, useSiteStore, type SignInState } from '@/features/sites';

export type { ActiveRestore, RestoreStage } from '../engine/restore-run';

export interface RestoreChoice {
  /** Latest by default (RS-7). */
  readonly generation?: number;
  /** Local copy first, then this console's site, then the other sites, by default (RS-4, MS-5). */
  readonly source?: RestoreSource;
  /** The bundle file to read, with `source` `bundle` (FORMAT.md §16). */
  readonly bundle?: ChosenBundle;
}

/** The chosen bundle is of another generation than the interrupted restore that waits for its file. */
export class OtherBundleError extends Error {
  readonly code = 'other_bundle';

  constructor(
    readonly chosen: { volumeId: string; generation: number },
    readonly needed: { volumeId: string; generation: number },
  ) {
    super(
      `This bundle holds generation ${chosen.generation} of ${chosen.volumeId}; the interrupted restore reads generation ${needed.generation} of ${needed.volumeId}.`,
    );
    this.name = 'OtherBundleError';
  }
}

/**
 * A bundle file's manifest, length and trailer (FORMAT.md §16 steps 1 and
 * 3), read without reading its blobs: a file that is not a bundle, was cut
 * off or grew is refused before any key is asked for.
 */
export async function readBundleFile(file: Blob): Promise<ChosenBundle> {
  const head = new Uint8Array(await file.slice(0, BUNDLE_HEADER_LENGTH).arrayBuffer());
  const length = readBundleHeader(head, file.size);
  const manifestBytes = new Uint8Array(
    await file.slice(BUNDLE_HEADER_LENGTH, BUNDLE_HEADER_LENGTH + length).arrayBuffer(),
  );
  const trailer = new Uint8Array(
    await file.slice(Math.max(0, file.size - BUNDLE_TRAILER_LENGTH)).arrayBuffer(),
  );
  const layout = readBundle(manifestBytes, file.size, trailer);
  return { file, manifest: layout.manifest, blobsStart: layout.blobsStart };
}

/** A kept, completed image is removed from this browser's storage after this long. */
export const COMPLETED_KEPT_MS = 10 * 60 * 1000;

/**
 * Other sites whose kept token a restore uses (MS-5): signed in, or signed in
 * and unreachable when last asked (the restore passes over a site that is
 * still away). A site refused for its fingerprint gets nothing.
 */
const TOKEN_USABLE: ReadonlySet<SignInState> = new Set(['signed-in', 'unreachable']);

/** This browser keeps local copies and restore progress in IndexedDB; without it there are none. */
function hasIndexedDb(): boolean {
  return typeof indexedDB !== 'undefined';
}

/**
 * The restore screen's state (RS-1..RS-8): the restorable volumes, and the
 * one restore running at a time, from key release to the download, resumed
 * after a reload from what was verified.
 */
export const useRestoreStore = defineStore('restore', () => {
  const session = useSessionStore();
  const others = useOtherSitesStore();
  const home = useSiteStore();
  const rows = ref<RestorableRow[]>([]);
  const listState = ref<'idle' | 'loading' | 'ready' | 'failed'>('idle');
  const listError = shallowRef<unknown>(null);
  const active = ref<ActiveRestore | null>(null);
  /** The retry policy of site calls; tests shorten it. */
  const retry = shallowRef<RetryPolicy | undefined>(undefined);

  let controller: AbortController | undefined;
  let job: RestoreJob | undefined;
  /** The bundle files of restores from a bundle, by restore ID; a reload lets go of them. */
  const bundles = new Map<string, ChosenBundle>();
  /** Why the bundle file chosen last cannot be restored from, if it cannot. */
  const bundleProblem = shallowRef<unknown>(null);
  /** An interrupted restore from a bundle waits for its file to be chosen again. */
  const awaitingBundle = computed(
    () => active.value?.stage === 'interrupted' && active.value.problem?.kind === 'bundleNeeded',
  );

  const running = computed(() => active.value !== null && RUNNING.has(active.value.stage));
  /**
   * No new restore while one runs or waits to continue: an interrupted
   * restore holds a released key, so it is continued or cancelled first.
   */
  const starting = ref(false);
  const busy = computed(
    () => starting.value || running.value || active.value?.stage === 'interrupted',
  );

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

  /** Removes images completed a while ago, and any but `keep` when a new restore starts. */
  async function removeCompleted(userId: string, keep?: string, all = false): Promise<void> {
    const now = Date.now();
    for (const record of await listRestores(userId)) {
      if (record.phase !== 'complete' || record.restoreId === keep) continue;
      const age = now - Date.parse(record.completedAt ?? record.updatedAt);
      if (all || age > COMPLETED_KEPT_MS) await forgetRestore(record.restoreId);
    }
  }

  /** The other sites as the site directory lists them, with the token a restore may use at each. */
  function knownSites(): KnownSite[] {
    return others.sites.map((site) => ({
      siteId: site.siteId,
      name: site.name,
      url: site.url,
      token: TOKEN_USABLE.has(site.state) ? others.tokens[site.siteId] : undefined,
    }));
  }

  /** Takes a restore from wherever it stands to its end, showing it as the active one. */
  async function drive(record: RestoreRecord): Promise<void> {
    active.value = activeRestoreOf(record);
    const view = active.value;
    const stop = new AbortController();
    controller = stop;
    try {
      // Just after a reload the other sites may still be listed and checked.
      await others.settled();
      if (!home.info) await home.load().catch(() => undefined);
      await runRestore(record, view, {
        retry: retry.value,
        sites: knownSites(),
        home: { siteId: home.info?.siteId ?? '', name: home.info?.name ?? '' },
        signal: stop.signal,
        onJob: (running) => {
          job = running;
        },
        onRecordChanged: () => void loadVolumes(),
        ...(bundles.has(record.restoreId) ? { bundle: bundles.get(record.restoreId)! } : {}),
      });
    } finally {
      if (controller === stop) controller = undefined;
    }
  }

  /** RS-1, RS-4, RS-7: starts a restore at once (latest generation, automatic source). */
  async function restore(volumeId: string, choice: RestoreChoice = {}): Promise<void> {
    const userId = session.userId;
    if (!userId || busy.value) return;
    // Held until the restore shows as active, so a double click starts one restore.
    starting.value = true;
    const now = new Date().toISOString();
    const row = rows.value.find((r) => r.volumeId === volumeId);
    const record: RestoreRecord = {
      restoreId: newRequestId(),
      userId,
      volumeId,
      generation: choice.generation ?? (row && latestGeneration(row)?.generation) ?? 1,
      source: choice.source ?? 'automatic',
      phase: 'keys',
      startedAt: now,
      updatedAt: now,
    };
    if (choice.bundle) bundles.set(record.restoreId, choice.bundle);
    try {
      await createEphemeralKey(record.restoreId, volumeId, record.generation);
      await putRestore(record);
      await removeCompleted(userId, record.restoreId, true).catch(() => undefined);
    } catch (error) {
      // This browser could not keep the restore's key (storage blocked or full).
      active.value = {
        ...activeRestoreOf(record),
        stage: 'failed',
        problem: describeRestoreError(error),
      };
      return;
    } finally {
      starting.value = false;
    }
    await drive(record);
  }

  /**
   * RS-1 "as when holding the medium": asks for the keys of a typed volume ID
   * at once. The site decides; a volume it does not list for this user is
   * asked for as generation 1, which it refuses whatever the generation.
   */
  async function openVolume(volumeId: string): Promise<void> {
    const id = volumeId.trim();
    if (!id || busy.value) return;
    if (!rows.value.some((r) => r.volumeId === id)) {
      starting.value = true;
      try {
        await loadVolumes();
      } finally {
        starting.value = false;
      }
    }
    await restore(id);
  }

  /** RS-1: a receipt file (or a recovery kit) names the volume and generation to restore. */
  async function openReceipt(text: string): Promise<void> {
    const receipt = receiptIn(text);
    await restore(receipt.statement.volumeId, { generation: receipt.statement.generation });
  }

  /**
   * Restores the generation a bundle file carries (RS-11, FORMAT.md §16, seed 000),
   * with keys the escrow releases as for any restore; or gives an
   * interrupted restore from a bundle its file again.
   */
  async function openBundle(file: Blob): Promise<void> {
    bundleProblem.value = null;
    let chosen: ChosenBundle;
    try {
      chosen = await readBundleFile(file);
    } catch (error) {
      bundleProblem.value = error;
      return;
    }
    const { volumeId, generation } = chosen.manifest.index;
    const view = active.value;
    if (view && awaitingBundle.value) {
      if (view.volumeId !== volumeId || view.generation !== generation) {
        bundleProblem.value = new OtherBundleError(
          { volumeId, generation },
          { volumeId: view.volumeId, generation: view.generation },
        );
        return;
      }
      bundles.set(view.restoreId, chosen);
      await resume();
      return;
    }
    await restore(volumeId, { generation, source: 'bundle', bundle: chosen });
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
    await forgetRestore(view.restoreId);
    bundles.delete(view.restoreId);
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
    if (view.stage === 'complete') await forgetRestore(view.restoreId);
    bundles.delete(view.restoreId);
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
    busy,
    loadVolumes,
    restore,
    openVolume,
    openReceipt,
    openBundle,
    bundleProblem,
    awaitingBundle,
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
