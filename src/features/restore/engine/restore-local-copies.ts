/**
 * What this browser's local copy (BK-6, RC-1) offers a restore, read-only:
 * the complete generations of the signed-in user, the signed manifest of a
 * generation with the device key that signed it (so a restore with the keys
 * held can go on while the site is down, RS-4), and the stored receipts
 * (RS-10). The backup pipeline alone writes that database.
 */

import type { Receipt, SignedManifest } from '@/core/crypto';
import { backupDatabase, type BackupDatabase } from '@/shared/storage/database';
import { getDeviceKey } from '@/shared/storage/key-store';

export interface LocalGeneration {
  readonly volumeId: string;
  readonly generation: number;
  readonly size: number;
  readonly chunks: number;
  readonly completedAt: string | null;
}

/** Complete generations of this user's local copies. */
export async function listLocalGenerations(
  userId: string,
  db: BackupDatabase = backupDatabase(),
): Promise<LocalGeneration[]> {
  const records = await db.generations.where('userId').equals(userId).toArray();
  return records
    .filter((g) => g.state === 'complete')
    .map((g) => ({
      volumeId: g.volumeId,
      generation: g.generation,
      size: g.file.size,
      chunks: g.chunkCount,
      completedAt: g.completedAt ?? null,
    }));
}

/**
 * The signed manifest of a local generation and the public key of the
 * device that signed it, if this browser holds both.
 */
export async function localManifest(
  userId: string,
  volumeId: string,
  generation: number,
  db: BackupDatabase = backupDatabase(),
): Promise<{ manifest: SignedManifest; deviceKey: CryptoKey } | undefined> {
  const record = await db.generations.get([volumeId, generation]);
  const device = await getDeviceKey(userId);
  if (!record?.manifest || record.state !== 'complete' || !device) return undefined;
  return { manifest: record.manifest, deviceKey: device.publicKey };
}

/** Receipts this browser stored for a volume (BK-10), by generation. */
export async function localReceipts(
  volumeId: string,
  db: BackupDatabase = backupDatabase(),
): Promise<Map<number, Receipt>> {
  const records = await db.receipts
    .where('[volumeId+generation]')
    .between([volumeId, -Infinity], [volumeId, Infinity])
    .toArray();
  return new Map(records.map((r) => [r.generation, r.receipt]));
}
