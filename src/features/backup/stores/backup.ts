import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import {
  fetchGenerationManifest,
  fetchMyVolumes,
  fetchVolumeOwner,
  releaseClaim,
} from '@/shared/api/volumes';
import type { EscrowRecord, VolumeOwner } from '@/core/contract';
import { serializeReceipt } from '@/core/crypto';
import { detectVolumeId, type ByteSource, type VolumeIdentity } from '@/core/volume';
import {
  localStorageAvailable,
  type EscrowPlan,
  type GenerationRecord,
  type KeptEscrowPlan,
} from '@/shared/storage/database';
import { deletePendingDataKey, getChunkIdKeyRecord } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import type { ImageFile } from '@/features/backup/worker/chunk-reader';
import { MIN_IMAGE_SIZE } from '@/features/backup/engine/backup-tuning';
import { BackupCancelled } from '../engine/backup-control';
import { BackupError, describeBackupError, type BackupProblem } from '../engine/backup-errors';
import { makeRegistrationFile } from '../engine/backup-registration';
import { escrowPlanFor } from '../engine/backup-escrow';
import {
  BackupRunner,
  defaultRunnerDeps,
  type BackupResult,
  type RunnerDeps,
} from '../engine/backup-runner';
import { useMyPairsStore } from '@/features/backup/stores/my-pairs';
import { useSiteCopiesStore } from '@/features/backup/stores/site-copies';
import { useSessionStore } from '@/features/account';
import { useBackupProgress } from './use-backup-progress';
import { useEscrowTerms, type PolicyKind } from './use-escrow-terms';

export type BackupPhase = 'idle' | 'running' | 'paused' | 'complete' | 'failed' | 'cancelled';
export type { PolicyKind };
export type OwnerCheck = 'none' | 'checking' | 'checked' | 'failed';

function sourceOf(file: ImageFile): ByteSource {
  return {
    size: file.size,
    read: async (offset, length) =>
      new Uint8Array(await file.slice(offset, offset + length).arrayBuffer()),
  };
}

/**
 * The backup screen's state (BK-1 … BK-11): the chosen image and its
 * volume ID, the escrow terms, and the one backup this browser runs, with
 * its progress, result or problem. Interrupted backups found in IndexedDB
 * are offered for resuming.
 */
/** Why the number of sites needed to restore cannot be used yet (MS-4). */
export type ThresholdProblem = 'required' | 'range' | 'majority' | 'confirm';

export const useBackupStore = defineStore('backup', () => {
  const session = useSessionStore();
  const myPairs = useMyPairsStore();
  const siteCopies = useSiteCopiesStore();
  let deps: RunnerDeps | undefined;
  const localCopy = (): LocalCopy => runnerDeps().localCopy;
  function runnerDeps(): RunnerDeps {
    deps ??= defaultRunnerDeps();
    return deps;
  }

  // ---- the image (BK-2, BK-3) ----
  const file = shallowRef<ImageFile | null>(null);
  const identity = ref<VolumeIdentity | null>(null);
  const detecting = ref(false);
  /**
   * Whether the chosen image's volume is still being looked up (its volume
   * ID, earlier plan, copies and owner): its sites and k are set from what
   * is found, so they are not offered and no backup starts until then.
   */
  const settling = ref(false);
  /**
   * ES-5: the site's count of key releases of the chosen volume, when some
   * happened since this browser's chunk-ID key was made (or the key came
   * from a site): unchanged chunks would stay under keys others received.
   */
  const releasedSince = ref<{ readonly releases: number; readonly since: number } | null>(null);
  /** Whether this backup seals every chunk anew under new keys (offered with releasedSince). */
  const retireKeys = ref(true);
  const imageProblem = ref<BackupProblem | null>(null);
  const owner = ref<VolumeOwner | null>(null);
  const ownerCheck = ref<OwnerCheck>('none');

  // ---- the escrow terms (BK-4, BK-5) ----
  const terms = useEscrowTerms();
  const { restorers, policyKind, approvalRequired, expiryDate, expiryPast } = terms;

  // ---- the sites (MS-3): the home site always, and the other sites chosen ----
  /** Other sites that get a copy of the chosen volume. */
  const copySites = ref<string[]>([]);
  /** Whether the copies on other sites are being made, after the home site committed. */
  const copying = ref(false);

  // ---- the threshold (MS-4): k of the n chosen sites needed to restore ----
  /** Sites needed to restore, as the operator typed it: never defaulted. */
  const threshold = ref<number | null>(null);
  /** The operator confirmed that with k = 1 any one site could decrypt (004 E3). */
  const singleSiteConfirmed = ref(false);
  /**
   * How the chosen volume's earlier generations keep their keys: undefined
   * for a new volume (the operator chooses), null for keys whole at the home
   * site (other sites get copies only), else the sites and k, which stay.
   */
  const earlierPlan = ref<KeptEscrowPlan | null | undefined>(undefined);
  /**
   * Whether this browser holds the chosen volume's key: false for a volume
   * of the operator's made in another browser (the site hands the key over
   * when the backup starts), null until known.
   */
  const keysHere = ref<boolean | null>(null);
  /** Sites that keep the keys (the home site and those chosen). */
  const sitesCount = computed(() =>
    earlierPlan.value ? earlierPlan.value.sites.length : copySites.value.length + 1,
  );
  /** Whether the keys are split across the chosen sites, so k must be chosen. */
  const splitAsked = computed(() => earlierPlan.value === undefined && copySites.value.length > 0);
  const thresholdProblem = computed<ThresholdProblem | null>(() => {
    if (!splitAsked.value) return null;
    const k = threshold.value;
    const n = sitesCount.value;
    if (k === null || Number.isNaN(k)) return 'required';
    if (!Number.isInteger(k) || k < 1 || k > n) return 'range';
    // Two restores must never both gather k shares of a one-time record.
    if (terms.policyKind.value !== 'reusable' && 2 * k <= n) return 'majority';
    if (k === 1 && !singleSiteConfirmed.value) return 'confirm';
    return null;
  });

  // ---- the run (BK-6 … BK-11) ----
  const phase = ref<BackupPhase>('idle');
  const progress = useBackupProgress(
    () => file.value?.size ?? 0,
    computed(() => phase.value === 'running'),
  );
  const { snapshot, bytesPerSecond, totalBytes, bytesDone, fraction, secondsLeft } = progress;
  const result = shallowRef<BackupResult | null>(null);
  const problem = ref<BackupProblem | null>(null);
  const interrupted = ref<GenerationRecord[]>([]);
  const offerDelete = ref<{ volumeId: string; generation: number } | null>(null);
  const localCopyDeleted = ref(false);
  let runner: BackupRunner | null = null;

  const userId = computed(() => session.userId ?? '');
  const active = computed(() => phase.value === 'running' || phase.value === 'paused');

  /** The interrupted backup of the chosen volume, if there is one. */
  const pendingForSelection = computed(() =>
    identity.value
      ? interrupted.value.find((g) => g.volumeId === identity.value!.volumeId)
      : undefined,
  );
  const ownedByAnother = computed(
    () => owner.value !== null && !owner.value.mine && owner.value.state !== 'unregistered',
  );

  const canStart = computed(
    () =>
      identity.value !== null &&
      imageProblem.value?.code !== 'image_mismatch' &&
      !detecting.value &&
      !settling.value &&
      !active.value &&
      !expiryPast.value &&
      thresholdProblem.value === null,
  );
  const canPause = computed(() => phase.value === 'running');
  const canResume = computed(
    () =>
      phase.value === 'paused' ||
      (!active.value &&
        pendingForSelection.value !== undefined &&
        imageProblem.value === null &&
        file.value?.size === pendingForSelection.value.file.size),
  );
  const canCancel = computed(
    () => active.value || (pendingForSelection.value !== undefined && phase.value !== 'complete'),
  );

  function resetRun(): void {
    phase.value = 'idle';
    progress.reset();
    result.value = null;
    problem.value = null;
    offerDelete.value = null;
    localCopyDeleted.value = false;
  }

  /** Interrupted backups of this operator in this browser (BK-7). */
  async function loadInterrupted(): Promise<void> {
    if (!userId.value || !localStorageAvailable()) return;
    interrupted.value = await localCopy().inProgress(userId.value);
  }

  /** BK-2: reads the volume ID from the chosen file, then asks the site who owns it (BK-3). */
  async function selectFile(chosen: ImageFile | null): Promise<void> {
    if (active.value) return;
    resetRun();
    file.value = chosen;
    identity.value = null;
    owner.value = null;
    keysHere.value = null;
    ownerCheck.value = 'none';
    imageProblem.value = null;
    releasedSince.value = null;
    retireKeys.value = true;
    settling.value = false;
    if (!chosen) return;
    if (chosen.size === 0) {
      imageProblem.value = describeBackupError(new BackupError('image_empty', 'empty'));
      return;
    }
    if (chosen.size < MIN_IMAGE_SIZE) {
      imageProblem.value = describeBackupError(
        new BackupError('image_too_small', 'too small', { size: chosen.size, min: MIN_IMAGE_SIZE }),
      );
      return;
    }
    settling.value = true;
    try {
      await readSelection(chosen);
    } finally {
      // A file chosen meanwhile is looked up by its own call, which clears the flag.
      if (file.value === chosen) settling.value = false;
    }
  }

  /** The volume of the chosen image, and how earlier generations kept it (see selectFile). */
  async function readSelection(chosen: ImageFile): Promise<void> {
    detecting.value = true;
    let detected: VolumeIdentity;
    try {
      detected = await detectVolumeId(sourceOf(chosen));
      if (file.value !== chosen) return;
      identity.value = detected;
    } catch (error) {
      imageProblem.value = describeBackupError(error);
      return;
    } finally {
      detecting.value = false;
    }
    await loadInterrupted().catch(() => undefined);
    // A volume copied before goes on to the same sites unless the operator changes that.
    await siteCopies.load().catch(() => undefined);
    if (file.value !== chosen) return;
    copySites.value = siteCopies.copiesOf(detected.volumeId).map((c) => c.siteId);
    earlierPlan.value = await planOfEarlier(detected.volumeId);
    if (file.value !== chosen) return;
    if (earlierPlan.value) {
      copySites.value = earlierPlan.value.sites.slice(1).map((s) => s.siteId);
      threshold.value = earlierPlan.value.threshold;
    } else {
      threshold.value = null;
      singleSiteConfirmed.value = false;
    }
    const pending = pendingForSelection.value;
    if (pending) {
      if (pending.file.size !== chosen.size) {
        imageProblem.value = describeBackupError(
          new BackupError('image_mismatch', 'mismatch', { fileName: pending.file.name }),
        );
      }
      terms.takeFrom(pending, userId.value);
    }
    await checkOwner(identity.value.volumeId);
  }

  /** How the newest generation this browser made of the volume keeps its keys (see earlierPlan). */
  async function planOfEarlier(volumeId: string): Promise<KeptEscrowPlan | null | undefined> {
    const made = (await localCopy().generationsOf(userId.value))
      .filter((g) => g.volumeId === volumeId)
      .sort((a, b) => b.generation - a.generation)[0];
    if (!made) return undefined;
    return made.escrow ?? null;
  }

  /**
   * For a volume of the operator's made in another browser: how its latest
   * generation keeps its keys, as the signed index at the site says.
   */
  async function planAtSite(
    record: EscrowRecord | undefined,
  ): Promise<KeptEscrowPlan | null | undefined> {
    if (!record || record.latestGeneration < 1) return undefined;
    const latest = await fetchGenerationManifest(record.volumeId, record.latestGeneration).catch(
      () => null,
    );
    if (!latest) return undefined;
    return latest.manifest.index.escrow ?? null;
  }

  /** MS-4: the sites and k of this backup, each site checked against its pin; none: home alone. */
  async function escrowPlan(): Promise<EscrowPlan | undefined> {
    if (pendingForSelection.value) return undefined;
    const earlier = earlierPlan.value;
    if (earlier) {
      const others = earlier.sites.slice(1).map((s) => s.siteId);
      return escrowPlanFor(
        runnerDeps().site,
        siteCopies.shareSites(others),
        earlier.threshold,
        localCopy().db,
      );
    }
    if (!splitAsked.value) return undefined;
    return escrowPlanFor(
      runnerDeps().site,
      siteCopies.shareSites(copySites.value),
      threshold.value!,
      localCopy().db,
    );
  }

  async function checkOwner(volumeId: string): Promise<void> {
    ownerCheck.value = 'checking';
    try {
      const answer = await fetchVolumeOwner(volumeId);
      if (identity.value?.volumeId !== volumeId) return;
      owner.value = answer;
      const mine = answer.mine && answer.state === 'registered';
      const key = mine ? await getChunkIdKeyRecord(volumeId) : undefined;
      const record = mine
        ? (await fetchMyVolumes().catch(() => [])).find((r) => r.volumeId === volumeId)
        : undefined;
      if (identity.value?.volumeId !== volumeId) return;
      keysHere.value = mine ? key !== undefined : null;
      // ES-5: releases since this browser made its chunk-ID key (a key from a site: all of them).
      const since = key?.releasesBefore ?? 0;
      releasedSince.value =
        record && record.releases > since ? { releases: record.releases, since } : null;
      if (keysHere.value === false && earlierPlan.value === undefined) {
        const plan = await planAtSite(record);
        if (identity.value?.volumeId !== volumeId) return;
        earlierPlan.value = plan;
        if (plan) {
          copySites.value = plan.sites.slice(1).map((s) => s.siteId);
          threshold.value = plan.threshold;
        }
      }
      if (identity.value?.volumeId !== volumeId) return;
      ownerCheck.value = 'checked';
      if (ownedByAnother.value && !imageProblem.value) {
        imageProblem.value = {
          code: 'registered_to_another_operator',
          params: {},
        };
      }
    } catch {
      ownerCheck.value = 'failed';
    }
  }

  /** Starts the backup, or continues the interrupted one of this volume (BK-7). */
  async function start(): Promise<void> {
    if (!file.value || !identity.value || active.value) return;
    if (!localStorageAvailable()) {
      problem.value = describeBackupError(
        new BackupError('storage_unavailable', 'This browser offers no IndexedDB.'),
      );
      phase.value = 'failed';
      return;
    }
    const chosen = file.value;
    const detected = identity.value;
    resetRun();
    if (imageProblem.value?.code === 'registered_to_another_operator') imageProblem.value = null;
    phase.value = 'running';
    try {
      const escrow = await escrowPlan();
      runner = new BackupRunner(
        {
          file: chosen,
          identity: detected,
          userId: userId.value,
          restorers: restorers.value,
          policy: terms.policy(),
          ...(escrow ? { escrow } : {}),
          ...(releasedSince.value && retireKeys.value && !pendingForSelection.value
            ? { retireKeys: { releases: releasedSince.value.releases } }
            : {}),
        },
        progress.onSnapshot,
        // RC-3, RC-5: the pair engine steers the stream and hears how the site answers.
        // A volume whose keys are split: the other sites this console is signed in at.
        {
          ...runnerDeps(),
          pairs: runnerDeps().pairs ?? myPairs.link(),
          shareSites: runnerDeps().shareSites ?? siteCopies.shareSites,
        },
      );
      // Stored before the run, so that a reload after the home site committed still copies (MS-3).
      await siteCopies.choose(detected.volumeId, copySites.value);
      const done = await runner!.run();
      // MS-3: complete once every chosen site that answers has committed; one away catches up.
      copying.value = true;
      await siteCopies.copyVolume(detected.volumeId);
      result.value = done;
      phase.value = 'complete';
      void checkOwner(detected.volumeId);
    } catch (error) {
      if (error instanceof BackupCancelled) {
        phase.value = 'cancelled';
        offerDelete.value = await pendingOffer(detected.volumeId);
      } else {
        problem.value = describeBackupError(error);
        phase.value = 'failed';
      }
    } finally {
      runner = null;
      copying.value = false;
      await loadInterrupted().catch(() => undefined);
    }
  }

  async function pendingOffer(
    volumeId: string,
  ): Promise<{ volumeId: string; generation: number } | null> {
    const pending = (await localCopy().inProgress(userId.value)).find(
      (g) => g.volumeId === volumeId,
    );
    return pending ? { volumeId, generation: pending.generation } : null;
  }

  function pause(): void {
    if (!runner || phase.value !== 'running') return;
    runner.pause();
    phase.value = 'paused';
  }

  async function resume(): Promise<void> {
    if (runner && phase.value === 'paused') {
      runner.resume();
      progress.restartRate();
      phase.value = 'running';
      return;
    }
    if (canResume.value) await start();
  }

  /** Cancel (BK-7): stops the run and gives the claim back; the local copy waits for a decision. */
  async function cancel(): Promise<void> {
    if (runner) {
      runner.cancel();
      return;
    }
    const pending = pendingForSelection.value;
    if (!pending) return;
    await releaseClaim(pending.volumeId).catch(() => undefined);
    resetRun();
    phase.value = 'cancelled';
    offerDelete.value = { volumeId: pending.volumeId, generation: pending.generation };
  }

  async function deleteLocalCopy(): Promise<void> {
    const offer = offerDelete.value;
    if (!offer) return;
    await localCopy().deleteGeneration(offer.volumeId, offer.generation, {
      keepSent: offer.generation > 1,
    });
    await deletePendingDataKey(offer.volumeId, offer.generation);
    offerDelete.value = null;
    localCopyDeleted.value = true;
    await loadInterrupted();
  }

  function keepLocalCopy(): void {
    offerDelete.value = null;
  }

  /** Discards an interrupted backup found after a reload, without its image. */
  async function discardInterrupted(record: GenerationRecord): Promise<void> {
    await releaseClaim(record.volumeId).catch(() => undefined);
    await localCopy().deleteGeneration(record.volumeId, record.generation, {
      keepSent: record.generation > 1,
    });
    await deletePendingDataKey(record.volumeId, record.generation);
    await loadInterrupted();
  }

  function receiptBytes(): Uint8Array<ArrayBuffer> | null {
    return result.value ? serializeReceipt(result.value.receipt) : null;
  }

  /** The generation of the chosen volume still in this browser's local copy, if any. */
  async function currentRecord(): Promise<GenerationRecord | undefined> {
    const volumeId = snapshot.value?.volumeId ?? identity.value?.volumeId;
    if (!volumeId) return undefined;
    return (await localCopy().inProgress(userId.value)).find((g) => g.volumeId === volumeId);
  }

  /** BK-9: the offline registration file, while the site cannot be reached. */
  async function registrationFile(): Promise<{
    bytes: Uint8Array<ArrayBuffer>;
    record: GenerationRecord;
  }> {
    const record = await currentRecord();
    if (!record) {
      throw new BackupError('registration_unavailable', 'no backup', {
        message: 'there is no unfinished backup of this volume in this browser',
      });
    }
    return { bytes: await makeRegistrationFile(record, localCopy().db), record };
  }

  /** Test seam: the runner's dependencies (a test site, small chunks). */
  function useRunnerDeps(next: RunnerDeps): void {
    deps = next;
  }

  return {
    file,
    identity,
    detecting,
    settling,
    releasedSince,
    retireKeys,
    imageProblem,
    copySites,
    copying,
    threshold,
    singleSiteConfirmed,
    earlierPlan,
    keysHere,
    sitesCount,
    splitAsked,
    thresholdProblem,
    owner,
    ownerCheck,
    restorers,
    policyKind,
    approvalRequired,
    expiryDate,
    expiryPast,
    phase,
    snapshot,
    result,
    problem,
    bytesPerSecond,
    interrupted,
    offerDelete,
    localCopyDeleted,
    pendingForSelection,
    ownedByAnother,
    canStart,
    canPause,
    canResume,
    canCancel,
    totalBytes,
    bytesDone,
    fraction,
    secondsLeft,
    loadInterrupted,
    selectFile,
    start,
    pause,
    resume,
    cancel,
    deleteLocalCopy,
    keepLocalCopy,
    discardInterrupted,
    receiptBytes,
    registrationFile,
    useRunnerDeps,
  };
});
