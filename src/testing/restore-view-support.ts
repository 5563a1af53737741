/**
 * Helpers for the restore screen's component tests: finding rows, buttons
 * and menu items by what a person reads, and wiping the browser storage the
 * screen uses between tests.
 */

import type { RetryPolicy } from '@/shared/api/request';
import type { BackupFixture } from '@/core/crypto/test-support/backup-fixture';
import {
  BACKUP_DATABASE_NAME,
  backupDatabase,
  closeBackupDatabase,
} from '@/shared/storage/database';
import { closeKeyStore, KEY_STORE_NAME, putDeviceKey } from '@/shared/storage/key-store';
import { closeRestoreDatabase, RESTORE_DATABASE_NAME } from '@/shared/storage/restore-progress';

/** Retries short enough for a test: three attempts a few milliseconds apart. */
export const FAST_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 };

export const text = (): string => document.body.textContent ?? '';

export function statusText(): string {
  return (
    document.querySelector('[role="region"][aria-label="Restore status"]')?.textContent ?? ''
  ).replace(/\s+/g, ' ');
}

/** The row of the table "Restorable volumes" showing this volume ID. */
export function rowOf(volumeId: string): HTMLTableRowElement | null {
  const table = document.querySelector('table[aria-label="Restorable volumes"]');
  const rows = [...(table?.querySelectorAll<HTMLTableRowElement>('tbody tr') ?? [])];
  return rows.find((row) => row.querySelector('code')?.textContent === volumeId) ?? null;
}

/** The button inside `root` whose visible text or label is exactly `name`. */
export function buttonIn(root: ParentNode, name: string): HTMLButtonElement {
  const button = [...root.querySelectorAll('button')].find(
    (b) => b.textContent?.trim() === name || b.getAttribute('aria-label') === name,
  );
  if (!button) throw new Error(`no button "${name}"`);
  return button;
}

/** Clicks the item of the open popup menu whose text matches. */
export function clickMenuItem(pattern: RegExp): void {
  const item = [...document.querySelectorAll('[role="menuitem"]')].find((i) =>
    pattern.test(i.textContent?.trim() ?? ''),
  );
  if (!item) throw new Error(`no menu item ${pattern}`);
  item.querySelector<HTMLElement>('.p-menu-item-content')!.click();
}

export function flipByte(bytes: Uint8Array, at: number): void {
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => resolve();
    request.onblocked = () => resolve();
  });
}

/** Closes and deletes the key store, the restore database and the local copy. */
export async function resetBrowserStorage(): Promise<void> {
  await closeKeyStore();
  await closeRestoreDatabase();
  closeBackupDatabase();
  await Promise.all(
    [KEY_STORE_NAME, RESTORE_DATABASE_NAME, BACKUP_DATABASE_NAME].map(deleteDatabase),
  );
}

/**
 * Puts a backup into this browser's local copy as the backup pipeline
 * leaves it once complete (BK-6): the generation, its index and blobs, and
 * the device key that signed its manifest.
 */
export async function seedLocalCopy(userId: string, backup: BackupFixture): Promise<void> {
  const db = backupDatabase();
  const { index } = backup.manifest;
  const now = new Date().toISOString();
  await db.volumes.put({
    volumeId: index.volumeId,
    userId,
    kind: 'ext4',
    latestGeneration: index.generation,
    latestManifestHash: null,
    createdAt: now,
    updatedAt: now,
  });
  await db.generations.put({
    volumeId: index.volumeId,
    generation: index.generation,
    userId,
    siteId: 'demo-site-0001',
    state: 'complete',
    kind: 'ext4',
    file: { name: backup.secret.fileName, size: backup.secret.size, lastModified: 0 },
    chunkSize: index.chunkSize,
    chunkCount: index.chunks.length,
    epoch: index.chunks[0]?.epoch ?? 1,
    previousManifestHash: index.previousManifestHash,
    restorers: [userId],
    policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
    nextPosition: index.chunks.length,
    bytesStored: backup.secret.size,
    bytesConfirmed: backup.secret.size,
    nextSeq: index.chunks.length + 2,
    siteSeqApplied: index.chunks.length + 2,
    transfersSent: index.chunks.length + 2,
    chunksSkipped: 0,
    imageSha256: backup.secret.imageSha256,
    manifest: backup.manifest,
    elapsedMs: 1000,
    startedAt: now,
    completedAt: now,
  });
  await db.indexEntries.bulkPut(
    index.chunks.map((entry, position) => ({
      ...entry,
      volumeId: index.volumeId,
      generation: index.generation,
      position,
    })),
  );
  await db.chunks.bulkPut(
    index.chunks.map((entry) => ({
      volumeId: index.volumeId,
      chunkId: entry.chunkId,
      blob: backup.blobs.get(entry.chunkId)!.slice(),
      ciphertextSha256: entry.ciphertextSha256,
      length: entry.length,
      epoch: entry.epoch,
    })),
  );
  await putDeviceKey({
    userId,
    privateKey: backup.deviceKeyPair.privateKey,
    publicKey: backup.deviceKeyPair.publicKey,
    fingerprint: index.deviceKeyFingerprint,
    createdAt: now,
  });
}

/** Damages the local copy's blob of a chunk. */
export async function damageLocalChunk(volumeId: string, chunkId: string): Promise<void> {
  const db = backupDatabase();
  const record = (await db.chunks.get([volumeId, chunkId]))!;
  const blob = record.blob.slice();
  flipByte(blob, 30);
  await db.chunks.put({ ...record, blob });
}

/** Takes a chunk out of the local copy. */
export async function dropLocalChunk(volumeId: string, chunkId: string): Promise<void> {
  await backupDatabase().chunks.delete([volumeId, chunkId]);
}
