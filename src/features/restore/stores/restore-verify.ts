import { defineStore } from 'pinia';
import { ref } from 'vue';
import { fetchChunkBlob, reportIntegrityFailure, scrubSiteCopy } from '@/shared/api/restore';
import { manifestHash, type ChunkFailure, type ManifestIndex } from '@/core/crypto';
import type { VerifiedCopy } from '@/shared/storage/restore-progress';
import { LocalCopySource } from '@/features/restore/worker/restore-sources';
import { latestGeneration, type RestorableRow } from '../engine/restore-catalog';
import {
  blobChecker,
  verifyCopy,
  type CopyChecker,
  type CoverageSummary,
} from '../engine/restore-coverage';
import { describeRestoreError, type RestoreProblem } from '../engine/restore-errors';
import { loadVerifiedManifest } from '../engine/restore-manifest';
import { useRestoreStore } from './restore';
import { useSessionStore } from '@/features/account';

export interface VerifyRun {
  readonly volumeId: string;
  readonly generation: number;
  stage: 'index' | 'checking' | 'done' | 'stopped' | 'failed';
  /** The copy being checked now. */
  copy: VerifiedCopy | null;
  coverage: Partial<Record<VerifiedCopy, CoverageSummary>>;
  problem: RestoreProblem | null;
}

/** The site's own re-hash of its stored chunks (owner): no download needed. */
function scrubChecker(index: ManifestIndex): CopyChecker {
  return async (positions, signal) => {
    const from = positions[0]!;
    const result = await scrubSiteCopy(
      index.volumeId,
      { generation: index.generation, from, count: positions.length },
      useRestoreStore().retryPolicy,
      signal,
    );
    const outcomes = new Map<number, ChunkFailure | null>(positions.map((p) => [p, null]));
    for (const bad of result.bad) {
      outcomes.set(bad.index, bad.problem === 'missing' ? 'missing' : 'index-hash');
    }
    return outcomes;
  };
}

/**
 * Verify (RS-9): checks every chunk of the local copy and of the site copy
 * of a generation against its signed index, without any key, and keeps the
 * coverage so that runs stopped part-way add up to 100 %.
 */
export const useRestoreVerifyStore = defineStore('restoreVerify', () => {
  const session = useSessionStore();
  const run = ref<VerifyRun | null>(null);
  let controller: AbortController | undefined;

  function checkerFor(copy: VerifiedCopy, row: RestorableRow, index: ManifestIndex): CopyChecker {
    if (copy === 'local') {
      const local = new LocalCopySource();
      return blobChecker(index, (entry) => local.read(index.volumeId, entry));
    }
    if (row.owner === session.userId) return scrubChecker(index);
    const retry = useRestoreStore().retryPolicy;
    return blobChecker(index, (entry, signal) =>
      fetchChunkBlob(index.volumeId, entry.chunkId, retry, signal),
    );
  }

  async function verify(row: RestorableRow, generation?: number): Promise<void> {
    if (run.value && (run.value.stage === 'index' || run.value.stage === 'checking')) return;
    const chosen =
      row.generations.find((g) => g.generation === generation) ?? latestGeneration(row);
    if (!chosen || !session.userId) return;
    const stop = new AbortController();
    controller = stop;
    run.value = {
      volumeId: row.volumeId,
      generation: chosen.generation,
      stage: 'index',
      copy: null,
      coverage: {},
      problem: null,
    };
    const view = run.value;
    try {
      const { manifest } = await loadVerifiedManifest({
        userId: session.userId,
        volumeId: row.volumeId,
        generation: chosen.generation,
        retry: useRestoreStore().retryPolicy,
        signal: stop.signal,
      });
      const hash = await manifestHash(manifest);
      const copies: VerifiedCopy[] = [
        ...(chosen.local ? (['local'] as const) : []),
        ...(chosen.onSite ? (['site'] as const) : []),
      ];
      view.stage = 'checking';
      for (const copy of copies) {
        view.copy = copy;
        const summary = await verifyCopy(
          manifest.index,
          copy,
          hash,
          checkerFor(copy, row, manifest.index),
          {
            signal: stop.signal,
            onStep: (step) => {
              view.coverage = { ...view.coverage, [copy]: step };
            },
          },
        );
        // RS-5: damage found in the site's copy by download is reported; the owner's scrub reports itself.
        if (copy === 'site' && summary.bad.length && row.owner !== session.userId) {
          await reportIntegrityFailure({
            volumeId: row.volumeId,
            generation: chosen.generation,
            chunkIndex: summary.bad[0]!.position,
            chunkId: summary.bad[0]!.chunkId,
            source: 'site',
            check: summary.bad[0]!.failure,
            badChunks: summary.bad.length,
          }).catch(() => undefined);
        }
      }
      view.copy = null;
      view.stage = 'done';
    } catch (error) {
      view.copy = null;
      if (stop.signal.aborted) {
        view.stage = 'stopped';
        return;
      }
      view.problem = describeRestoreError(error);
      view.stage = 'failed';
    } finally {
      if (controller === stop) controller = undefined;
    }
  }

  /** Stops a run; what it checked so far stays counted. */
  function stop(): void {
    controller?.abort(new DOMException('Stopped', 'AbortError'));
  }

  function close(): void {
    if (run.value && (run.value.stage === 'index' || run.value.stage === 'checking')) return;
    run.value = null;
  }

  return { run, verify, stop, close };
});
