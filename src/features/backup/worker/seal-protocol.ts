/**
 * The message protocol between the backup runner and its crypto workers
 * (BK-6). A worker is initialised once per backup with the volume's keys
 * (CryptoKeys are structured-cloneable, non-extractable ones included), then
 * seals chunks one message at a time. Plaintext and blobs travel as
 * transferred ArrayBuffers, never copied.
 */

export interface SealInit {
  readonly type: 'init';
  readonly volumeId: string;
  readonly epoch: number;
  readonly chunkIdKey: CryptoKey;
  readonly dataKey: CryptoKey;
  /**
   * Chunk IDs whose blobs already exist (earlier generations, the local
   * copy): a chunk with one of these IDs is identified but not encrypted.
   */
  readonly knownChunkIds: readonly string[];
}

export interface SealRequest {
  readonly type: 'seal';
  readonly id: number;
  /** The plaintext, transferred; the worker owns it afterwards. */
  readonly plaintext: ArrayBuffer;
}

export type SealWorkerRequest = SealInit | SealRequest;

export interface SealReady {
  readonly type: 'ready';
}

/** A chunk sealed, identified and verified after encryption. */
export interface SealedReply {
  readonly type: 'sealed';
  readonly id: number;
  readonly chunkId: string;
  /** The blob, transferred. */
  readonly blob: ArrayBuffer;
  readonly ciphertextSha256: string;
  readonly length: number;
  readonly epoch: number;
}

/** The chunk's ID is known: nothing was encrypted. */
export interface KnownReply {
  readonly type: 'known';
  readonly id: number;
  readonly chunkId: string;
  readonly length: number;
}

export interface FailedReply {
  readonly type: 'failed';
  /** Absent when init failed. */
  readonly id?: number;
  readonly name: string;
  readonly code?: string;
  readonly message: string;
}

export type SealWorkerReply = SealReady | SealedReply | KnownReply | FailedReply;

/** A reply together with the buffers to transfer with it. */
export interface ReplyWithTransfer {
  readonly reply: SealWorkerReply;
  readonly transfer: Transferable[];
}
