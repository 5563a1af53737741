import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  generateDeviceKeyPair,
  publicKeyFingerprint,
  signBytes,
  verifyBytes,
} from '@/core/crypto/device-key';
import { generateEnvelopeKeyPair } from '@/core/crypto/envelope-key';
import { generateChunkIdKey } from '@/core/crypto/keys';
import { computeChunkId } from '@/core/crypto/chunk';
import {
  ExtractableKeyError,
  deleteChunkIdKey,
  deleteRestoreKey,
  getChunkIdKey,
  getDeviceKey,
  getRestoreKey,
  listRestoreKeys,
  putChunkIdKey,
  putDeviceKey,
  putRestoreKey,
  saveReleasedEnvelope,
  wipeAllKeys,
  closeKeyStore,
} from './key-store';

const data = new TextEncoder().encode('chunk');

describe('key store (IndexedDB "custodian-keys")', () => {
  afterEach(async () => {
    await wipeAllKeys();
    await closeKeyStore();
  });

  it('keeps a non-extractable device key pair that still signs after a reopen (ID-6)', async () => {
    const pair = await generateDeviceKeyPair();
    await putDeviceKey({
      userId: 'operator',
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
      fingerprint: await publicKeyFingerprint(pair.publicKey),
      createdAt: new Date().toISOString(),
    });
    await closeKeyStore();
    const stored = await getDeviceKey('operator');
    expect(stored).toBeDefined();
    expect(stored!.privateKey.extractable).toBe(false);
    expect(stored!.privateKey.type).toBe('private');
    const signature = await signBytes(stored!.privateKey, data);
    expect(await verifyBytes(pair.publicKey, signature, data)).toBe(true);
    expect(await getDeviceKey('restorer')).toBeUndefined();
  });

  it('keeps chunk-ID keys by volume and refuses extractable ones', async () => {
    const key = await generateChunkIdKey();
    await putChunkIdKey('ext4:1234', key);
    const stored = await getChunkIdKey('ext4:1234');
    expect(stored!.extractable).toBe(false);
    expect(await computeChunkId(stored!, data)).toEqual(await computeChunkId(key, data));
    await expect(
      putChunkIdKey('ext4:5678', await generateChunkIdKey({ extractable: true })),
    ).rejects.toThrow(ExtractableKeyError);
    await deleteChunkIdKey('ext4:1234');
    expect(await getChunkIdKey('ext4:1234')).toBeUndefined();
  });

  it('keeps an ephemeral restore key with its envelope until the restore ends (RS-2, RS-3)', async () => {
    const pair = await generateEnvelopeKeyPair();
    await putRestoreKey({
      requestId: 'req-1',
      volumeId: 'ext4:1234',
      generation: 1,
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
      createdAt: new Date().toISOString(),
    });
    await saveReleasedEnvelope('req-1', 'a.b.c.d.e');
    expect((await getRestoreKey('req-1'))!.envelope).toBe('a.b.c.d.e');
    expect((await getRestoreKey('req-1'))!.privateKey.usages).toEqual(['deriveBits']);
    expect(await listRestoreKeys()).toHaveLength(1);
    await expect(saveReleasedEnvelope('req-2', 'x')).rejects.toThrow(/No restore key/);
    await deleteRestoreKey('req-1');
    expect(await getRestoreKey('req-1')).toBeUndefined();
  });

  it('wipes every key at once', async () => {
    await putChunkIdKey('ext4:1', await generateChunkIdKey());
    const pair = await generateDeviceKeyPair();
    await putDeviceKey({
      userId: 'operator',
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
      fingerprint: 'f'.repeat(64),
      createdAt: new Date().toISOString(),
    });
    await wipeAllKeys();
    expect(await getChunkIdKey('ext4:1')).toBeUndefined();
    expect(await getDeviceKey('operator')).toBeUndefined();
  });
});
