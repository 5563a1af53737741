import { beforeAll, describe, expect, it } from 'vitest';
import { fromUtf8, toBase64Url, utf8 } from './bytes';
import { generateDeviceKeyPair } from './device-key';
import { openEnvelope, rewrapEnvelope } from './envelope';
import { generateEnvelopeKeyPair } from './envelope-key';
import { BadSignatureError, MalformedRegistrationError, WrongKeyError } from './errors';
import { manifestEpochs } from './manifest';
import {
  createRegistrationFile,
  openRegistrationFile,
  serializeRegistrationFile,
  type RegistrationFile,
} from './registration';
import { makeBackup, randomImage, type BackupFixture } from './test-support/backup-fixture';

describe('offline registration files (BK-9)', () => {
  let backup: BackupFixture;
  let site: CryptoKeyPair;
  let file: RegistrationFile;
  beforeAll(async () => {
    backup = await makeBackup(randomImage(200), { chunkSize: 64, rotateEvery: 2 });
    site = await generateEnvelopeKeyPair();
    file = await createRegistrationFile({
      siteId: 'site-osaka',
      owner: 'operator',
      restorers: ['restorer'],
      policy: { kind: 'once-per-restorer', approvalRequired: true, expiresAt: null },
      manifest: backup.manifest,
      keys: backup.keys,
      siteEscrowPublicKey: site.publicKey,
      deviceKeyPair: backup.deviceKeyPair,
    });
  });

  it('is opened by the site it names, and its keys can be re-wrapped for escrow', async () => {
    const bytes = serializeRegistrationFile(file);
    expect(fromUtf8(bytes)).not.toContain('"chunkIdKey"');
    const opened = await openRegistrationFile(bytes, 'site-osaka', site.privateKey);
    expect(opened.registration.restorers).toEqual(['operator', 'restorer']);
    expect(opened.deviceKeyFingerprint).toBe(backup.manifest.index.deviceKeyFingerprint);
    expect(opened.keysContext.epochs).toEqual(manifestEpochs(backup.manifest));
    const escrow = await rewrapEnvelope(opened.registration.keys, site.privateKey, site.publicKey, {
      purpose: 'escrow',
      volumeId: file.volumeId,
      epochs: opened.keysContext.epochs,
    });
    const keys = await openEnvelope(escrow, site.privateKey, { purpose: 'escrow' });
    expect(keys.keys.dataKeys.size).toBe(backup.keys.dataKeys.size);
    // Two files for the same generation have different IDs (replays are refused by ID).
    const again = await createRegistrationFile({
      siteId: 'site-osaka',
      owner: 'operator',
      restorers: [],
      policy: file.policy,
      manifest: backup.manifest,
      keys: backup.keys,
      siteEscrowPublicKey: site.publicKey,
      deviceKeyPair: backup.deviceKeyPair,
    });
    expect(again.registrationId).not.toBe(file.registrationId);
  });

  it('is refused by another site, with another site key, or when altered', async () => {
    await expect(openRegistrationFile(file, 'site-kobe', site.privateKey)).rejects.toThrow(
      /made for site site-osaka/,
    );
    const otherSite = await generateEnvelopeKeyPair();
    await expect(openRegistrationFile(file, 'site-osaka', otherSite.privateKey)).rejects.toThrow(
      WrongKeyError,
    );
    const altered = { ...file, restorers: ['operator', 'restorer', 'outsider'] };
    await expect(openRegistrationFile(altered, 'site-osaka', site.privateKey)).rejects.toThrow(
      BadSignatureError,
    );
    const otherDevice = await generateDeviceKeyPair();
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', otherDevice.publicKey));
    const swappedKey = { ...file, devicePublicKey: toBase64Url(spki) };
    await expect(openRegistrationFile(swappedKey, 'site-osaka', site.privateKey)).rejects.toThrow(
      BadSignatureError,
    );
  });

  it('gives malformed files a typed error', async () => {
    const bad: unknown[] = [
      utf8('{'),
      'null',
      {},
      { ...file, format: 2 },
      { ...file, registrationId: 'not-a-uuid' },
      { ...file, keys: '' },
      { ...file, restorers: [] },
      { ...file, manifest: { ...file.manifest, signature: 'x' } },
      { ...file, devicePublicKey: 'AAAA' },
    ];
    for (const input of bad) {
      await expect(openRegistrationFile(input, 'site-osaka', site.privateKey)).rejects.toThrow(
        MalformedRegistrationError,
      );
    }
  });
});
