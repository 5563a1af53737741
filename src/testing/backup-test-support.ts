/**
 * Helpers for the backup's tests in jsdom: images as Files that can be
 * sliced and read (jsdom's own Blob cannot), deterministic bytes, and a fix
 * for jsdom's TextEncoder, whose bytes are not `instanceof Uint8Array` of
 * the test's realm (jose checks exactly that when sealing envelopes).
 */

import type { BackupDatabase } from '@/shared/storage/database';
import { LocalCopy } from '@/shared/storage/local-copy';
import type { ImageFile } from '@/features/backup/worker/chunk-reader';
import { InProcessSealPool } from '@/features/backup/worker/seal-pool';
import type { BackupRequest, RunnerDeps } from '@/features/backup/engine/backup-runner';

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

/** A backup runner's dependencies for a store test: the given site and database, crypto in process. */
export function inProcessRunnerDeps(
  site: RunnerDeps['site'],
  db: BackupDatabase,
  chunkSize: number,
  overrides: Partial<RunnerDeps> = {},
): RunnerDeps {
  return {
    site,
    localCopy: new LocalCopy(db),
    createPool: (size) => new InProcessSealPool(size),
    workers: 2,
    chunkSize,
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
