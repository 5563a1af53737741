import { describe, expect, it } from 'vitest';
import { randomBytes, sha256Hex, utf8 } from './bytes';
import {
  exportPublicKeySpki,
  generateDeviceKeyPair,
  importSigningPublicKeyJwk,
  importSigningPublicKeySpki,
  publicKeyFingerprint,
  signBytes,
  verifyBytes,
} from './device-key';
import { MalformedKeyError } from './errors';
import {
  exportRawKey,
  generateChunkIdKey,
  generateDataKey,
  importChunkIdKey,
  importDataKey,
  toNonExtractable,
} from './keys';

describe('volume keys', () => {
  it('are non-extractable unless made for escrow', async () => {
    expect((await generateChunkIdKey()).extractable).toBe(false);
    expect((await generateDataKey()).extractable).toBe(false);
    await expect(exportRawKey(await generateDataKey())).rejects.toThrow(MalformedKeyError);
    const escrowed = await generateDataKey({ extractable: true });
    expect((await exportRawKey(escrowed)).length).toBe(32);
    const kept = await toNonExtractable(escrowed);
    expect(kept.extractable).toBe(false);
    expect(kept.algorithm).toMatchObject({ name: 'AES-GCM', length: 256 });
    expect(
      (await toNonExtractable(await generateChunkIdKey({ extractable: true }))).algorithm,
    ).toMatchObject({ name: 'HMAC' });
  });

  it('wipe raw bytes on import, also when import fails', async () => {
    const raw = randomBytes(32);
    await importChunkIdKey(raw);
    expect(raw.every((b) => b === 0)).toBe(true);
    const short = randomBytes(16).fill(7);
    await expect(importDataKey(short)).rejects.toThrow(/must be 32 bytes/);
    expect(short.every((b) => b === 0)).toBe(true);
  });
});

describe('device keys (ID-6)', () => {
  it('sign in P1363 form and are named by the SHA-256 of their SPKI', async () => {
    const pair = await generateDeviceKeyPair();
    expect(pair.privateKey.extractable).toBe(false);
    const spki = await exportPublicKeySpki(pair.publicKey);
    expect(await publicKeyFingerprint(pair.publicKey)).toBe(await sha256Hex(spki));
    const signature = await signBytes(pair.privateKey, utf8('hello'));
    expect(signature.length).toBe(64);
    const imported = await importSigningPublicKeySpki(spki);
    expect(await verifyBytes(imported, signature, utf8('hello'))).toBe(true);
    expect(await verifyBytes(imported, signature, utf8('hellO'))).toBe(false);
    expect(await verifyBytes(imported, signature.subarray(1), utf8('hello'))).toBe(false);
    const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
    expect(await verifyBytes(await importSigningPublicKeyJwk(jwk), signature, utf8('hello'))).toBe(
      true,
    );
    await expect(importSigningPublicKeySpki(spki.subarray(2))).rejects.toThrow(MalformedKeyError);
  });
});
