/**
 * The restores of this browser (RS-6, RS-9): a small IndexedDB database of
 * its own, "custodian-restores", apart from the backup's local copy and from
 * the key store. It holds
 *
 * - one record per restore, keyed by the request ID of its key release:
 *   what is restored, the signed manifest (public) fetched at the start, and
 *   the progress after the last chunk written and flushed, so a reload, a
 *   crash or an unreachable site resumes from what was verified. The keys
 *   themselves stay in the key store, wrapped to the ephemeral key (RS-3);
 * - the coverage of Verify per volume, generation and copy, so that partial
 *   runs add up to 100 % (RS-9).
 */

import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ChunkFailure, RestoreProgress, SignedManifest } from '@/core/crypto';

export const RESTORE_DATABASE_NAME = 'custodian-restores';
const RESTORE_DATABASE_VERSION = 1;

/**
 * Where chunks come from (RS-4, MS-5): `automatic`, the local copy first,
 * then this console's own site, then the other sites it is signed in at;
 * `local` or `site` (its own site) only; or one other site only, pinned by
 * its ID. Records written before MS-5 hold one of the first three.
 */
/** `bundle`: a bundle file the restorer chose (FORMAT.md §16). */
export type RestoreSource = 'automatic' | 'local' | 'site' | 'bundle' | PinnedSite;

/** One other site only, by its site ID (MS-5). */
export type PinnedSite = `site:${string}`;

/** The source that reads one other site only. */
export function pinnedSite(siteId: string): PinnedSite {
  return `site:${siteId}`;
}

/** The other site a source is pinned to, if it is. */
export function pinnedSiteId(source: RestoreSource): string | undefined {
  return source.startsWith('site:') ? source.slice('site:'.length) : undefined;
}

/**
 * `keys`: the key release was sent and no envelope is held yet (a lost
 * answer or an approval pending); `image`: chunks are being written;
 * `complete`: the image was verified and handed to the browser.
 */
export type RestorePhase = 'keys' | 'image' | 'complete';

export interface RestoreRecord {
  /** The request ID of the key release; also names the output file. */
  readonly restoreId: string;
  readonly userId: string;
  readonly volumeId: string;
  readonly generation: number;
  readonly source: RestoreSource;
  readonly phase: RestorePhase;
  /** The signed manifest and the key that signed it, kept for a resume without the site. */
  readonly manifest?: SignedManifest;
  readonly devicePublicKey?: string;
  /** After the last chunk written and flushed (RestoreVerifier.saveProgress). */
  readonly progress?: RestoreProgress;
  /** The verified image SHA-256, once complete. */
  readonly imageSha256?: string;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly completedAt?: string;
}

/** Which copy of a volume Verify checked (RS-9). */
export type VerifiedCopy = 'local' | 'site';

/** One chunk's state in a coverage map. */
export const CHUNK_UNCHECKED = 0;
export const CHUNK_GOOD = 1;
export const CHUNK_BAD = 2;

export interface BadChunk {
  readonly position: number;
  readonly chunkId: string;
  readonly failure: ChunkFailure;
}

export interface CoverageRecord {
  readonly volumeId: string;
  readonly generation: number;
  readonly copy: VerifiedCopy;
  /** Coverage belongs to one signed index: another manifest starts it again. */
  readonly manifestHash: string;
  /** One byte per chunk position: CHUNK_UNCHECKED, CHUNK_GOOD or CHUNK_BAD. */
  readonly chunks: Uint8Array<ArrayBuffer>;
  readonly bad: readonly BadChunk[];
  /** Full passes completed; a new pass starts once every chunk was checked. */
  readonly passes: number;
  readonly updatedAt: string;
}

interface RestoreSchema extends DBSchema {
  restores: { key: string; value: RestoreRecord; indexes: { userId: string } };
  coverage: { key: [string, number, VerifiedCopy]; value: CoverageRecord };
}

let database: Promise<IDBPDatabase<RestoreSchema>> | undefined;

function restoreDatabase(): Promise<IDBPDatabase<RestoreSchema>> {
  database ??= openDB<RestoreSchema>(RESTORE_DATABASE_NAME, RESTORE_DATABASE_VERSION, {
    upgrade(db) {
      const restores = db.createObjectStore('restores', { keyPath: 'restoreId' });
      restores.createIndex('userId', 'userId');
      db.createObjectStore('coverage', { keyPath: ['volumeId', 'generation', 'copy'] });
    },
    blocking() {
      void closeRestoreDatabase();
    },
  });
  return database;
}

/** Closes the connection (tests, schema upgrades in another tab). */
export async function closeRestoreDatabase(): Promise<void> {
  const open = database;
  database = undefined;
  if (open) (await open).close();
}

export async function putRestore(record: RestoreRecord): Promise<void> {
  await (await restoreDatabase()).put('restores', record);
}

export async function getRestore(restoreId: string): Promise<RestoreRecord | undefined> {
  return (await restoreDatabase()).get('restores', restoreId);
}

/** Changes a restore record in one transaction; a missing record stays missing. */
export async function updateRestore(
  restoreId: string,
  changes: Partial<Omit<RestoreRecord, 'restoreId'>>,
): Promise<RestoreRecord | undefined> {
  const db = await restoreDatabase();
  const tx = db.transaction('restores', 'readwrite');
  const record = await tx.store.get(restoreId);
  const updated = record
    ? { ...record, ...changes, updatedAt: new Date().toISOString() }
    : undefined;
  if (updated) await tx.store.put(updated);
  await tx.done;
  return updated;
}

/** RS-6: progress after a chunk was written and flushed. */
export async function saveRestoreProgress(
  restoreId: string,
  progress: RestoreProgress,
): Promise<void> {
  await updateRestore(restoreId, { progress });
}

/** Restores of this user, newest first. */
export async function listRestores(userId: string): Promise<RestoreRecord[]> {
  const records = await (await restoreDatabase()).getAllFromIndex('restores', 'userId', userId);
  return records.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

export async function deleteRestore(restoreId: string): Promise<void> {
  await (await restoreDatabase()).delete('restores', restoreId);
}

export async function getCoverage(
  volumeId: string,
  generation: number,
  copy: VerifiedCopy,
): Promise<CoverageRecord | undefined> {
  return (await restoreDatabase()).get('coverage', [volumeId, generation, copy]);
}

export async function putCoverage(record: CoverageRecord): Promise<void> {
  await (await restoreDatabase()).put('coverage', record);
}
