/// <reference lib="webworker" />
/**
 * A decryption worker of a restore (RS-5), started by the restore worker:
 * see restore-decrypt-protocol.ts for its messages and
 * restore-decrypt-handler.ts for what it does.
 */

import { createDecryptHandler } from './restore-decrypt-handler';
import type { DecryptWorkerRequest } from './restore-decrypt-protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const handle = createDecryptHandler();

scope.onmessage = (event: MessageEvent<DecryptWorkerRequest>) => {
  void handle(event.data).then(({ reply, transfer }) => scope.postMessage(reply, transfer));
};

scope.postMessage({ type: 'ready' });
