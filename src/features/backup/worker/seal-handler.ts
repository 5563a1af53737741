/**
 * What a crypto worker does (BK-6), without the worker around it, so that
 * tests and a browser without module workers run exactly the same code:
 * chunk ID (HMAC-SHA-256), AES-256-GCM with a fresh nonce, decryption once
 * more to catch a bit flip, and the blob's SHA-256 for the signed index.
 */

import {
  ciphertextHash,
  computeChunkId,
  encryptChunk,
  toHex,
  verifyAfterEncrypt,
  type ChunkContext,
  type SealChunkParams,
} from '@/core/crypto';
import type { ReplyWithTransfer, SealWorkerRequest } from './seal-protocol';

export type SealHandler = (request: SealWorkerRequest) => Promise<ReplyWithTransfer>;

export function createSealHandler(): SealHandler {
  let params: SealChunkParams | undefined;
  let known = new Set<string>();

  return async (request) => {
    if (request.type === 'init') {
      params = {
        volumeId: request.volumeId,
        epoch: request.epoch,
        chunkIdKey: request.chunkIdKey,
        dataKey: request.dataKey,
      };
      known = new Set(request.knownChunkIds);
      return { reply: { type: 'ready' }, transfer: [] };
    }
    try {
      if (!params) throw new Error('The crypto worker was asked to seal before it was set up.');
      const plaintext = new Uint8Array(request.plaintext);
      // The steps of sealChunk(), with the chunk ID computed once and checked first.
      const id = await computeChunkId(params.chunkIdKey, plaintext);
      const chunkId = toHex(id);
      if (known.has(chunkId)) {
        return {
          reply: { type: 'known', id: request.id, chunkId, length: plaintext.length },
          transfer: [],
        };
      }
      const context: ChunkContext = { volumeId: params.volumeId, chunkId: id, epoch: params.epoch };
      const blob = await encryptChunk(plaintext, params.dataKey, context);
      await verifyAfterEncrypt(blob, plaintext, params.dataKey, context);
      return {
        reply: {
          type: 'sealed',
          id: request.id,
          chunkId,
          blob: blob.buffer,
          ciphertextSha256: await ciphertextHash(blob),
          length: plaintext.length,
          epoch: params.epoch,
        },
        transfer: [blob.buffer],
      };
    } catch (error) {
      const { name, message, code } = error as Error & { code?: string };
      return {
        reply: {
          type: 'failed',
          id: request.id,
          name: name ?? 'Error',
          message: message ?? String(error),
          ...(typeof code === 'string' ? { code } : {}),
        },
        transfer: [],
      };
    }
  };
}
