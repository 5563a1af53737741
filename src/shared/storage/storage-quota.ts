/**
 * BK-11: the browser's storage quota. A backup keeps its whole encrypted
 * copy here, so it checks the room left before it starts and asks for
 * persistent storage, so the browser does not evict the copy under pressure.
 */

/** Room kept free beyond the image: the index, the outbox and IndexedDB's own overhead. */
export const QUOTA_MARGIN_BYTES = 64 * 1024 * 1024;
/** Encrypted chunks are a little larger than their plaintext (header and tag per 4 MiB). */
export const QUOTA_GROWTH = 1.01;

export interface QuotaCheck {
  /** Bytes this backup still needs to store. */
  readonly needed: number;
  /** Bytes the browser says are still free for this origin, or null if it cannot say. */
  readonly available: number | null;
  readonly enough: boolean;
}

/** Bytes a backup of `imageSize` bytes needs, minus what it has already stored. */
export function bytesNeeded(imageSize: number, alreadyStored = 0): number {
  return Math.max(0, Math.ceil((imageSize - alreadyStored) * QUOTA_GROWTH)) + QUOTA_MARGIN_BYTES;
}

export async function checkQuota(
  imageSize: number,
  alreadyStored = 0,
  storage: StorageManager | undefined = globalThis.navigator?.storage,
): Promise<QuotaCheck> {
  const needed = bytesNeeded(imageSize, alreadyStored);
  if (!storage?.estimate) return { needed, available: null, enough: true };
  const { quota, usage } = await storage.estimate();
  if (quota === undefined) return { needed, available: null, enough: true };
  const available = Math.max(0, quota - (usage ?? 0));
  return { needed, available, enough: available >= needed };
}

/** Asks the browser to keep this origin's data under storage pressure; false if refused. */
export async function requestPersistence(
  storage: StorageManager | undefined = globalThis.navigator?.storage,
): Promise<boolean> {
  if (!storage?.persist) return false;
  try {
    return (await storage.persisted?.()) || (await storage.persist());
  } catch {
    return false;
  }
}

/** True for the errors IndexedDB raises when the origin's quota is exhausted. */
export function isQuotaExceeded(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { name, inner } = error as { name?: unknown; inner?: unknown };
  if (name === 'QuotaExceededError') return true;
  return inner !== undefined && inner !== error && isQuotaExceeded(inner);
}
