/// <reference lib="webworker" />
/**
 * A crypto worker of the backup pipeline (BK-6): see seal-protocol.ts for
 * its messages and seal-handler.ts for what it does.
 */

import { createSealHandler } from './seal-handler';
import type { SealWorkerRequest } from './seal-protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const handle = createSealHandler();

scope.onmessage = (event: MessageEvent<SealWorkerRequest>) => {
  void handle(event.data).then(({ reply, transfer }) => scope.postMessage(reply, transfer));
};
