/**
 * The messages between the restore page and its worker (RS-6). The page
 * starts a job with the verified index, the opened secret part and the
 * released keys (CryptoKeys and Maps are structured-cloneable, so the keys
 * never exist as bytes on either side); the worker answers with progress and
 * one final outcome. Failures travel as plain values carrying what the page
 * needs to explain them: the chunk and the check for a tampered chunk (RS-5),
 * the code and status for a site error (RS-8).
 */

import type { RetryPolicy } from '@/shared/api/request';
import type {
  ChunkFailure,
  ManifestIndex,
  ManifestSecret,
  RestoreProgress,
  VolumeKeys,
} from '@/core/crypto';
import type { RestoreSource } from '@/shared/storage/restore-progress';
import type { PipelineProgress } from './restore-pipeline';
import type { BundleFile, OtherSiteCopy } from './restore-sources';

export interface RestoreJobStart {
  readonly type: 'start';
  /** Names the output file and the progress record. */
  readonly restoreId: string;
  readonly index: ManifestIndex;
  readonly secret: ManifestSecret;
  readonly keys: VolumeKeys;
  /** Saved progress to resume from; absent for a fresh start. */
  readonly progress?: RestoreProgress;
  readonly source: RestoreSource;
  /**
   * The other sites the console is signed in at, in the site directory's
   * order, tried after its own site (MS-5); their bearer tokens reach the
   * worker with them, as the keys do.
   */
  readonly sites?: readonly OtherSiteCopy[];
  readonly retry?: RetryPolicy;
  /** The bundle file the chunks are read from, when `source` is `bundle`. */
  readonly bundle?: BundleFile;
}

export interface RestoreJobCancel {
  readonly type: 'cancel';
  /** Delete the partial output too (Cancel), or keep it for a resume (leaving the page). */
  readonly discard: boolean;
}

export type RestoreJobRequest = RestoreJobStart | RestoreJobCancel;

/** A failure as a value (errors do not keep their class across postMessage). */
export interface RestoreJobFailure {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly status?: number;
  readonly details?: Record<string, unknown>;
  readonly chunkIndex?: number | null;
  readonly chunkId?: string;
  readonly failure?: ChunkFailure;
}

export type RestoreJobReply =
  /** The worker's code is loaded and listening. */
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly progress: PipelineProgress }
  | { readonly type: 'complete'; readonly sha256: string; readonly bytesWritten: number }
  | { readonly type: 'failed'; readonly error: RestoreJobFailure };

/** Turns any error into a RestoreJobFailure, keeping the fields the page explains. */
export function describeFailure(error: unknown): RestoreJobFailure {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const fields = error as Error & Partial<Omit<RestoreJobFailure, 'name' | 'message'>>;
  return {
    name: error.name,
    message: error.message,
    ...(typeof fields.code === 'string' ? { code: fields.code } : {}),
    ...(typeof fields.status === 'number' ? { status: fields.status } : {}),
    ...(fields.details ? { details: fields.details } : {}),
    ...(fields.chunkIndex !== undefined ? { chunkIndex: fields.chunkIndex } : {}),
    ...(typeof fields.chunkId === 'string' ? { chunkId: fields.chunkId } : {}),
    ...(fields.failure ? { failure: fields.failure } : {}),
  };
}

/** A job's failure on the page side, with the worker's fields. */
export class RestoreJobError extends Error {
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly chunkIndex: number | null | undefined;
  readonly chunkId: string | undefined;
  readonly failure: ChunkFailure | undefined;

  constructor(readonly description: RestoreJobFailure) {
    super(description.message);
    this.name = description.name;
    this.code = description.code;
    this.status = description.status;
    this.details = description.details;
    this.chunkIndex = description.chunkIndex;
    this.chunkId = description.chunkId;
    this.failure = description.failure;
  }
}
