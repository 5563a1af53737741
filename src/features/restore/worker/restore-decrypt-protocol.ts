/**
 * The messages between a restore and its decryption workers (RS-5, issue
 * #6): a worker says "ready" once its code is loaded, is given the
 * volume's keys once per restore (CryptoKeys are structured-cloneable,
 * non-extractable ones included, so no key ever exists as bytes), then
 * opens one chunk per message — its entry of the signed index travels with
 * it. Blobs and plaintexts are transferred ArrayBuffers, never copied.
 */

import type { ChunkEntry, ChunkFailure, VolumeKeys } from '@/core/crypto';

export interface DecryptInit {
  readonly type: 'init';
  readonly keys: VolumeKeys;
}

export interface DecryptRequest {
  readonly type: 'open';
  readonly id: number;
  readonly position: number;
  readonly chunkId: string;
  readonly entry: ChunkEntry;
  /** The blob, transferred; absent when no copy held one (the worker reports it missing). */
  readonly blob: ArrayBuffer | undefined;
}

export type DecryptWorkerRequest = DecryptInit | DecryptRequest;

/** The worker's code is loaded (id 0), or its keys are set. */
export interface DecryptReady {
  readonly type: 'ready';
  readonly id?: number;
}

/** A chunk that passed every check that needs no other chunk; the plaintext is transferred. */
export interface DecryptOpened {
  readonly type: 'opened';
  readonly id: number;
  readonly plaintext: ArrayBuffer;
}

/** A failure as a value, with the fields that name a tampered chunk. */
export interface DecryptFailed {
  readonly type: 'failed';
  /** Absent when init failed. */
  readonly id?: number;
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly chunkIndex?: number | null;
  readonly chunkId?: string;
  readonly failure?: ChunkFailure;
}

export type DecryptWorkerReply = DecryptReady | DecryptOpened | DecryptFailed;

/** A reply together with the buffers to transfer with it. */
export interface DecryptReplyWithTransfer {
  readonly reply: DecryptWorkerReply;
  readonly transfer: Transferable[];
}
