/**
 * One restore job, as the worker (or, in tests, the page itself) runs it:
 * the verifier from a fresh start or from saved progress, the decryption
 * pool given the keys, the chunk sources chosen (RS-4, MS-5), the output, and the
 * pipeline. The pool's workers stop with the job, whichever way it ends. A tampered chunk or image
 * discards the partial output at once (RS-5); any other failure keeps it so
 * the restore can resume from what was verified (RS-6, RS-8).
 */

import { RestoreVerifier, TamperedChunkError, TamperedImageError } from '@/core/crypto';
import { saveRestoreProgress } from '@/shared/storage/restore-progress';
import { InProcessDecryptPool, type DecryptPool } from './restore-decrypt-pool';
import { runRestorePipeline, type ImageSink, type PipelineProgress } from './restore-pipeline';
import { describeFailure, type RestoreJobFailure, type RestoreJobStart } from './restore-protocol';
import {
  BundleSource,
  SiteCopySource,
  sourcesFor,
  type ChunkSource,
  type OtherSiteCopy,
} from './restore-sources';

export interface RestoreTaskDeps {
  readonly openSink: (name: string) => Promise<ImageSink>;
  readonly local: ChunkSource;
  readonly site: ChunkSource;
  /** Another site's copy (MS-5); a SiteCopySource with its address and token unless given. */
  readonly otherSite?: (copy: OtherSiteCopy) => ChunkSource;
  readonly saveProgress?: typeof saveRestoreProgress;
  /** Opens chunks; this thread's in-process pool unless given (the worker gives its workers). */
  readonly pool?: DecryptPool;
}

export type RestoreTaskOutcome =
  | { readonly type: 'complete'; readonly sha256: string; readonly bytesWritten: number }
  | { readonly type: 'failed'; readonly error: RestoreJobFailure };

export interface RunningTask {
  readonly outcome: Promise<RestoreTaskOutcome>;
  /** Stops the job; `discard` deletes the partial output as well. */
  cancel(discard: boolean): void;
}

export function startRestoreTask(
  start: RestoreJobStart,
  deps: RestoreTaskDeps,
  onProgress: (progress: PipelineProgress) => void,
): RunningTask {
  const controller = new AbortController();
  const pool = deps.pool ?? new InProcessDecryptPool();
  let discardOnStop = false;
  let sink: ImageSink | undefined;

  const run = async (): Promise<RestoreTaskOutcome> => {
    try {
      const verifier = start.progress
        ? await RestoreVerifier.resume(start.index, start.secret, start.keys, start.progress)
        : await RestoreVerifier.create(start.index, start.secret, start.keys);
      await pool.init(start.keys);
      sink = await deps.openSink(start.restoreId);
      const save = deps.saveProgress ?? saveRestoreProgress;
      const sha256 = await runRestorePipeline({
        verifier,
        index: start.index,
        sources: sourcesFor(
          start.source,
          deps.local,
          deps.site,
          (start.sites ?? []).map(
            deps.otherSite ?? ((copy) => new SiteCopySource(start.retry, copy)),
          ),
          start.bundle ? new BundleSource(start.bundle, start.index) : undefined,
        ),
        pool,
        sink,
        saveProgress: (progress) => save(start.restoreId, progress),
        onProgress,
        signal: controller.signal,
      });
      return { type: 'complete', sha256, bytesWritten: start.secret.size };
    } catch (error) {
      const tampered = error instanceof TamperedChunkError || error instanceof TamperedImageError;
      if (tampered || (controller.signal.aborted && discardOnStop)) await sink?.discard();
      else await sink?.close().catch(() => undefined);
      if (controller.signal.aborted && !tampered) {
        return {
          type: 'failed',
          error: { name: 'AbortError', code: 'cancelled', message: 'The restore was stopped.' },
        };
      }
      return { type: 'failed', error: describeFailure(error) };
    } finally {
      pool.close();
    }
  };

  return {
    outcome: run(),
    cancel(discard) {
      discardOnStop = discard;
      controller.abort(new DOMException('The restore was stopped.', 'AbortError'));
      // Chunks being decrypted stop at once, not when their turn comes.
      pool.close();
    },
  };
}
