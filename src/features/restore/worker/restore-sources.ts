/**
 * Where a restore reads chunk blobs from (RS-4): the local copy of this
 * browser first, then the site, with automatic failover; or one of them
 * only. A source hands back the blob it holds, or undefined when it holds
 * none; the signed index decides whether a blob is acceptable.
 */

import type { RetryPolicy } from '@/shared/api/request';
import { fetchChunkBlob, RESTORE_RETRY } from '@/shared/api/restore';
import {
  checkChunkAgainstIndex,
  TamperedChunkError,
  type ChunkEntry,
  type ManifestIndex,
} from '@/core/crypto';
import { backupDatabase, type BackupDatabase } from '@/shared/storage/database';
import type { RestoreSource } from '@/shared/storage/restore-progress';

export type CopyName = 'local' | 'site';

export interface ChunkSource {
  readonly name: CopyName;
  read(
    volumeId: string,
    entry: ChunkEntry,
    signal?: AbortSignal,
  ): Promise<Uint8Array<ArrayBuffer> | undefined>;
}

/**
 * The local copy the backup pipeline wrote (BK-6, RC-1), read-only: blobs
 * by volume and chunk ID, whichever generation stored them.
 */
export class LocalCopySource implements ChunkSource {
  readonly name = 'local';

  constructor(private readonly db: BackupDatabase = backupDatabase()) {}

  async read(volumeId: string, entry: ChunkEntry): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const record = await this.db.chunks.get([volumeId, entry.chunkId]);
    return record?.blob;
  }
}

/** The site's copy, fetched with retries and back-off (RS-8). */
export class SiteCopySource implements ChunkSource {
  readonly name = 'site';

  constructor(private readonly retry: RetryPolicy = RESTORE_RETRY) {}

  read(
    volumeId: string,
    entry: ChunkEntry,
    signal?: AbortSignal,
  ): Promise<Uint8Array<ArrayBuffer> | undefined> {
    return fetchChunkBlob(volumeId, entry.chunkId, this.retry, signal);
  }
}

/** The sources a restore uses, in the order it tries them (RS-4). */
export function sourcesFor(
  choice: RestoreSource,
  local: ChunkSource,
  site: ChunkSource,
): ChunkSource[] {
  if (choice === 'local') return [local];
  if (choice === 'site') return [site];
  return [local, site];
}

export interface ChunkRead {
  readonly blob: Uint8Array<ArrayBuffer> | undefined;
  /** The copy the blob came from; undefined when no copy held one. */
  readonly from: CopyName | undefined;
  /** Copies tried before whose blob was missing or failed the keyless check. */
  readonly passedOver: readonly { readonly copy: CopyName; readonly damaged: boolean }[];
}

/**
 * Reads the chunk at `position` from the first source that holds an
 * acceptable blob. A blob of an earlier source that fails the keyless check
 * against the signed index is passed over for the next source (failover);
 * the last source's blob is returned as it is, for the verifier to judge.
 */
export async function readChunk(
  sources: readonly ChunkSource[],
  index: ManifestIndex,
  position: number,
  signal?: AbortSignal,
): Promise<ChunkRead> {
  const entry = index.chunks[position]!;
  const passedOver: { copy: CopyName; damaged: boolean }[] = [];
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i]!;
    const last = i === sources.length - 1;
    const blob = await source.read(index.volumeId, entry, signal);
    if (last) return { blob, from: blob ? source.name : undefined, passedOver };
    if (!blob) {
      passedOver.push({ copy: source.name, damaged: false });
      continue;
    }
    try {
      await checkChunkAgainstIndex(index, position, entry.chunkId, blob);
      return { blob, from: source.name, passedOver };
    } catch (error) {
      if (!(error instanceof TamperedChunkError)) throw error;
      passedOver.push({ copy: source.name, damaged: true });
    }
  }
  return { blob: undefined, from: undefined, passedOver };
}
