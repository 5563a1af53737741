/**
 * BK-9: the offline registration file of a backup whose local copy is
 * complete while the site cannot be reached. It carries the signed manifest,
 * the restorers and policy, and the keys sealed to the site's escrow key as
 * pinned on first contact, signed by this browser's device key.
 */

import { createRegistrationFile, manifestEpochs, serializeRegistrationFile } from '@/core/crypto';
import type { GenerationRecord } from '@/shared/storage/database';
import {
  getChunkIdKeyForEscrow,
  getDeviceKey,
  getPendingDataKey,
  unwrapPendingDataKey,
} from '@/shared/storage/key-store';
import { backupDatabase, type BackupDatabase } from '@/shared/storage/database';
import { BackupError } from './backup-errors';

function unavailable(message: string): BackupError {
  return new BackupError('registration_unavailable', message, { message });
}

export async function makeRegistrationFile(
  record: GenerationRecord,
  db: BackupDatabase = backupDatabase(),
): Promise<Uint8Array<ArrayBuffer>> {
  if (!record.manifest) {
    throw unavailable('the local copy is not complete yet');
  }
  const epochs = manifestEpochs(record.manifest);
  if (epochs.some((epoch) => epoch !== record.epoch)) {
    // Chunks kept from earlier generations use keys this browser no longer holds (BK-8).
    throw unavailable('this generation reuses chunks whose keys only the site holds');
  }
  const pin = await db.sitePins.get(record.siteId);
  const device = await getDeviceKey(record.userId);
  const chunkIdKey = await getChunkIdKeyForEscrow(record.volumeId);
  const pending = await getPendingDataKey(record.volumeId, record.generation);
  if (!pin || !device || !chunkIdKey || !pending) {
    throw unavailable('the keys of this backup are not all in this browser');
  }
  const file = await createRegistrationFile({
    siteId: record.siteId,
    owner: record.userId,
    restorers: record.restorers,
    policy: record.policy,
    manifest: record.manifest,
    keys: {
      volumeId: record.volumeId,
      chunkIdKey,
      dataKeys: new Map([[record.epoch, await unwrapPendingDataKey(pending)]]),
    },
    siteEscrowPublicKey: pin.escrowJwk,
    deviceKeyPair: { privateKey: device.privateKey, publicKey: device.publicKey },
  });
  return serializeRegistrationFile(file);
}
