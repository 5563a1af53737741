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
 *   restore ends;
 * - escrow copies (BK-8, BK-9): the one envelope format carries the chunk-ID
 *   key with every epoch's data key, so a later generation has to seal the
 *   chunk-ID key again, and an offline registration file has to seal the data
 *   key of a backup not yet confirmed. Those keys are kept wrapped (AES-KW,
 *   RFC 3394) under a non-extractable wrapping key of this browser and
 *   unwrapped only for sealing; a pending data key is deleted once the site
 *   has confirmed its generation.
 */

import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

export const KEY_STORE_NAME = 'custodian-keys';
const KEY_STORE_VERSION = 2;

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
  /**
   * How many key releases the site had counted for the volume when this
   * browser made the key; absent for a key handed over by a site (a move).
   * More releases since then mean someone received keys of generations
   * whose chunks the next backup would reuse (ES-5).
   */
  readonly releasesBefore?: number;
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
  /** MS-5: the other sites' release envelopes (their shares), by site ID, kept the same way. */
  readonly siteEnvelopes?: Readonly<Record<string, string>>;
}

/** A data key of a generation whose backup the site has not confirmed yet (BK-7, BK-8). */
export interface PendingDataKeyRecord {
  readonly volumeId: string;
  readonly generation: number;
  readonly epoch: number;
  /** Non-extractable: encrypts the remaining chunks after a reload. */
  readonly key: CryptoKey;
  /** The same key wrapped under the browser's wrapping key, for a registration file (BK-9). */
  readonly wrapped: ArrayBuffer;
  readonly createdAt: string;
}

/** The wrapped escrow copy of a volume's chunk-ID key (see the module comment). */
export interface WrappedChunkIdKeyRecord {
  readonly volumeId: string;
  readonly wrapped: ArrayBuffer;
  readonly createdAt: string;
}

interface KeyStoreSchema extends DBSchema {
  'device-keys': { key: string; value: DeviceKeyRecord };
  'chunk-id-keys': { key: string; value: ChunkIdKeyRecord };
  'restore-keys': { key: string; value: RestoreKeyRecord };
  'wrapping-keys': { key: string; value: { id: string; key: CryptoKey } };
  'wrapped-chunk-id-keys': { key: string; value: WrappedChunkIdKeyRecord };
  'pending-data-keys': { key: [string, number]; value: PendingDataKeyRecord };
}

type StoreName =
  | 'device-keys'
  | 'chunk-id-keys'
  | 'restore-keys'
  | 'wrapping-keys'
  | 'wrapped-chunk-id-keys'
  | 'pending-data-keys';
const STORES: readonly StoreName[] = [
  'device-keys',
  'chunk-id-keys',
  'restore-keys',
  'wrapping-keys',
  'wrapped-chunk-id-keys',
  'pending-data-keys',
];

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
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        db.createObjectStore('device-keys', { keyPath: 'userId' });
        db.createObjectStore('chunk-id-keys', { keyPath: 'volumeId' });
        db.createObjectStore('restore-keys', { keyPath: 'requestId' });
      }
      if (oldVersion < 2) {
        db.createObjectStore('wrapping-keys', { keyPath: 'id' });
        db.createObjectStore('wrapped-chunk-id-keys', { keyPath: 'volumeId' });
        db.createObjectStore('pending-data-keys', { keyPath: ['volumeId', 'generation'] });
      }
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
  return (await getChunkIdKeyRecord(volumeId))?.key;
}

export async function getChunkIdKeyRecord(volumeId: string): Promise<ChunkIdKeyRecord | undefined> {
  return (await keyStore()).get('chunk-id-keys', volumeId);
}

export async function putChunkIdKey(
  volumeId: string,
  key: CryptoKey,
  releasesBefore?: number,
): Promise<void> {
  assertNonExtractable(key, 'chunk-ID key');
  await (
    await keyStore()
  ).put('chunk-id-keys', {
    volumeId,
    key,
    createdAt: new Date().toISOString(),
    ...(releasesBefore === undefined ? {} : { releasesBefore }),
  });
}

export async function deleteChunkIdKey(volumeId: string): Promise<void> {
  const db = await keyStore();
  await db.delete('chunk-id-keys', volumeId);
  await db.delete('wrapped-chunk-id-keys', volumeId);
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

/** MS-5: another site's released envelope of this restore (its share), kept like the home site's. */
export async function saveReleasedEnvelopeAt(
  requestId: string,
  siteId: string,
  envelope: string,
): Promise<void> {
  const db = await keyStore();
  const tx = db.transaction('restore-keys', 'readwrite');
  const record = await tx.store.get(requestId);
  if (record) {
    await tx.store.put({
      ...record,
      siteEnvelopes: { ...record.siteEnvelopes, [siteId]: envelope },
    });
  }
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

const WRAP_ALGORITHM = 'AES-KW';
const WRAPPING_KEY_ID = 'escrow-copies';

/** The browser's non-extractable AES-256-KW key for escrow copies, made on first use. */
async function wrappingKey(): Promise<CryptoKey> {
  const db = await keyStore();
  const existing = await db.get('wrapping-keys', WRAPPING_KEY_ID);
  if (existing) return existing.key;
  const key = await globalThis.crypto.subtle.generateKey(
    { name: WRAP_ALGORITHM, length: 256 },
    false,
    ['wrapKey', 'unwrapKey'],
  );
  const tx = db.transaction('wrapping-keys', 'readwrite');
  // Another tab may have made one meanwhile: the first one stored wins.
  const raced = await tx.store.get(WRAPPING_KEY_ID);
  if (!raced) await tx.store.put({ id: WRAPPING_KEY_ID, key });
  await tx.done;
  return raced?.key ?? key;
}

/** Wraps an extractable key for keeping as an escrow copy. */
async function wrapForEscrow(key: CryptoKey): Promise<ArrayBuffer> {
  return globalThis.crypto.subtle.wrapKey('raw', key, await wrappingKey(), WRAP_ALGORITHM);
}

async function unwrapForEscrow(
  wrapped: ArrayBuffer,
  algorithm: HmacImportParams | AesKeyAlgorithm,
  usages: KeyUsage[],
): Promise<CryptoKey> {
  return globalThis.crypto.subtle.unwrapKey(
    'raw',
    wrapped,
    await wrappingKey(),
    WRAP_ALGORITHM,
    algorithm,
    true,
    usages,
  );
}

/**
 * Keeps the escrow copy of a new volume's chunk-ID key (`key` must be the
 * extractable original); the working copy goes through putChunkIdKey.
 */
export async function putChunkIdKeyEscrowCopy(volumeId: string, key: CryptoKey): Promise<void> {
  const wrapped = await wrapForEscrow(key);
  await (
    await keyStore()
  ).put('wrapped-chunk-id-keys', { volumeId, wrapped, createdAt: new Date().toISOString() });
}

/** An extractable chunk-ID key for sealing into an envelope, or undefined if none is kept. */
export async function getChunkIdKeyForEscrow(volumeId: string): Promise<CryptoKey | undefined> {
  const record = await (await keyStore()).get('wrapped-chunk-id-keys', volumeId);
  if (!record) return undefined;
  return unwrapForEscrow(record.wrapped, { name: 'HMAC', hash: 'SHA-256', length: 256 }, [
    'sign',
    'verify',
  ]);
}

/**
 * Keeps a generation's data key until the site confirms the generation:
 * `key` must be the extractable original; a non-extractable copy and a
 * wrapped escrow copy are stored.
 */
export async function putPendingDataKey(
  volumeId: string,
  generation: number,
  epoch: number,
  key: CryptoKey,
  workingCopy: CryptoKey,
): Promise<void> {
  assertNonExtractable(workingCopy, 'data key');
  const wrapped = await wrapForEscrow(key);
  await (
    await keyStore()
  ).put('pending-data-keys', {
    volumeId,
    generation,
    epoch,
    key: workingCopy,
    wrapped,
    createdAt: new Date().toISOString(),
  });
}

export async function getPendingDataKey(
  volumeId: string,
  generation: number,
): Promise<PendingDataKeyRecord | undefined> {
  return (await keyStore()).get('pending-data-keys', [volumeId, generation]);
}

/** An extractable copy of a pending data key, for a registration file (BK-9). */
export async function unwrapPendingDataKey(record: PendingDataKeyRecord): Promise<CryptoKey> {
  return unwrapForEscrow(record.wrapped, { name: 'AES-GCM', length: 256 }, ['encrypt', 'decrypt']);
}

/** BK-8: drops a generation's data key once the site has confirmed it (or it is abandoned). */
export async function deletePendingDataKey(volumeId: string, generation: number): Promise<void> {
  await (await keyStore()).delete('pending-data-keys', [volumeId, generation]);
}

/** Removes every key this browser holds (sign-out of a shared computer, "forget this device"). */
export async function wipeAllKeys(): Promise<void> {
  const db = await keyStore();
  const tx = db.transaction(STORES, 'readwrite');
  await Promise.all([...STORES.map((name) => tx.objectStore(name).clear()), tx.done]);
}
