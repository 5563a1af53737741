import { defineStore } from 'pinia';
import { ref, shallowRef, watch } from 'vue';
import { acknowledgeInstruction, fetchMyPairs, sendHeartbeat } from '@/shared/api/pairs';
import { LocalCopy } from '@/shared/storage/local-copy';
import { isSiteUnreachable } from '@/features/backup/engine/backup-errors';
import { BackupRunner, defaultRunnerDeps } from '@/features/backup/engine/backup-runner';
import { liveSite } from '@/features/backup/engine/backup-site';
import { PairEngine, type PrimaryPairView } from '../engine/pair-engine';
import type { PairLink } from '../engine/pair-link';
import { backlogOf, rekeyIdlePair } from '../engine/pair-rekey';
import { useSessionStore } from '@/features/account';

/** How often each pair gets a heartbeat while the console is open. */
export const PAIR_HEARTBEAT_MS = 5_000;
/** RC-3: the site unanswered this long makes the operator's pairs PSUE. */
export const PAIR_UNREACHABLE_AFTER_MS = 15_000;

/**
 * The operator's pairs seen from the backup side (RC-7): the pair engine
 * of this browser, started while the operator's console is open, and what
 * it shows. Backups reach it through `link()`.
 */
export const useMyPairsStore = defineStore('my-pairs', () => {
  const pairs = shallowRef<readonly PrimaryPairView[]>([]);
  const running = ref(false);
  const userId = ref<string | null>(null);
  let engine: PairEngine | undefined;
  let localCopy: LocalCopy | undefined;
  // Signing out (or in as someone else) ends this operator's heartbeats.
  watch(
    () => useSessionStore().userId,
    (id) => {
      if (id !== userId.value) stop();
    },
  );

  function create(): PairEngine {
    localCopy ??= new LocalCopy();
    const copy = localCopy;
    const deps = () => ({ site: liveSite, localCopy: copy, userId: userId.value ?? '' });
    return new PairEngine({
      api: {
        myPairs: () => fetchMyPairs(),
        heartbeat: (pairId, beat) => sendHeartbeat(pairId, beat),
        acknowledge: (pairId, instructionId, facts) =>
          acknowledgeInstruction(pairId, instructionId, facts),
      },
      backlog: (volumeId) => backlogOf(deps(), volumeId),
      rekeyIdle: (pair) => rekeyIdlePair(deps(), pair),
      drainIdle: async (volumeId) => {
        const stored = (await copy.inProgress(userId.value ?? '')).find(
          (g) => g.volumeId === volumeId && g.manifest !== undefined,
        );
        if (!stored || !engine) return;
        await BackupRunner.drain(stored, () => undefined, {
          ...defaultRunnerDeps(),
          localCopy: copy,
          pairs: engine,
        }).run();
      },
      isUnreachable: isSiteUnreachable,
      now: () => Date.now(),
      intervalMs: PAIR_HEARTBEAT_MS,
      unreachableAfterMs: PAIR_UNREACHABLE_AFTER_MS,
      onChange: (views) => {
        pairs.value = views;
      },
    });
  }

  /** The engine, for a backup to attach its stream to. */
  function link(): PairLink {
    engine ??= create();
    return engine;
  }

  /** Starts the heartbeats for `user` (again after another user signed in). */
  function start(user: string): void {
    if (userId.value !== user) {
      stop();
      pairs.value = [];
    }
    userId.value = user;
    engine ??= create();
    engine.start();
    running.value = true;
  }

  function stop(): void {
    engine?.stop();
    engine = undefined;
    running.value = false;
  }

  /** "Flush now" (RC-3): a heartbeat at once, so the site hears the backlog and instructions reach here. */
  async function flush(): Promise<void> {
    await engine?.beatNow();
  }

  return { pairs, running, link, start, stop, flush };
});
