/// <reference lib="webworker" />
/**
 * The restore worker (RS-6): checks, decrypts and writes one image to the
 * origin private file system through a synchronous access handle, which only
 * dedicated workers have. See restore-protocol.ts for its messages.
 */

import { openOpfsSink } from './restore-opfs';
import type { RestoreJobReply, RestoreJobRequest } from './restore-protocol';
import { LocalCopySource, SiteCopySource } from './restore-sources';
import { startRestoreTask, type RunningTask } from './restore-task';

const scope = self as unknown as DedicatedWorkerGlobalScope;
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
    },
    (progress) => post({ type: 'progress', progress }),
  );
  void task.outcome.then((outcome) => post(outcome));
};

post({ type: 'ready' });
