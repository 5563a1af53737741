/**
 * The page's handle on a restore job (RS-6): in the browser a dedicated
 * worker per restore; tests replace the factory with one that runs the same
 * task on the page with an output in memory.
 *
 * The worker is spawned when a restore begins, before its keys are asked
 * for, so its script is loaded while the site is known to answer: a restore
 * that then goes on from the local copy does not need the site for it (RS-4).
 */

import type { PipelineProgress } from './restore-pipeline';
import {
  RestoreJobError,
  type RestoreJobReply,
  type RestoreJobRequest,
  type RestoreJobStart,
} from './restore-protocol';

export interface RestoreJob {
  /** Resolves with the verified SHA-256, or rejects with a RestoreJobError. */
  readonly done: Promise<string>;
  /** Stops the job; `discard` deletes the partial output as well (Cancel). */
  cancel(discard: boolean): void;
}

/** A job made ready before it knows what to restore. */
export interface PreparedRestoreJob {
  /** Resolves once the job's code is loaded; rejects if it cannot be. */
  readonly ready: Promise<void>;
  start(start: RestoreJobStart, onProgress: (progress: PipelineProgress) => void): RestoreJob;
  /** Lets go of it unused (the restore ended before its chunks). */
  dispose(): void;
}

export type RestoreJobFactory = () => PreparedRestoreJob;

/** Spawns the restore worker that will own the output file. */
export function prepareWorkerJob(): PreparedRestoreJob {
  const worker = new Worker(new URL('./restore-image.worker.ts', import.meta.url), {
    type: 'module',
    name: 'custodian-restore',
  });
  let failure: RestoreJobError | undefined;
  let loaded!: () => void;
  let fail!: (error: RestoreJobError) => void;
  const ready = new Promise<void>((resolve, reject) => {
    loaded = resolve;
    fail = (error) => {
      failure = error;
      reject(error);
    };
  });
  // Awaited or not, a failure to load is reported through `done` as well.
  ready.catch(() => undefined);
  worker.onmessage = (event: MessageEvent<RestoreJobReply>) => {
    if (event.data.type === 'ready') loaded();
    if (event.data.type === 'failed') {
      // Its decryption workers could not be started.
      worker.terminate();
      fail(new RestoreJobError(event.data.error));
    }
  };
  worker.onerror = (event) => {
    event.preventDefault();
    worker.terminate();
    fail(
      new RestoreJobError({
        name: 'WorkerError',
        message: event.message || 'The restore worker could not be started.',
      }),
    );
  };
  return {
    ready,
    start(start, onProgress) {
      const post = (message: RestoreJobRequest): void => worker.postMessage(message);
      const done = new Promise<string>((resolve, reject) => {
        if (failure) {
          reject(failure);
          return;
        }
        fail = reject;
        worker.onmessage = (event: MessageEvent<RestoreJobReply>) => {
          const reply = event.data;
          if (reply.type === 'ready') return;
          if (reply.type === 'progress') {
            onProgress(reply.progress);
            return;
          }
          worker.terminate();
          if (reply.type === 'complete') resolve(reply.sha256);
          else reject(new RestoreJobError(reply.error));
        };
      });
      post(start);
      return { done, cancel: (discard) => post({ type: 'cancel', discard }) };
    },
    dispose() {
      worker.terminate();
    },
  };
}
