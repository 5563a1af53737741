/**
 * Helpers for the backup's tests in jsdom: images as Files that can be
 * sliced and read (jsdom's own Blob cannot), deterministic bytes, a fix
 * for jsdom's TextEncoder, whose bytes are not `instanceof Uint8Array` of
 * the test's realm (jose checks exactly that when sealing envelopes), and
 * what the test site holds of a volume.
 */

import { CHUNK_SIZE, type SignedManifest } from '@/core/crypto';
import type { BackupDatabase } from '@/shared/storage/database';
import { LocalCopy } from '@/shared/storage/local-copy';
import type { ImageFile } from '@/features/backup/worker/chunk-reader';
import { InProcessSealPool } from '@/features/backup/worker/seal-pool';
import type { BackupRequest, RunnerDeps } from '@/features/backup/engine/backup-runner';
import { liveSite } from '@/features/backup/engine/backup-site';
import type { ChunkRow, PairRow } from '../../mock-server/src/domain/escrow/ports';
import { siteFaults, type SiteFaults } from './site-faults';
import { testSite, type TestSite } from './site';

/** Makes TextEncoder return Uint8Arrays of this realm (jsdom test environment only). */
export function useSameRealmTextEncoder(): void {
  const prototype = TextEncoder.prototype as TextEncoder & { __sameRealm?: boolean };
  if (prototype.__sameRealm) return;
  const encode = prototype.encode;
  prototype.encode = function (this: TextEncoder, input?: string) {
    const bytes = encode.call(this, input);
    return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  } as TextEncoder['encode'];
  prototype.__sameRealm = true;
}

/** Deterministic pseudo-random bytes: the same seed gives the same image. */
export function patternBytes(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** An image file over bytes in memory, readable slice by slice. */
export function memoryImageFile(
  bytes: Uint8Array<ArrayBuffer>,
  name = 'disk.img',
  lastModified = 1_700_000_000_000,
): ImageFile & Blob {
  const file = {
    name,
    size: bytes.length,
    lastModified,
    type: 'application/octet-stream',
    slice(start = 0, end = bytes.length) {
      const part = bytes.slice(start, end);
      return { arrayBuffer: async () => part.buffer, size: part.length };
    },
    arrayBuffer: async () => bytes.slice().buffer,
  };
  return file as unknown as ImageFile & Blob;
}

/** The test volume of the runner's store tests (an ext4 UUID). */
export const TEST_VOLUME_ID = 'ext4:0123abcd-4567-489a-8bcd-ef0123456789';

/**
 * This test's site (site.ts) with the page signed in as `userId`, and its
 * fault hooks: the engines reach it through the console's own API calls.
 */
export async function engineSite(
  userId = 'operator',
): Promise<{ site: TestSite; faults: SiteFaults }> {
  const site = await testSite();
  await site.signIn(userId);
  return { site, faults: siteFaults(site) };
}

/** What the site holds of a volume, read through its own repositories. */
export interface SiteVolume {
  readonly state: string;
  readonly generations: { manifest: SignedManifest; manifestHash: string }[];
  readonly restorers: readonly string[];
  readonly chunks: ChunkRow[];
  readonly epochs: number[];
  readonly pair: PairRow | undefined;
}

/** The volume at the test site, or undefined when the site holds none (never claimed, or forgotten). */
export async function siteVolume(
  site: Pick<TestSite, 'site'>,
  volumeId: string,
): Promise<SiteVolume | undefined> {
  const { store } = site.site.escrow;
  const volume = await store.volumes.find(volumeId);
  if (!volume) return undefined;
  const generations = await store.generations.of(volumeId);
  return {
    state: volume.state,
    generations: generations
      .sort((a, b) => a.generation - b.generation)
      .map((row) => ({
        manifest: JSON.parse(row.manifest) as SignedManifest,
        manifestHash: row.manifestHash,
      })),
    restorers: (await store.records.find(volumeId))?.restorers ?? [],
    chunks: await store.chunks.of(volumeId),
    epochs: (await store.envelopes.of(volumeId)).map((e) => e.epoch).sort((a, b) => a - b),
    pair: await store.pairs.ofVolume(volumeId),
  };
}

/** A backup runner's dependencies for an engine test: the test site, the given database, crypto in process. */
export function inProcessRunnerDeps(
  db: BackupDatabase,
  overrides: Partial<RunnerDeps> = {},
): RunnerDeps {
  return {
    site: liveSite,
    localCopy: new LocalCopy(db),
    createPool: (size) => new InProcessSealPool(size),
    workers: 2,
    chunkSize: CHUNK_SIZE,
    now: () => Date.now(),
    storage: undefined,
    locks: undefined,
    deviceLabel: 'test browser',
    ...overrides,
  };
}

/** A reusable-policy backup of `bytes` as the test volume by `operator`. */
export function memoryBackupRequest(
  bytes: Uint8Array<ArrayBuffer>,
  restorers: string[] = [],
): BackupRequest {
  return {
    file: memoryImageFile(bytes),
    identity: { kind: 'ext4', volumeId: TEST_VOLUME_ID, details: {} },
    userId: 'operator',
    restorers,
    policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
  };
}
