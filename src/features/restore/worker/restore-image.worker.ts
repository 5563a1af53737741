/// <reference lib="webworker" />
/**
 * The restore worker (RS-6): checks, decrypts and writes one image to the
 * origin private file system through a synchronous access handle, which only
 * dedicated workers have. It starts its decryption workers (one per core)
 * at once and says "ready" only when their code is loaded too, so that a
 * restore that goes on from the local copy does not need the site for it
 * (see restore-job.ts). See restore-protocol.ts for its messages.
 */

import { createDecryptPool } from './restore-decrypt-pool';
import { openOpfsSink } from './restore-opfs';
import { describeFailure, type RestoreJobReply, type RestoreJobRequest } from './restore-protocol';
import { LocalCopySource, SiteCopySource } from './restore-sources';
import { startRestoreTask, type RunningTask } from './restore-task';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const pool = createDecryptPool();
let task: RunningTask | undefined;

function post(reply: RestoreJobReply): void {
  scope.postMessage(reply);
}

scope.onmessage = (event: MessageEvent<RestoreJobRequest>) => {
  const message = event.data;
  if (message.type === 'cancel') {
    task?.cancel(message.discard);
    return;
  }
  if (task) return;
  task = startRestoreTask(
    message,
    {
      openSink: openOpfsSink,
      local: new LocalCopySource(),
      site: new SiteCopySource(message.retry),
      pool,
    },
    (progress) => post({ type: 'progress', progress }),
  );
  void task.outcome.then((outcome) => post(outcome));
};

pool.ready.then(
  () => post({ type: 'ready' }),
  (error: unknown) => {
    pool.close();
    post({ type: 'failed', error: describeFailure(error) });
  },
);
