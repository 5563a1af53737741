/**
 * The page's handle on a restore job (RS-6): in the browser a dedicated
 * worker per restore; tests replace the factory with one that runs the same
 * task on the page with an output in memory.
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

export type RestoreJobFactory = (
  start: RestoreJobStart,
  onProgress: (progress: PipelineProgress) => void,
) => RestoreJob;

/** Runs the job in a dedicated worker that owns the output file. */
export function startWorkerJob(
  start: RestoreJobStart,
  onProgress: (progress: PipelineProgress) => void,
): RestoreJob {
  const worker = new Worker(new URL('./restore-image.worker.ts', import.meta.url), {
    type: 'module',
    name: 'custodian-restore',
  });
  const post = (message: RestoreJobRequest): void => worker.postMessage(message);
  const done = new Promise<string>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<RestoreJobReply>) => {
      const reply = event.data;
      if (reply.type === 'progress') {
        onProgress(reply.progress);
        return;
      }
      worker.terminate();
      if (reply.type === 'complete') resolve(reply.sha256);
      else reject(new RestoreJobError(reply.error));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      reject(
        new RestoreJobError({
          name: 'WorkerError',
          message: event.message || 'The restore worker stopped.',
        }),
      );
    };
  });
  post(start);
  return { done, cancel: (discard) => post({ type: 'cancel', discard }) };
}
