/// <reference lib="webworker" />
/**
 * The worker that hashes the image (BK-6, BK-7): see chunk-hasher.ts for
 * its messages and what it does.
 */

import { createChunkHashHandler, type ChunkHashRequest } from './chunk-hasher';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const handle = createChunkHashHandler();

scope.onmessage = (event: MessageEvent<ChunkHashRequest>) => {
  void handle(event.data).then((answer) => {
    if (answer) scope.postMessage(answer.reply, answer.transfer);
  });
};
