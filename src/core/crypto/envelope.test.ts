import { decodeProtectedHeader } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, fromUtf8, toBase64Url, utf8 } from './bytes';
import { computeChunkId } from './chunk';
import {
  checkEnvelope,
  openEnvelope,
  readEnvelopeContext,
  rewrapEnvelope,
  sealEnvelope,
} from './envelope';
import {
  exportEnvelopePublicKeyJwk,
  generateEnvelopeKeyPair,
  importEnvelopePublicKeyJwk,
} from './envelope-key';
import {
  EnvelopeContextError,
  MalformedEnvelopeError,
  MalformedKeyError,
  WrongKeyError,
} from './errors';
import { createKeysFile } from './keys-file';
import { exportRawKey, generateChunkIdKey, generateDataKey, type VolumeKeys } from './keys';
import { keysFileSchema } from './volume-keys-payload';

const volumeId = 'iso9660:BACKUP_2026:2026-11-21-13-30-00-00';

async function sameKey(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const probe = utf8('probe');
  if (a.algorithm.name === 'HMAC') {
    const [x, y] = await Promise.all([computeChunkId(a, probe), computeChunkId(b, probe)]);
    return toBase64Url(x) === toBase64Url(y);
  }
  const iv = new Uint8Array(12);
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, a, probe);
  const opened = await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, b, sealed).catch(() => null);
  return opened !== null;
}

describe('key envelopes (BK-8, RS-2)', () => {
  let keys: VolumeKeys;
  let site: CryptoKeyPair;
  let restorer: CryptoKeyPair;
  beforeAll(async () => {
    keys = {
      volumeId,
      chunkIdKey: await generateChunkIdKey({ extractable: true }),
      dataKeys: new Map([
        [1, await generateDataKey({ extractable: true })],
        [2, await generateDataKey({ extractable: true })],
        [5, await generateDataKey({ extractable: true })],
      ]),
    };
    site = await generateEnvelopeKeyPair();
    restorer = await generateEnvelopeKeyPair();
  });

  it('seals to the site as ECDH-ES+A256KW / A256GCM with the context in the protected header', async () => {
    const jwe = await sealEnvelope(keys, site.publicKey, { purpose: 'escrow' });
    expect(jwe.split('.')).toHaveLength(5);
    const header = decodeProtectedHeader(jwe);
    expect(header).toMatchObject({
      alg: 'ECDH-ES+A256KW',
      enc: 'A256GCM',
      purpose: 'escrow',
      volumeId,
      epochs: [1, 2, 5],
    });
    expect(header.epk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(readEnvelopeContext(jwe)).toEqual({ purpose: 'escrow', volumeId, epochs: [1, 2, 5] });
    // No raw key appears anywhere in the envelope.
    const raw = toBase64Url(await exportRawKey(keys.chunkIdKey));
    expect(jwe).not.toContain(raw);

    const opened = await openEnvelope(jwe, site.privateKey, { purpose: 'escrow', volumeId });
    expect(opened.context.epochs).toEqual([1, 2, 5]);
    expect(opened.keys.chunkIdKey.extractable).toBe(false);
    expect(await sameKey(keys.chunkIdKey, opened.keys.chunkIdKey)).toBe(true);
    for (const epoch of [1, 2, 5]) {
      expect(await sameKey(keys.dataKeys.get(epoch)!, opened.keys.dataKeys.get(epoch)!)).toBe(true);
    }
  });

  it('accepts the recipient as a public JWK', async () => {
    const jwk = await exportEnvelopePublicKeyJwk(site.publicKey);
    expect(Object.keys(jwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    const jwe = await sealEnvelope(keys, jwk, { purpose: 'escrow' });
    await expect(checkEnvelope(jwe, site.privateKey, { purpose: 'escrow' })).resolves.toBeDefined();
    await expect(importEnvelopePublicKeyJwk({ ...jwk, crv: 'P-384' })).rejects.toThrow(
      MalformedKeyError,
    );
    await expect(importEnvelopePublicKeyJwk({ ...jwk, x: jwk.y })).rejects.toThrow(
      MalformedKeyError,
    );
  });

  it('is re-wrapped by the site to a restorer with a subset of epochs (RS-2)', async () => {
    const escrow = await sealEnvelope(keys, site.publicKey, { purpose: 'escrow' });
    const release = await rewrapEnvelope(escrow, site.privateKey, restorer.publicKey, {
      purpose: 'release',
      volumeId,
      epochs: [5, 2],
      generation: 3,
      requestId: 'req-42',
    });
    const expected = { purpose: 'release', volumeId, requestId: 'req-42', generation: 3 } as const;
    const opened = await openEnvelope(release, restorer.privateKey, expected);
    expect([...opened.keys.dataKeys.keys()]).toEqual([2, 5]);
    expect(await sameKey(keys.dataKeys.get(5)!, opened.keys.dataKeys.get(5)!)).toBe(true);
    // The site's key cannot open the release; the restorer's cannot open the escrow.
    await expect(openEnvelope(release, site.privateKey, expected)).rejects.toThrow(WrongKeyError);
    await expect(openEnvelope(escrow, restorer.privateKey, { purpose: 'escrow' })).rejects.toThrow(
      WrongKeyError,
    );
    // Epochs the escrow does not hold, or another volume, cannot be released.
    await expect(
      rewrapEnvelope(escrow, site.privateKey, restorer.publicKey, { ...expected, epochs: [3] }),
    ).rejects.toThrow(EnvelopeContextError);
    await expect(
      rewrapEnvelope(escrow, site.privateKey, restorer.publicKey, {
        ...expected,
        volumeId: 'ext4:other',
        epochs: [1],
      }),
    ).rejects.toThrow(EnvelopeContextError);
    // A release envelope is not an escrow envelope: it cannot be re-wrapped again.
    await expect(
      rewrapEnvelope(release, restorer.privateKey, site.publicKey, { ...expected, epochs: [2] }),
    ).rejects.toThrow(EnvelopeContextError);
  });

  it('refuses an envelope opened for another purpose, volume, epochs or request', async () => {
    const jwe = await sealEnvelope(keys, restorer.publicKey, {
      purpose: 'release',
      requestId: 'req-1',
      generation: 2,
    });
    const mismatches = [
      { purpose: 'escrow' as const },
      { purpose: 'release' as const, volumeId: 'ext4:other' },
      { purpose: 'release' as const, epochs: [1, 2] },
      { purpose: 'release' as const, requestId: 'req-2' },
      { purpose: 'release' as const, generation: 3 },
    ];
    for (const expected of mismatches) {
      await expect(openEnvelope(jwe, restorer.privateKey, expected)).rejects.toThrow(
        EnvelopeContextError,
      );
    }
  });

  it('gives malformed envelopes typed errors, never a hang', async () => {
    const jwe = await sealEnvelope(keys, site.publicKey, { purpose: 'escrow' });
    const [h, k, iv, ct, tag] = jwe.split('.') as [string, string, string, string, string];
    const header = JSON.parse(fromUtf8(fromBase64Url(h))) as Record<string, unknown>;
    const withHeader = (changes: Record<string, unknown>) =>
      [toBase64Url(utf8(JSON.stringify({ ...header, ...changes }))), k, iv, ct, tag].join('.');
    const flipped = ct.slice(0, 4) + (ct[4] === 'A' ? 'B' : 'A') + ct.slice(5);
    const cases: [string, new (...args: never[]) => Error][] = [
      ['', MalformedEnvelopeError],
      ['a.b.c', MalformedEnvelopeError],
      ['!!!.b.c.d.e', MalformedEnvelopeError],
      [withHeader({ alg: 'RSA-OAEP' }), MalformedEnvelopeError],
      [withHeader({ enc: 'A128GCM' }), MalformedEnvelopeError],
      [withHeader({ purpose: 'party' }), MalformedEnvelopeError],
      [withHeader({ epochs: [-1] }), MalformedEnvelopeError],
      // The header is authenticated: changing the context breaks decryption.
      [withHeader({ volumeId: 'ext4:other' }), WrongKeyError],
      [[h, k, iv, flipped, tag].join('.'), WrongKeyError],
      [[h, k, iv, ct, ''].join('.'), MalformedEnvelopeError],
    ];
    for (const [input, type] of cases) {
      await expect(openEnvelope(input, site.privateKey, { purpose: 'escrow' })).rejects.toThrow(
        type,
      );
    }
    await expect(
      openEnvelope(42 as unknown as string, site.privateKey, { purpose: 'escrow' }),
    ).rejects.toThrow(MalformedEnvelopeError);
    const signing = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
    ]);
    await expect(openEnvelope(jwe, signing.privateKey, { purpose: 'escrow' })).rejects.toThrow(
      MalformedKeyError,
    );
    await expect(sealEnvelope(keys, signing.publicKey, { purpose: 'escrow' })).rejects.toThrow(
      MalformedKeyError,
    );
  });

  it('refuses to seal non-extractable keys', async () => {
    const deviceOnly = { ...keys, chunkIdKey: await generateChunkIdKey() };
    await expect(sealEnvelope(deviceOnly, site.publicKey, { purpose: 'escrow' })).rejects.toThrow(
      MalformedKeyError,
    );
  });

  it('exports the keys file the independent decoder reads (ES-4)', async () => {
    const jwe = await sealEnvelope(keys, site.publicKey, { purpose: 'escrow' });
    const spki = new Uint8Array(
      await crypto.subtle.exportKey('spki', (await generateEnvelopeKeyPair()).publicKey),
    );
    const bytes = await createKeysFile(jwe, site.privateKey, [spki]);
    const file = keysFileSchema.parse(JSON.parse(fromUtf8(bytes)));
    expect(file.volumeId).toBe(volumeId);
    expect(file.dataKeys.map((k) => k.epoch)).toEqual([1, 2, 5]);
    expect(file.chunkIdKey).toBe(toBase64Url(await exportRawKey(keys.chunkIdKey)));
  });
});
