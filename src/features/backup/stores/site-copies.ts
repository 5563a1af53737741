import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { GenerationRecord, SiteCopyRecord } from '@/shared/storage/database';
import type { SiteAddress } from '@/shared/api/request';
import { localStorageAvailable } from '@/shared/storage/database';
import { changeRestorers, fetchMyVolumes } from '@/shared/api/volumes';
import { acknowledgeInstruction, fetchMyPairs, sendHeartbeat } from '@/shared/api/pairs';
import { LocalCopy } from '@/shared/storage/local-copy';
import { useSessionStore } from '@/features/account';
import { useOtherSitesStore } from '@/features/sites';
import {
  BackupError,
  describeBackupError,
  isSiteUnreachable,
  type BackupProblem,
} from '../engine/backup-errors';
import { siteAt } from '../engine/backup-site';
import type { ShareSite } from '../engine/backup-escrow';
import { PairEngine, type PairBacklog, type PrimaryPairView } from '../engine/pair-engine';
import { PAIR_HEARTBEAT_MS, PAIR_UNREACHABLE_AFTER_MS } from './my-pairs';
import {
  copyToSite,
  isSignedOutAt,
  type CopyDeps,
  type CopyProgress,
  type CopyTarget,
} from '../engine/site-copy';

/** The reason a site's restorer list is brought in line with the home site's. */
const KEPT_IN_STEP =
  'Kept in step with the restorers the owner set at the home site of this volume.';

/** How often copies that lag are tried again while the console is open. */
export const CATCH_UP_INTERVAL_MS = 15_000;

function defaultDeps(): CopyDeps {
  return {
    localCopy: new LocalCopy(),
    site: (target) => siteAt({ url: target.url, token: target.token }),
    deviceLabel: globalThis.navigator?.userAgent?.slice(0, 100) ?? 'browser',
    now: () => Date.now(),
  };
}

const keyOf = (volumeId: string, siteId: string): string => `${volumeId}\n${siteId}`;

/** Whether an owner's change reached one site that holds the volume (MS-6). */
export interface SiteChangeOutcome {
  readonly siteId: string;
  readonly siteName: string;
  readonly applied: boolean;
  /** Why not; the change is made there once the site can be told. */
  readonly problem?: BackupProblem;
}

/** Why a copy stopped, as the screen says it: signed out, away, or the console's sentence. */
function problemOf(error: unknown, siteName: string): BackupProblem {
  const problem: BackupProblem = isSignedOutAt(error)
    ? { code: 'copy_signed_out', params: {} }
    : isSiteUnreachable(error)
      ? { code: 'copy_unreachable', params: {} }
      : describeBackupError(error);
  return { ...problem, params: { ...problem.params, site: siteName } };
}

/**
 * The operator's copies on other sites (MS-3): which sites each volume goes
 * to, which generation each holds, and the copying itself. After a backup
 * the chosen sites are fed from the local copy; a site that was away, or
 * where this console was not signed in, is caught up by itself while the
 * console is open. No site is ever sent a key: they keep ciphertext only.
 */
export const useSiteCopiesStore = defineStore('site-copies', () => {
  const session = useSessionStore();
  const otherSites = useOtherSitesStore();
  let deps: CopyDeps | undefined;
  const copyDeps = (): CopyDeps => (deps ??= defaultDeps());

  const copies = ref<SiteCopyRecord[]>([]);
  /** What the copies under way have done so far, by volume and site. */
  const progress = ref<Record<string, CopyProgress>>({});
  const running = new Map<string, Promise<SiteCopyRecord>>();
  const timer = shallowRef<ReturnType<typeof setInterval> | undefined>();
  /** RC-1..RC-7 for each other site: the copy pairs there get heartbeats and instructions. */
  const engines = new Map<string, PairEngine>();
  /** The copy pairs at each other site, as this browser (their primary) sees them. */
  const pairViews = ref<Record<string, readonly PrimaryPairView[]>>({});

  const userId = computed(() => session.userId ?? '');
  // Another user signed in (or none): this one's copies stop being caught up here.
  watch(userId, () => stop());

  async function load(): Promise<void> {
    if (!userId.value || !localStorageAvailable()) return;
    copies.value = await copyDeps().localCopy.siteCopiesOf(userId.value);
  }

  function copiesOf(volumeId: string): SiteCopyRecord[] {
    return copies.value.filter((c) => c.volumeId === volumeId);
  }

  function progressOf(volumeId: string, siteId: string): CopyProgress | undefined {
    return progress.value[keyOf(volumeId, siteId)];
  }

  /** The site as this console is signed in there, or null when it is not. */
  function targetOf(siteId: string): CopyTarget | null {
    const site = otherSites.sites.find((s) => s.siteId === siteId);
    const token = otherSites.tokens[siteId];
    if (!site || !token || site.state !== 'signed-in') return null;
    return { siteId, name: site.name, url: site.url, token, fingerprint: site.fingerprint };
  }

  function siteName(siteId: string): string {
    return otherSites.sites.find((s) => s.siteId === siteId)?.name ?? siteId;
  }

  /** A generation as this browser's local copy keeps it: its escrow plan names the sites that keep the keys (MS-4). */
  async function generationRecord(
    volumeId: string,
    generation: number,
  ): Promise<GenerationRecord | undefined> {
    if (!localStorageAvailable()) return undefined;
    return copyDeps().localCopy.getGeneration(volumeId, generation);
  }

  /** MS-4: the chosen sites as the escrow plan needs them; a site not signed in is asked anonymously. */
  function shareSites(siteIds: readonly string[]): ShareSite[] {
    return siteIds.map((siteId) => {
      const site = otherSites.sites.find((s) => s.siteId === siteId);
      const target: CopyTarget = {
        siteId,
        name: site?.name ?? siteId,
        url: site?.url ?? '',
        token: otherSites.tokens[siteId] ?? '',
        fingerprint: site?.fingerprint ?? '',
      };
      return {
        siteId,
        name: target.name,
        fingerprint: target.fingerprint,
        site: copyDeps().site(target),
      };
    });
  }

  /** A copy chosen and not yet made: the site holds no generation of it. */
  function newCopy(volumeId: string, siteId: string): SiteCopyRecord {
    return {
      volumeId,
      siteId,
      userId: userId.value,
      siteName: siteName(siteId),
      generation: 0,
      state: 'copying',
      updatedAt: new Date(copyDeps().now()).toISOString(),
    };
  }

  /**
   * The operator's choice for a volume (MS-3): these sites get copies from
   * now on; a site no longer chosen gets nothing more (what it holds stays).
   */
  async function choose(volumeId: string, siteIds: readonly string[]): Promise<void> {
    const { localCopy } = copyDeps();
    for (const existing of await localCopy.siteCopiesOf(userId.value)) {
      if (existing.volumeId === volumeId && !siteIds.includes(existing.siteId)) {
        await localCopy.deleteSiteCopy(volumeId, existing.siteId);
      }
    }
    for (const siteId of siteIds) {
      if (!(await localCopy.siteCopy(volumeId, siteId))) {
        await localCopy.putSiteCopy(newCopy(volumeId, siteId));
      }
    }
    await load();
  }

  /**
   * What a copy still lacks, as its pair's heartbeat carries it (RC-2): the
   * generations complete here that the site has not confirmed. Null when
   * this browser sends no copy of the volume to the site.
   */
  async function copyBacklog(volumeId: string, siteId: string): Promise<PairBacklog | null> {
    const { localCopy } = copyDeps();
    const copy = await localCopy.siteCopy(volumeId, siteId);
    if (!copy) return null;
    const lagging = (await localCopy.generationsOf(userId.value)).filter(
      (g) => g.volumeId === volumeId && g.state === 'complete' && g.generation > copy.generation,
    );
    return {
      pending: lagging.length,
      pendingBytes: lagging.reduce((sum, g) => sum + g.file.size, 0),
      oldestPendingAt: lagging.map((g) => g.completedAt ?? g.startedAt).sort()[0] ?? null,
      seqSent: 0,
      // The keys stay at the home site: this site holds none (003).
      epoch: null,
    };
  }

  /** The pair engine of another site, made and started once it has a copy to speak for. */
  function engineAt(target: CopyTarget): PairEngine {
    let engine = engines.get(target.siteId);
    if (engine) return engine;
    const address = (): Required<SiteAddress> => {
      const now = targetOf(target.siteId) ?? target;
      return { url: now.url, token: now.token };
    };
    engine = new PairEngine({
      api: {
        myPairs: () => fetchMyPairs(undefined, address()),
        heartbeat: (pairId, beat) => sendHeartbeat(pairId, beat, undefined, address()),
        acknowledge: (pairId, instructionId, facts) =>
          acknowledgeInstruction(pairId, instructionId, facts, undefined, address()),
      },
      backlog: (volumeId) => copyBacklog(volumeId, target.siteId),
      rekeyIdle: null,
      // RC-2, RC-3 flush: a copy that lags is sent once the site answers.
      drainIdle: async (volumeId) => {
        await copy(volumeId, target.siteId);
      },
      isUnreachable: isSiteUnreachable,
      now: () => copyDeps().now(),
      intervalMs: PAIR_HEARTBEAT_MS,
      unreachableAfterMs: PAIR_UNREACHABLE_AFTER_MS,
      onChange: (views) => {
        pairViews.value = { ...pairViews.value, [target.siteId]: views };
      },
    });
    engines.set(target.siteId, engine);
    if (timer.value !== undefined) engine.start();
    return engine;
  }

  /** Whether the site's administrators suspended the copy's pair (RC-5): nothing goes until resumed. */
  function suspended(volumeId: string, siteId: string): boolean {
    return (pairViews.value[siteId] ?? []).some(
      (view) => view.volumeId === volumeId && view.state === 'PSUS',
    );
  }

  /** One heartbeat round at every other site now (after a copy, or in a test). */
  async function beat(): Promise<void> {
    await Promise.all([...engines.values()].map((engine) => engine.beatNow()));
  }

  /** Brings one site's copy of a volume up to date; never throws, records why it stopped. */
  function copy(volumeId: string, siteId: string): Promise<SiteCopyRecord> {
    const key = keyOf(volumeId, siteId);
    let run = running.get(key);
    if (!run) {
      run = copyOnce(volumeId, siteId).finally(() => {
        running.delete(key);
        const { [key]: _done, ...rest } = progress.value;
        progress.value = rest;
      });
      running.set(key, run);
    }
    return run;
  }

  async function copyOnce(volumeId: string, siteId: string): Promise<SiteCopyRecord> {
    const { localCopy } = copyDeps();
    const stored = await localCopy.siteCopy(volumeId, siteId);
    const base = stored ?? newCopy(volumeId, siteId);
    let outcome: SiteCopyRecord;
    try {
      const target = targetOf(siteId);
      if (!target) {
        throw new BackupError('copy_signed_out', 'Not signed in at that site.', {
          site: base.siteName,
        });
      }
      const engine = engineAt(target);
      if (suspended(volumeId, siteId)) {
        throw new BackupError('copy_suspended', "The site's administrators suspended it.", {});
      }
      await localCopy.putSiteCopy({ ...base, state: 'copying' });
      await load();
      outcome = await copyToSite(target, volumeId, userId.value, copyDeps(), (p) => {
        progress.value = { ...progress.value, [keyOf(volumeId, siteId)]: p };
      });
      // The copy's commits carry the terms of their generation; later changes follow (MS-6).
      const reason = stored?.restorersPending?.reason ?? KEPT_IN_STEP;
      try {
        const wanted = await homeRestorers(volumeId);
        if (wanted) await syncRestorers(target, volumeId, wanted, reason);
        outcome = { ...outcome, restorersPending: undefined };
      } catch {
        outcome = { ...outcome, restorersPending: { reason } };
      }
      await localCopy.putSiteCopy(outcome);
      void engine.beatNow();
    } catch (error) {
      const latest = (await localCopy.siteCopy(volumeId, siteId)) ?? base;
      const waits =
        isSiteUnreachable(error) ||
        isSignedOutAt(error) ||
        (error instanceof BackupError &&
          (error.code === 'copy_signed_out' || error.code === 'copy_suspended'));
      outcome = {
        ...latest,
        state: waits ? 'waiting' : 'refused',
        problem: problemOf(error, base.siteName),
        updatedAt: new Date(copyDeps().now()).toISOString(),
      };
      await localCopy.putSiteCopy(outcome);
    }
    await load();
    return outcome;
  }

  /** Who may restore the volume as this console's own site has it, or null if it has no record. */
  async function homeRestorers(volumeId: string): Promise<readonly string[] | null> {
    const record = (await fetchMyVolumes()).find((r) => r.volumeId === volumeId);
    return record ? record.restorers : null;
  }

  /**
   * Brings the restorer list at `target` in line with `wanted`; a site
   * holding nothing of the volume is left. Whether it holds the volume.
   */
  async function syncRestorers(
    target: CopyTarget,
    volumeId: string,
    wanted: readonly string[],
    reason: string,
  ): Promise<boolean> {
    const address = { url: target.url, token: target.token };
    const there = (await fetchMyVolumes(address)).find((r) => r.volumeId === volumeId);
    if (!there) return false;
    const add = wanted.filter((userId) => !there.restorers.includes(userId));
    const remove = there.restorers.filter((userId) => !wanted.includes(userId));
    if (add.length || remove.length) {
      await changeRestorers(volumeId, { add, remove, reason }, address);
    }
    return true;
  }

  /** Marks a copy's restorer list as in step (undefined) or still to be told (MS-6). */
  async function mark(
    volumeId: string,
    siteId: string,
    pending: SiteCopyRecord['restorersPending'],
  ): Promise<void> {
    const { localCopy } = copyDeps();
    // Read again rather than taken from the screen's reactive list: IndexedDB stores plain objects.
    const stored = await localCopy.siteCopy(volumeId, siteId);
    if (stored) await localCopy.putSiteCopy({ ...stored, restorersPending: pending });
  }

  /**
   * MS-6: after the owner changed who may restore at this console's own
   * site, the same list goes to every other site holding the volume: those
   * this browser copied it to, and any other site that says it holds it
   * (a copy made from another browser). A site that cannot be told now is
   * named; one this browser copies to is told when its copy catches up.
   */
  async function applyRestorers(
    volumeId: string,
    wanted: readonly string[],
    reason: string,
  ): Promise<SiteChangeOutcome[]> {
    await otherSites.settled();
    await load();
    const copied = new Map(
      copiesOf(volumeId)
        .filter((c) => c.generation > 0)
        .map((c) => [c.siteId, c.siteName] as const),
    );
    const names = new Map([
      ...otherSites.sites.map((site) => [site.siteId, site.name] as const),
      ...copied,
    ]);
    const outcomes = await Promise.all(
      [...names].map(async ([siteId, siteName]): Promise<SiteChangeOutcome | null> => {
        const about = { siteId, siteName };
        try {
          const target = targetOf(siteId);
          if (!target) {
            throw new BackupError('copy_signed_out', 'Not signed in at that site.', {});
          }
          const held = await syncRestorers(target, volumeId, wanted, reason);
          if (copied.has(siteId)) await mark(volumeId, siteId, undefined);
          return held ? { ...about, applied: true } : null;
        } catch (error) {
          if (copied.has(siteId)) await mark(volumeId, siteId, { reason });
          return { ...about, applied: false, problem: problemOf(error, siteName) };
        }
      }),
    ).finally(() => load());
    return outcomes.filter((outcome) => outcome !== null);
  }

  /** Every chosen site of a volume, side by side. */
  async function copyVolume(volumeId: string): Promise<SiteCopyRecord[]> {
    await load();
    return Promise.all(copiesOf(volumeId).map((c) => copy(volumeId, c.siteId)));
  }

  /** Copies that lag behind the local copy, tried again (MS-3: a site that was away catches up). */
  async function catchUp(): Promise<void> {
    if (!userId.value || !localStorageAvailable()) return;
    await otherSites.settled();
    await load();
    // Every site holding a copy gets its pairs' heartbeats, lagging or not (RC-7).
    for (const siteId of new Set(copies.value.map((c) => c.siteId))) {
      const target = targetOf(siteId);
      if (target) engineAt(target);
    }
    const newest = new Map<string, number>();
    for (const g of await copyDeps().localCopy.generationsOf(userId.value)) {
      if (g.state !== 'complete') continue;
      newest.set(g.volumeId, Math.max(newest.get(g.volumeId) ?? 0, g.generation));
    }
    await Promise.all(
      copies.value
        .filter((c) => c.state !== 'refused' || c.problem?.code === 'copy_signed_out')
        .filter(
          (c) => c.generation < (newest.get(c.volumeId) ?? 0) || c.restorersPending !== undefined,
        )
        .map((c) => copy(c.volumeId, c.siteId)),
    );
  }

  /** Starts catching up now and on an interval, while the console is open. */
  function start(): void {
    if (timer.value !== undefined) return;
    timer.value = setInterval(() => void catchUpQuietly(), CATCH_UP_INTERVAL_MS);
    for (const engine of engines.values()) engine.start();
    void catchUpQuietly();
  }

  /** A catch-up in the background: what stops it is recorded per copy, or tried on the next round. */
  async function catchUpQuietly(): Promise<void> {
    try {
      await catchUp();
    } catch {
      // The local copy could not be read now (the page is closing, storage is gone): next round.
    }
  }

  function stop(): void {
    if (timer.value !== undefined) clearInterval(timer.value);
    timer.value = undefined;
    for (const engine of engines.values()) engine.stop();
  }

  /** Test seam: the copier's dependencies (a test's sites and database). */
  function useCopyDeps(next: CopyDeps): void {
    deps = next;
  }

  return {
    copies,
    progress,
    pairViews,
    load,
    copiesOf,
    progressOf,
    choose,
    generationRecord,
    shareSites,
    copy,
    copyVolume,
    applyRestorers,
    catchUp,
    beat,
    start,
    stop,
    useCopyDeps,
  };
});
