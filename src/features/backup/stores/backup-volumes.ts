import { defineStore } from 'pinia';
import { ref } from 'vue';
import {
  changeRestorers,
  fetchMyVolumes,
  fetchVolumeActivity,
  setVolumeExpiry,
  setVolumeLabel,
} from '@/shared/api/volumes';
import type { EscrowRecord, VolumeActivity } from '@/core/contract';
import { serializeReceipt } from '@/core/crypto';
import {
  localStorageAvailable,
  type GenerationRecord,
  type ReceiptRecord,
} from '@/shared/storage/database';
import { deletePendingDataKey } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import { useSessionStore } from '@/features/account';
import { useOtherSitesStore } from '@/features/sites';
import { useSiteCopiesStore, type SiteChangeOutcome } from './site-copies';

export type LocalState = 'complete' | 'partial' | 'sending' | 'none';

/** One of the operator's volumes: the site's escrow record beside this browser's copy. */
export interface MyVolume {
  readonly volumeId: string;
  readonly record: EscrowRecord | null;
  readonly generations: readonly GenerationRecord[];
  readonly receipts: readonly ReceiptRecord[];
  readonly localState: LocalState;
  /** Highest generation the site confirmed with a receipt kept here. */
  readonly confirmedGeneration: number | null;
  readonly size: number;
  /** What other sites the console is signed in at hold of it, as they say (MS-3). */
  readonly atOtherSites: readonly OtherSiteHolding[];
}

/** A volume as another site holds it: its latest generation there. */
export interface OtherSiteHolding {
  readonly siteId: string;
  readonly siteName: string;
  readonly generation: number;
}

/** What the site told of a volume's restores and refusals so far (AL-3). */
export interface VolumeActivityView {
  readonly entries: readonly VolumeActivity[];
  /** Where older entries continue; null once the oldest is shown. */
  readonly nextCursor: string | null;
  readonly loading: boolean;
  /** Why the last load failed, if it did; what was shown before stays. */
  readonly error: unknown;
  readonly loaded: boolean;
}

/** Entries asked for at once: a screenful, the rest behind "Show older". */
export const ACTIVITY_PAGE_SIZE = 20;

const NO_ACTIVITY: VolumeActivityView = {
  entries: [],
  nextCursor: null,
  loading: false,
  error: null,
  loaded: false,
};

function localStateOf(generations: readonly GenerationRecord[]): LocalState {
  const open = generations.find((g) => g.state === 'in-progress');
  if (open) return open.nextPosition < open.chunkCount ? 'partial' : 'sending';
  return generations.length ? 'complete' : 'none';
}

/**
 * "My volumes": the operator's escrow records at the site merged with the
 * generations, receipts and local copies in this browser. An owner manages
 * who may restore (ES-2) and may delete a local copy (never silently before
 * the site confirmed it).
 */
export const useBackupVolumesStore = defineStore('backup-volumes', () => {
  const session = useSessionStore();
  const siteCopies = useSiteCopiesStore();
  const otherSites = useOtherSitesStore();

  /** The operator's records at every other site signed in at; a site that does not answer lists none. */
  async function otherHoldings(): Promise<(OtherSiteHolding & { volumeId: string })[]> {
    await otherSites.settled();
    const listed = await Promise.all(
      otherSites.sites.map(async (site) => {
        const token = otherSites.tokens[site.siteId];
        if (site.state !== 'signed-in' || !token) return [];
        const records = await fetchMyVolumes({ url: site.url, token }).catch(() => []);
        return records.map((record) => ({
          volumeId: record.volumeId,
          siteId: site.siteId,
          siteName: site.name,
          generation: record.latestGeneration,
        }));
      }),
    );
    return listed.flat();
  }
  const volumes = ref<MyVolume[]>([]);
  const loading = ref(false);
  const siteError = ref<unknown>(null);
  let localCopy: LocalCopy | undefined;
  const local = (): LocalCopy => (localCopy ??= new LocalCopy());

  async function load(): Promise<void> {
    const userId = session.userId;
    if (!userId) return;
    loading.value = true;
    siteError.value = null;
    let records: EscrowRecord[] = [];
    const elsewhere = otherHoldings();
    try {
      records = await fetchMyVolumes();
    } catch (error) {
      siteError.value = error;
    }
    const holdings = await elsewhere;
    try {
      // Without IndexedDB (blocked by the browser) only the site's records are listed.
      const [generations, receipts] = localStorageAvailable()
        ? await Promise.all([local().generationsOf(userId), local().receiptsOf(userId)])
        : [[], []];
      const ids = new Set([
        ...records.map((r) => r.volumeId),
        ...generations.map((g) => g.volumeId),
      ]);
      volumes.value = [...ids].sort().map((volumeId) => {
        const record = records.find((r) => r.volumeId === volumeId) ?? null;
        const own = generations
          .filter((g) => g.volumeId === volumeId)
          .sort((a, b) => a.generation - b.generation);
        const kept = receipts.filter((r) => r.volumeId === volumeId);
        const confirmed = kept.length ? Math.max(...kept.map((r) => r.generation)) : null;
        return {
          volumeId,
          record,
          generations: own,
          receipts: kept,
          localState: localStateOf(own),
          confirmedGeneration: confirmed ?? (record ? record.latestGeneration : null),
          size: own[own.length - 1]?.file.size ?? record?.bytes ?? 0,
          atOtherSites: holdings
            .filter((h) => h.volumeId === volumeId)
            .map(({ siteId, siteName, generation }) => ({ siteId, siteName, generation })),
        };
      });
    } finally {
      loading.value = false;
    }
  }

  /**
   * ES-2: the owner adds or removes restorers, with a reason the site
   * audits; then the same list goes to every other site holding a copy
   * (MS-6), each answering for itself.
   */
  async function updateRestorers(
    volumeId: string,
    change: { add: string[]; remove: string[]; reason: string },
  ): Promise<SiteChangeOutcome[]> {
    const record = await changeRestorers(volumeId, change);
    const outcomes = await siteCopies
      .applyRestorers(volumeId, record.restorers, change.reason)
      .catch(() => []);
    await load();
    return outcomes;
  }

  /** The owner's name for a volume, kept at the site so that every browser of theirs shows it. */
  async function rename(volumeId: string, label: string): Promise<void> {
    await setVolumeLabel(volumeId, label);
    await load();
  }

  /** The owner's new expiry of the volume's record at its home site; null: none. */
  async function changeExpiry(volumeId: string, expiresAt: string | null): Promise<void> {
    await setVolumeExpiry(volumeId, expiresAt);
    await load();
  }

  /** Deletes every generation of the volume from this browser (the chunk-ID key stays). */
  async function deleteLocalCopy(volumeId: string): Promise<void> {
    const target = volumes.value.find((v) => v.volumeId === volumeId);
    for (const generation of target?.generations ?? []) {
      // An unfinished later generation keeps what the site acknowledged (see deleteGeneration).
      await local().deleteGeneration(volumeId, generation.generation, {
        keepSent: generation.state === 'in-progress' && generation.generation > 1,
      });
      await deletePendingDataKey(volumeId, generation.generation);
    }
    await load();
  }

  const activity = ref<Record<string, VolumeActivityView>>({});
  // The answer to the latest load of each volume wins; an earlier one arriving late is dropped.
  const activityLoads = new Map<string, number>();

  function activityOf(volumeId: string): VolumeActivityView {
    return activity.value[volumeId] ?? NO_ACTIVITY;
  }

  /**
   * AL-3: loads the newest restores and refusals of one of the owner's
   * volumes, or with `older` the page after those already shown.
   */
  async function loadActivity(volumeId: string, options: { older?: boolean } = {}): Promise<void> {
    const current = activityOf(volumeId);
    const before = options.older ? (current.nextCursor ?? undefined) : undefined;
    if (options.older && !before) return;
    const ticket = (activityLoads.get(volumeId) ?? 0) + 1;
    activityLoads.set(volumeId, ticket);
    activity.value = { ...activity.value, [volumeId]: { ...current, loading: true, error: null } };
    let next: VolumeActivityView;
    try {
      const page = await fetchVolumeActivity(volumeId, { before, limit: ACTIVITY_PAGE_SIZE });
      next = {
        entries: before ? [...current.entries, ...page.entries] : page.entries,
        nextCursor: page.nextCursor,
        loading: false,
        error: null,
        loaded: true,
      };
    } catch (error) {
      next = { ...current, loading: false, error };
    }
    if (activityLoads.get(volumeId) === ticket)
      activity.value = { ...activity.value, [volumeId]: next };
  }

  function receiptBytes(volumeId: string, generation: number): Uint8Array<ArrayBuffer> | null {
    const receipt = volumes.value
      .find((v) => v.volumeId === volumeId)
      ?.receipts.find((r) => r.generation === generation);
    return receipt ? serializeReceipt(receipt.receipt) : null;
  }

  return {
    volumes,
    loading,
    siteError,
    load,
    updateRestorers,
    rename,
    changeExpiry,
    deleteLocalCopy,
    receiptBytes,
    activity,
    activityOf,
    loadActivity,
  };
});
