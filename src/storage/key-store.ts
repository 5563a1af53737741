/**
 * The browser's key store (SPEC §5): a small IndexedDB database of its own,
 * "custodian-keys", apart from the backup data, so key material has its own
 * wipe. It holds CryptoKeys by structured clone (WebCrypto §13, IndexedDB
 * §2.7), which keeps non-extractable keys non-extractable: the raw bytes
 * never reach JavaScript.
 *
 * - device keys (ID-6): one ECDSA P-256 pair per user of this browser;
 * - chunk-ID keys (SPEC §2): one HMAC key per volume, kept by its owner;
 * - restore keys (RS-2, RS-3): the ephemeral ECDH pair of a key release, by
 *   request ID, with the released envelope once it arrives, until the
 *   restore ends.
 */

import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

export const KEY_STORE_NAME = 'custodian-keys';
const KEY_STORE_VERSION = 1;

export interface DeviceKeyRecord {
  readonly userId: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** SHA-256 of the public key's SPKI, hex (as manifests and receipts name it). */
  readonly fingerprint: string;
  readonly createdAt: string;
  /** Set once the site has registered the key under the user's account. */
  readonly registeredAt?: string;
}

export interface ChunkIdKeyRecord {
  readonly volumeId: string;
  readonly key: CryptoKey;
  readonly createdAt: string;
}

export interface RestoreKeyRecord {
  readonly requestId: string;
  readonly volumeId: string;
  readonly generation: number;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly createdAt: string;
  /**
   * The release envelope (JWE to publicKey) once received: it stays wrapped
   * here so that a crash mid-restore can resume without a second release (RS-3).
   */
  readonly envelope?: string;
}

interface KeyStoreSchema extends DBSchema {
  'device-keys': { key: string; value: DeviceKeyRecord };
  'chunk-id-keys': { key: string; value: ChunkIdKeyRecord };
  'restore-keys': { key: string; value: RestoreKeyRecord };
}

type StoreName = 'device-keys' | 'chunk-id-keys' | 'restore-keys';
const STORES: readonly StoreName[] = ['device-keys', 'chunk-id-keys', 'restore-keys'];

/** A key that must stay on this device was offered in extractable form. */
export class ExtractableKeyError extends Error {
  readonly code = 'extractable_key';

  constructor(what: string) {
    super(`The ${what} is extractable; only non-extractable keys are kept on this device.`);
    this.name = 'ExtractableKeyError';
  }
}

let database: Promise<IDBPDatabase<KeyStoreSchema>> | undefined;

function keyStore(): Promise<IDBPDatabase<KeyStoreSchema>> {
  database ??= openDB<KeyStoreSchema>(KEY_STORE_NAME, KEY_STORE_VERSION, {
    upgrade(db) {
      db.createObjectStore('device-keys', { keyPath: 'userId' });
      db.createObjectStore('chunk-id-keys', { keyPath: 'volumeId' });
      db.createObjectStore('restore-keys', { keyPath: 'requestId' });
    },
    // Another tab upgrading the schema: let it, and reopen on next use.
    blocking() {
      void closeKeyStore();
    },
  });
  return database;
}

function assertNonExtractable(key: CryptoKey, what: string): void {
  if (key.extractable) throw new ExtractableKeyError(what);
}

/** Closes the connection (tests, schema upgrades in another tab). */
export async function closeKeyStore(): Promise<void> {
  const open = database;
  database = undefined;
  if (open) (await open).close();
}

export async function getDeviceKey(userId: string): Promise<DeviceKeyRecord | undefined> {
  return (await keyStore()).get('device-keys', userId);
}

export async function putDeviceKey(record: DeviceKeyRecord): Promise<void> {
  assertNonExtractable(record.privateKey, 'device private key');
  await (await keyStore()).put('device-keys', record);
}

export async function deleteDeviceKey(userId: string): Promise<void> {
  await (await keyStore()).delete('device-keys', userId);
}

export async function getChunkIdKey(volumeId: string): Promise<CryptoKey | undefined> {
  return (await (await keyStore()).get('chunk-id-keys', volumeId))?.key;
}

export async function putChunkIdKey(volumeId: string, key: CryptoKey): Promise<void> {
  assertNonExtractable(key, 'chunk-ID key');
  await (
    await keyStore()
  ).put('chunk-id-keys', {
    volumeId,
    key,
    createdAt: new Date().toISOString(),
  });
}

export async function deleteChunkIdKey(volumeId: string): Promise<void> {
  await (await keyStore()).delete('chunk-id-keys', volumeId);
}

export async function getRestoreKey(requestId: string): Promise<RestoreKeyRecord | undefined> {
  return (await keyStore()).get('restore-keys', requestId);
}

export async function putRestoreKey(record: RestoreKeyRecord): Promise<void> {
  assertNonExtractable(record.privateKey, 'restore private key');
  await (await keyStore()).put('restore-keys', record);
}

/** Keeps the release envelope with its ephemeral key until the restore ends (RS-3). */
export async function saveReleasedEnvelope(requestId: string, envelope: string): Promise<void> {
  const db = await keyStore();
  const tx = db.transaction('restore-keys', 'readwrite');
  const record = await tx.store.get(requestId);
  if (record) await tx.store.put({ ...record, envelope });
  await tx.done;
  if (!record) throw new Error(`No restore key is kept for request ${requestId}.`);
}

export async function listRestoreKeys(): Promise<RestoreKeyRecord[]> {
  return (await keyStore()).getAll('restore-keys');
}

/** Drops a restore's ephemeral key and envelope once the restore has ended. */
export async function deleteRestoreKey(requestId: string): Promise<void> {
  await (await keyStore()).delete('restore-keys', requestId);
}

/** Removes every key this browser holds (sign-out of a shared computer, "forget this device"). */
export async function wipeAllKeys(): Promise<void> {
  const db = await keyStore();
  const tx = db.transaction(STORES, 'readwrite');
  await Promise.all([...STORES.map((name) => tx.objectStore(name).clear()), tx.done]);
}
