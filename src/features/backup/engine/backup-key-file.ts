/**
 * The owner's own copy of a volume's backup key (docs/FORMAT.md §9.2): the
 * chunk-ID key this browser holds, exported in a passphrase-protected file,
 * and imported in another browser that cannot reach the sites, so that its
 * next backup continues the volume there. No data key is in the file. No
 * Vue here.
 */

import {
  bytesEqual,
  exportRawKey,
  openPassphraseKeyFile,
  sealPassphraseKeyFile,
  toNonExtractable,
  wipe,
  ARGON2ID_DEFAULTS,
  MIN_PASSPHRASE_LENGTH,
} from '@/core/crypto';
import {
  getChunkIdKeyForEscrow,
  putChunkIdKey,
  putChunkIdKeyEscrowCopy,
} from '@/shared/storage/key-store';
import { BackupError } from './backup-errors';

export type KeyFileSettings = Parameters<typeof sealPassphraseKeyFile>[3];

/** The key file of a volume whose key this browser holds, as JSON text. */
export async function exportVolumeKeyFile(
  volumeId: string,
  passphrase: string,
  settings: KeyFileSettings = ARGON2ID_DEFAULTS,
): Promise<string> {
  if ([...passphrase.normalize('NFC')].length < MIN_PASSPHRASE_LENGTH) {
    throw new BackupError('key_file_passphrase_short', 'The passphrase is too short.', {
      min: MIN_PASSPHRASE_LENGTH,
    });
  }
  const key = await getChunkIdKeyForEscrow(volumeId);
  if (!key) {
    throw new BackupError('chunk_id_key_missing', "This volume's key is not in this browser.", {
      volumeId,
    });
  }
  return sealPassphraseKeyFile(volumeId, key, passphrase, settings);
}

/** What an import did: the key is now here, or it was here already. */
export interface KeyFileImport {
  readonly volumeId: string;
  readonly outcome: 'imported' | 'already-here';
}

/**
 * Opens a key file and keeps its key as a browser that made the volume
 * keeps it. A different key for the same volume ID is refused: generations
 * under two chunk-ID keys would not restore.
 */
export async function importVolumeKeyFile(
  text: string,
  passphrase: string,
): Promise<KeyFileImport> {
  const { volumeId, chunkIdKey } = await openPassphraseKeyFile(text, passphrase);
  const existing = await getChunkIdKeyForEscrow(volumeId);
  if (existing) {
    const [held, offered] = [await exportRawKey(existing), await exportRawKey(chunkIdKey)];
    const same = bytesEqual(held, offered);
    wipe(held);
    wipe(offered);
    if (same) return { volumeId, outcome: 'already-here' };
    throw new BackupError('key_file_conflict', 'This browser holds another key for this volume.', {
      volumeId,
    });
  }
  await putChunkIdKeyEscrowCopy(volumeId, chunkIdKey);
  await putChunkIdKey(volumeId, await toNonExtractable(chunkIdKey));
  return { volumeId, outcome: 'imported' };
}
