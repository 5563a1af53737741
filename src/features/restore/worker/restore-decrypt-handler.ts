/**
 * What a restore's decryption worker does (RS-5), without the worker around
 * it, so that tests and the in-process pool run exactly the same code: the
 * checks of openIndexedChunk (index, AEAD, chunk ID, length) on one chunk.
 * Order and the image hash are not its business: the restore accepts each
 * plaintext in image order (RestoreVerifier.acceptChunk) before using it.
 */

import { openIndexedChunk, TamperedChunkError, type VolumeKeys } from '@/core/crypto';
import type {
  DecryptFailed,
  DecryptReplyWithTransfer,
  DecryptWorkerRequest,
} from './restore-decrypt-protocol';

export type DecryptHandler = (request: DecryptWorkerRequest) => Promise<DecryptReplyWithTransfer>;

/** Turns an error into a reply, keeping what names a tampered chunk. */
export function failedReply(error: unknown, id?: number): DecryptFailed {
  const base = {
    type: 'failed' as const,
    ...(id === undefined ? {} : { id }),
  };
  if (!(error instanceof Error)) return { ...base, name: 'Error', message: String(error) };
  const { code } = error as Error & { code?: unknown };
  return {
    ...base,
    name: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(error instanceof TamperedChunkError
      ? { chunkIndex: error.chunkIndex, chunkId: error.chunkId, failure: error.failure }
      : {}),
  };
}

export function createDecryptHandler(): DecryptHandler {
  let keys: VolumeKeys | undefined;

  return async (request) => {
    if (request.type === 'init') {
      keys = request.keys;
      return { reply: { type: 'ready', id: 0 }, transfer: [] };
    }
    try {
      if (!keys)
        throw new Error('The decryption worker was asked to open a chunk before it had keys.');
      const { id, position, chunkId, entry } = request;
      const blob = request.blob ? new Uint8Array(request.blob) : undefined;
      const plaintext = await openIndexedChunk(keys, { position, entry, chunkId }, blob);
      return {
        reply: { type: 'opened', id, plaintext: plaintext.buffer },
        transfer: [plaintext.buffer],
      };
    } catch (error) {
      return { reply: failedReply(error, request.id), transfer: [] };
    }
  };
}
