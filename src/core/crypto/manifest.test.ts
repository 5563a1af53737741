import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromUtf8 } from './bytes';
import { generateDeviceKeyPair } from './device-key';
import {
  BadSignatureError,
  CustodianCryptoError,
  MalformedManifestError,
  RollbackError,
  WrongKeyError,
} from './errors';
import { generateDataKey } from './keys';
import {
  buildManifest,
  checkNotRolledBack,
  checkSuccession,
  manifestEpochs,
  manifestHash,
  openManifestSecret,
  parseAndVerifyManifest,
  parseManifest,
  serializeManifest,
  signManifest,
  verifyManifestSignature,
} from './manifest';
import type { SignedManifest } from './manifest-schema';
import { makeBackup, randomImage, type BackupFixture } from './test-support/backup-fixture';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a leaf of a JSON value. */
function leafPaths(value: Json, path: (string | number)[] = []): (string | number)[][] {
  if (value !== null && typeof value === 'object') {
    const entries: [string | number, Json][] = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : Object.entries(value);
    return entries.flatMap(([k, v]) => leafPaths(v, [...path, k]));
  }
  return [path];
}

function getAt(root: Json, path: (string | number)[]): Json {
  return path.reduce<Json>((node, key) => (node as Record<string | number, Json>)[key]!, root);
}

function setAt(root: Json, path: (string | number)[], value: Json): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, Json>;
  parent[path[path.length - 1]!] = value;
}

const HEX = '0123456789abcdef';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Changes one character to another of the same alphabet, so the format stays plausible. */
function mutateString(text: string, at: number, pick: number): string {
  if (text.length === 0) return 'x';
  const i = at % text.length;
  const alphabet = /^[0-9a-f]+$/.test(text)
    ? HEX
    : /^[A-Za-z0-9_-]+$/.test(text)
      ? B64
      : B64 + ':. ';
  const current = text[i]!;
  const options = alphabet.replace(current, '');
  return text.slice(0, i) + options[pick % options.length]! + text.slice(i + 1);
}

describe('manifests', () => {
  let backup: BackupFixture;
  beforeAll(async () => {
    backup = await makeBackup(randomImage(100), { chunkSize: 32, rotateEvery: 2 });
  });

  it('serializes canonically, parses back and verifies', async () => {
    const bytes = serializeManifest(backup.manifest);
    const parsed = await parseAndVerifyManifest(bytes, backup.deviceKeyPair.publicKey);
    expect(parsed).toEqual(backup.manifest);
    expect(serializeManifest(parsed)).toEqual(bytes);
    expect(parseManifest(fromUtf8(bytes))).toEqual(backup.manifest);
    expect(backup.manifest.index.chunks).toHaveLength(4);
    expect(manifestEpochs(backup.manifest)).toEqual([1, 2]);
    expect(await openManifestSecret(parsed, backup.keys.dataKeys)).toEqual(backup.secret);
  });

  it('detects any single mutation of a stored manifest', async () => {
    const original = JSON.parse(fromUtf8(serializeManifest(backup.manifest))) as Json;
    const paths = leafPaths(original);
    await fc.assert(
      fc.asyncProperty(
        fc.nat(paths.length - 1),
        fc.nat(),
        fc.nat(),
        fc.constantFrom('same-alphabet', 'delete', 'swap-chunks', 'drop-chunk', 'extra-member'),
        async (which, at, pick, kind) => {
          const copy = structuredClone(original) as Json;
          const path = paths[which]!;
          const chunks = getAt(copy, ['index', 'chunks']) as Json[];
          if (kind === 'same-alphabet') {
            const value = getAt(copy, path);
            if (typeof value === 'string') setAt(copy, path, mutateString(value, at, pick));
            else if (typeof value === 'number') setAt(copy, path, value + 1 + (pick % 3));
            else setAt(copy, path, 'f'.repeat(64));
          } else if (kind === 'delete') {
            const parent = getAt(copy, path.slice(0, -1));
            if (Array.isArray(parent)) parent.splice(Number(path[path.length - 1]), 1);
            else delete (parent as Record<string, Json>)[path[path.length - 1]!];
          } else if (kind === 'swap-chunks') {
            const i = at % chunks.length;
            const j = (i + 1 + (pick % (chunks.length - 1))) % chunks.length;
            [chunks[i], chunks[j]] = [chunks[j]!, chunks[i]!];
          } else if (kind === 'drop-chunk') {
            chunks.splice(at % chunks.length, 1);
          } else {
            let parentPath = path.slice(0, -1);
            while (Array.isArray(getAt(copy, parentPath))) parentPath = parentPath.slice(0, -1);
            (getAt(copy, parentPath) as Record<string, Json>)['extra'] = 1;
          }
          const error = await parseAndVerifyManifest(copy, backup.deviceKeyPair.publicKey).catch(
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(CustodianCryptoError);
          expect([BadSignatureError, MalformedManifestError].some((c) => error instanceof c)).toBe(
            true,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a signature by another device key, and one that names another key', async () => {
    const other = await generateDeviceKeyPair();
    await expect(verifyManifestSignature(backup.manifest, other.publicKey)).rejects.toThrow(
      BadSignatureError,
    );
    const forged: SignedManifest = await signManifest(backup.manifest, other.privateKey);
    await expect(verifyManifestSignature(forged, backup.deviceKeyPair.publicKey)).rejects.toThrow(
      /does not verify/,
    );
  });

  it('opens the sealed part only with its data key and its index', async () => {
    await expect(openManifestSecret(backup.manifest, new Map())).rejects.toThrow(WrongKeyError);
    const wrong = new Map([[backup.manifest.sealed.epoch, await generateDataKey()]]);
    await expect(openManifestSecret(backup.manifest, wrong)).rejects.toThrow(WrongKeyError);
    // The sealed part moved under another index no longer opens (its AAD binds the index hash).
    const other = await makeBackup(randomImage(100), {
      chunkSize: 32,
      rotateEvery: 2,
      reuse: backup,
      firstEpoch: 2,
    });
    const transplanted = { ...other.manifest, sealed: backup.manifest.sealed };
    await expect(openManifestSecret(transplanted, backup.keys.dataKeys)).rejects.toThrow(
      WrongKeyError,
    );
  });

  it('refuses an index that does not add up to the sealed size (truncation)', async () => {
    const dataKey = await generateDataKey();
    const draft = {
      volumeId: 'fat:1234-ABCD:DISK',
      generation: 1,
      previousManifestHash: null,
      chunkSize: 32,
      chunks: backup.manifest.index.chunks.slice(0, 3),
      deviceKeyFingerprint: backup.manifest.index.deviceKeyFingerprint,
    };
    await expect(buildManifest(draft, backup.secret, { dataKey, epoch: 1 })).rejects.toThrow(
      /lists 3 chunks, an image of 100 bytes has 4/,
    );
    await expect(
      buildManifest({ ...draft, generation: 2 }, backup.secret, { dataKey, epoch: 1 }),
    ).rejects.toThrow(/must name the previous manifest/);
    const uneven = [...draft.chunks];
    uneven[0] = { ...uneven[0]!, length: 31 };
    await expect(
      buildManifest({ ...draft, chunks: uneven }, backup.secret, { dataKey, epoch: 1 }),
    ).rejects.toThrow(MalformedManifestError);
  });

  it('chains generations and refuses rollback, gaps and forks', async () => {
    const gen2 = await makeBackup(randomImage(70), {
      chunkSize: 32,
      reuse: backup,
      previous: backup.manifest,
    });
    const gen3 = await makeBackup(randomImage(10), {
      chunkSize: 32,
      reuse: backup,
      previous: gen2.manifest,
    });
    await expect(checkSuccession(backup.manifest, gen2.manifest)).resolves.toBeUndefined();
    await expect(checkSuccession(gen2.manifest, gen3.manifest)).resolves.toBeUndefined();
    await expect(checkSuccession(backup.manifest, gen3.manifest)).rejects.toThrow(RollbackError);
    await expect(checkSuccession(gen2.manifest, backup.manifest)).rejects.toThrow(RollbackError);
    const fork = await makeBackup(randomImage(70), {
      chunkSize: 32,
      reuse: backup,
      previous: backup.manifest,
    });
    await expect(checkSuccession(fork.manifest, gen3.manifest)).rejects.toThrow(
      /names a previous manifest other/,
    );
    const known = { generation: 3, manifestHash: await manifestHash(gen3.manifest) };
    await expect(checkNotRolledBack(gen3.manifest, known)).resolves.toBeUndefined();
    await expect(checkNotRolledBack(gen2.manifest, known)).rejects.toThrow(RollbackError);
    const fork3 = await makeBackup(randomImage(10), {
      chunkSize: 32,
      reuse: backup,
      previous: fork.manifest,
    });
    await expect(checkNotRolledBack(fork3.manifest, known)).rejects.toThrow(/different content/);
  });

  it('gives malformed input a typed error with a readable message', () => {
    const bad: unknown[] = [
      new Uint8Array([0xff, 0xfe]),
      'not json',
      null,
      42,
      {},
      { ...backup.manifest, type: 'something-else' },
      { ...backup.manifest, signature: 'AAAA' },
      { ...backup.manifest, index: { ...backup.manifest.index, generation: 0 } },
      { ...backup.manifest, index: { ...backup.manifest.index, chunkSize: 2 ** 30 } },
    ];
    for (const input of bad) {
      expect(() => parseManifest(input)).toThrow(MalformedManifestError);
    }
    expect(() => parseManifest({})).toThrow(/Malformed manifest: type/);
  });
});
