/**
 * One restore, from wherever it stands to its end (RS-2..RS-6): the worker
 * made ready while the site answers, the key release (and the wait for an
 * approval), the signed index, the room to write, the job, and the download
 * once verified. How it ends decides what is kept: a refusal or a tampered
 * chunk ends it for good (key, record and partial output go, and tampering is
 * reported to the site, RS-5); anything else leaves it resumable from what was
 * verified (RS-6, RS-8).
 */

import type { RetryPolicy } from '@/shared/api/request';
import { reportIntegrityFailure } from '@/shared/api/restore';
import { deleteRestoreKey } from '@/shared/storage/key-store';
import {
  deleteRestore,
  pinnedSiteId,
  updateRestore,
  type RestoreRecord,
  type RestoreSource,
} from '@/shared/storage/restore-progress';
import { RestoreQuotaError } from '@/features/restore/worker/restore-opfs';
import type { PipelineProgress } from '@/features/restore/worker/restore-pipeline';
import type { PreparedRestoreJob, RestoreJob } from '@/features/restore/worker/restore-job';
import type { ChunkAlert, OtherSiteCopy } from '@/features/restore/worker/restore-sources';
import { manifestHash, type SignedManifest } from '@/core/crypto';
import {
  BundleMismatchError,
  BundleNeededError,
  describeRestoreError,
  integrityCheck,
  isResumable,
  PinnedSiteSignedOutError,
  REPORTED,
  type RestoreProblem,
  type ShareAnswer,
} from './restore-errors';
import { gatherKeys } from './restore-shares';
import { loadVerifiedManifest, openSecret } from './restore-manifest';
import { restoreRuntime } from './restore-runtime';

/**
 * `keys`: the key release is asked for; `approval`: an administrator must
 * approve it first; `manifest`: the signed index is checked; `image`: chunks
 * are checked and written; `complete`: verified and downloaded; `failed`: it
 * ended for good; `interrupted`: it stopped and can continue from what was
 * verified.
 */
export type RestoreStage =
  'keys' | 'approval' | 'manifest' | 'image' | 'complete' | 'failed' | 'interrupted' | 'cancelled';

export const RUNNING: ReadonlySet<RestoreStage> = new Set([
  'keys',
  'approval',
  'manifest',
  'image',
]);

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
  fromBundle: number;
  /** Chunks from each other site, by its name (MS-5). */
  fromSites: Readonly<Record<string, number>>;
  damagedLocal: readonly number[];
  /** Sites told during the run that they served a bad blob (RS-5, MS-5). */
  alerts: readonly ChunkAlert[];
  /** Bytes per second since this run started. */
  rate: number;
  sha256: string | null;
  downloaded: boolean;
  problem: RestoreProblem | null;
  /** Whether the site's administrators were told of a tampered chunk (RS-5). */
  reported: boolean | null;
  /** MS-5: shares of the keys received of the k needed, once the keys are split across sites. */
  shares: { received: number; needed: number; answers: readonly ShareAnswer[] } | null;
}

/** What the screen shows of a restore about to (re)start from its record. */
export function activeRestoreOf(record: RestoreRecord): ActiveRestore {
  const progress = record.progress;
  return {
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
    fromBundle: 0,
    fromSites: {},
    damagedLocal: [],
    alerts: [],
    rate: 0,
    sha256: null,
    downloaded: false,
    problem: null,
    reported: null,
    shares: null,
  };
}

/** Runs `work` holding this restore's Web Lock, so two tabs never write one image. */
async function withRestoreLock<T>(restoreId: string, work: () => Promise<T>): Promise<T | 'busy'> {
  const locks = globalThis.navigator?.locks;
  if (!locks) return work();
  return locks.request(`custodian-restore:${restoreId}`, { ifAvailable: true }, (lock) =>
    lock ? work() : ('busy' as const),
  );
}

/** Drops a restore's key, record and output: it has ended (RS-2). */
export async function forgetRestore(restoreId: string): Promise<void> {
  await deleteRestoreKey(restoreId).catch(() => undefined);
  await deleteRestore(restoreId).catch(() => undefined);
  await restoreRuntime()
    .removeResult(restoreId)
    .catch(() => undefined);
}

/** Another site of the site directory (MS-2), with this console's token there if it is signed in. */
export interface KnownSite extends Omit<OtherSiteCopy, 'token'> {
  readonly token: string | undefined;
}

export interface RunHooks {
  readonly retry: RetryPolicy | undefined;
  /** The other sites, in the site directory's order; those with a token hold copies to read (MS-5). */
  readonly sites: readonly KnownSite[];
  /** This console's own site, which the restore asks first (MS-5). */
  readonly home: { readonly siteId: string; readonly name: string };
  readonly signal: AbortSignal;
  /** The running job, for Cancel; undefined once it has ended. */
  readonly onJob: (job: RestoreJob | undefined) => void;
  /** The volume's record may have changed state (burned, used by you). */
  readonly onRecordChanged: () => void;
  /** The bundle file a restore from a bundle reads (FORMAT.md §16), with its manifest. */
  readonly bundle?: ChosenBundle;
}

/** A bundle file the restorer chose, already checked for its length and trailer. */
export interface ChosenBundle {
  readonly file: Blob;
  readonly manifest: SignedManifest;
  readonly blobsStart: number;
}

/**
 * FORMAT.md §16: the bundle's manifest must be the generation's manifest
 * that the site (or this browser's copy) vouches for, signature verified.
 */
async function checkBundle(bundle: ChosenBundle, verified: SignedManifest): Promise<void> {
  if ((await manifestHash(bundle.manifest)) !== (await manifestHash(verified))) {
    throw new BundleMismatchError();
  }
}

function progressInto(view: ActiveRestore, startedAt: number, startBytes: number) {
  return (progress: PipelineProgress): void => {
    view.nextPosition = progress.nextPosition;
    view.chunkCount = progress.chunkCount;
    view.bytesWritten = progress.bytesWritten;
    view.fromLocal = progress.fromLocal;
    view.fromSite = progress.fromSite;
    view.fromBundle = progress.fromBundle;
    view.fromSites = progress.fromSites;
    view.damagedLocal = progress.damagedLocal;
    view.alerts = progress.alerts;
    const seconds = (performance.now() - startedAt) / 1000;
    view.rate = seconds > 0.2 ? (progress.bytesWritten - startBytes) / seconds : 0;
  };
}

async function fail(
  view: ActiveRestore,
  record: RestoreRecord,
  error: unknown,
  hooks: RunHooks,
): Promise<void> {
  const pinned = pinnedSiteId(record.source);
  const pinnedSite =
    pinned === undefined
      ? undefined
      : (hooks.sites.find((s) => s.siteId === pinned)?.name ?? pinned);
  const problem = describeRestoreError(error, record.source, pinnedSite);
  view.problem = problem;
  if (isResumable(problem)) {
    view.stage = 'interrupted';
    return;
  }
  view.stage = 'failed';
  await forgetRestore(record.restoreId);
  const alerted =
    problem.kind === 'tamperedChunk'
      ? view.alerts.filter((alert) => alert.chunkId === problem.chunkId)
      : [];
  if (alerted.length) {
    // The sites that served this chunk's bad blobs were told as they served them.
    view.reported = alerted.every((alert) => alert.delivered);
  } else if (REPORTED.has(problem.kind)) {
    const chunk = problem.kind === 'tamperedChunk' ? problem : undefined;
    try {
      await reportIntegrityFailure(
        {
          volumeId: record.volumeId,
          generation: record.generation,
          ...(chunk?.chunkIndex != null ? { chunkIndex: chunk.chunkIndex } : {}),
          ...(chunk?.chunkId ? { chunkId: chunk.chunkId } : {}),
          source: record.source === 'local' ? 'local' : 'site',
          check: integrityCheck(problem),
        },
        hooks.retry,
      );
      view.reported = true;
    } catch {
      view.reported = false;
    }
  }
  hooks.onRecordChanged();
}

/**
 * The other sites whose copies this restore may read (MS-5): those the
 * console is signed in at. A restore pinned to one it is not signed in at
 * stops before its keys are asked for.
 */
function copiesToRead(source: RestoreSource, sites: readonly KnownSite[]): OtherSiteCopy[] {
  const copies = sites.flatMap(({ token, ...site }) => (token ? [{ ...site, token }] : []));
  const pinned = pinnedSiteId(source);
  if (pinned !== undefined && !copies.some((copy) => copy.siteId === pinned)) {
    throw new PinnedSiteSignedOutError(sites.find((s) => s.siteId === pinned)?.name ?? pinned);
  }
  return copies;
}

/** Runs the restore of `record`, showing it in `view` (a reactive object). */
export async function runRestore(
  record: RestoreRecord,
  view: ActiveRestore,
  hooks: RunHooks,
): Promise<void> {
  const { retry, signal } = hooks;
  let prepared: PreparedRestoreJob | undefined;
  try {
    const outcome = await withRestoreLock(record.restoreId, async () => {
      if (record.source === 'bundle' && !hooks.bundle) throw new BundleNeededError();
      const sites = copiesToRead(record.source, hooks.sites);
      const runtime = restoreRuntime();
      if (!runtime.supported()) {
        view.problem = { kind: 'unsupported' };
        view.stage = 'failed';
        return;
      }
      // The worker is loaded while the site still answers (see restore-job.ts).
      prepared = runtime.prepareJob();
      await prepared.ready;
      const kept =
        record.manifest && record.devicePublicKey
          ? { manifest: record.manifest, devicePublicKey: record.devicePublicKey }
          : undefined;
      const { keys, verified } = await gatherKeys({
        restoreId: record.restoreId,
        volumeId: record.volumeId,
        generation: record.generation,
        homeSiteId: hooks.home.siteId,
        homeName: hooks.home.name,
        sites,
        retry,
        signal,
        onPending: () => {
          view.stage = 'approval';
        },
        onShares: (received, needed, answers) => {
          view.shares = { received, needed, answers };
        },
        loadManifest: async () => {
          // Still waiting for an administrator: the screen keeps saying so.
          if (view.stage !== 'approval') view.stage = 'manifest';
          const manifest = await loadVerifiedManifest({
            userId: record.userId,
            volumeId: record.volumeId,
            generation: record.generation,
            kept,
            retry,
            signal,
          });
          if (hooks.bundle) await checkBundle(hooks.bundle, manifest.manifest);
          return manifest;
        },
      });
      view.stage = 'manifest';
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
      const job = prepared.start(
        {
          type: 'start',
          restoreId: record.restoreId,
          index: verified.manifest.index,
          secret,
          keys,
          ...(progress ? { progress } : {}),
          source: record.source,
          sites,
          ...(retry ? { retry } : {}),
          ...(hooks.bundle
            ? { bundle: { file: hooks.bundle.file, blobsStart: hooks.bundle.blobsStart } }
            : {}),
        },
        progressInto(view, performance.now(), view.bytesWritten),
      );
      prepared = undefined;
      hooks.onJob(job);
      const sha256 = await job.done;
      hooks.onJob(undefined);
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
      hooks.onRecordChanged();
    });
    if (outcome === 'busy') {
      view.problem = { kind: 'busy' };
      view.stage = 'interrupted';
    }
  } catch (error) {
    hooks.onJob(undefined);
    if (signal.aborted) return;
    await fail(view, record, error, hooks);
  } finally {
    prepared?.dispose();
  }
}
