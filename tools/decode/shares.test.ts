/**
 * The independent decoder restores a volume whose keys are kept k-of-n in
 * shares (docs/FORMAT.md §8.1, §9): from the key-share files that k sites'
 * administrators export, combined with its own GF(2^8) code, and refuses
 * too few files, files of another volume or escrow, and shares that do not
 * rebuild the keys their checks name.
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { combine, split } from 'shamir-secret-sharing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportPublicKeySpki } from '../../src/core/crypto/device-key';
import { generateEnvelopeKeyPair } from '../../src/core/crypto/envelope-key';
import { sealToSites } from '../../src/core/crypto/key-shares';
import { createKeysFile } from '../../src/core/crypto/keys-file';
import { bundleBytes } from '../../src/core/crypto/bundle';
import {
  buildManifest,
  parseManifest,
  serializeManifest,
  signManifest,
} from '../../src/core/crypto/manifest';
import type { EscrowSites, SignedManifest } from '../../src/core/crypto/manifest-schema';
import type { VolumeKeys } from '../../src/core/crypto/keys';
import {
  makeBackup,
  randomImage,
  type BackupFixture,
} from '../../src/core/crypto/test-support/backup-fixture';
import { decodeImage } from './decode';
import { DecodeError } from './format';
import { gfInv, gfMul, interpolateAtZero, keyCheck } from './shares';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const mainPath = path.join(repoRoot, 'tools', 'decode', 'main.ts');

let workDir: string;
beforeAll(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'custodian-decode-shares-'));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

const fingerprint = (siteId: string) => createHash('sha256').update(siteId).digest('hex');

/** The backup's manifest again, with `escrow` in its signed index. */
async function withEscrow(backup: BackupFixture, escrow: EscrowSites): Promise<SignedManifest> {
  const { index } = backup.manifest;
  const epoch = Math.max(...backup.keys.dataKeys.keys());
  const unsigned = await buildManifest(
    {
      volumeId: index.volumeId,
      generation: index.generation,
      previousManifestHash: index.previousManifestHash,
      chunkSize: index.chunkSize,
      chunks: index.chunks,
      createdAt: index.createdAt,
      deviceKeyFingerprint: index.deviceKeyFingerprint,
      escrow,
    },
    backup.secret,
    { dataKey: backup.keys.dataKeys.get(epoch)!, epoch },
  );
  return signManifest(unsigned, backup.deviceKeyPair.privateKey);
}

/**
 * What the backup and the sites' administrators produce: one sealToSites per
 * epoch (as the backup does), and at each site `export-key`'s key-share file
 * made from its envelopes. Returns the share files as text by site ID.
 */
async function shareFiles(
  backup: Pick<BackupFixture, 'keys' | 'deviceKeyPair'>,
  sites: readonly string[],
  threshold: number,
): Promise<Map<string, string>> {
  const pairs = new Map<string, CryptoKeyPair>();
  for (const site of sites) pairs.set(site, await generateEnvelopeKeyPair());
  const envelopes = new Map<string, string[]>(sites.map((s) => [s, []]));
  for (const [epoch, dataKey] of backup.keys.dataKeys) {
    const keys: VolumeKeys = {
      volumeId: backup.keys.volumeId,
      chunkIdKey: backup.keys.chunkIdKey,
      dataKeys: new Map([[epoch, dataKey]]),
    };
    const sealed = await sealToSites(
      keys,
      sites.map((siteId) => ({ siteId, escrowKey: pairs.get(siteId)!.publicKey })),
      threshold,
      { purpose: 'escrow' },
    );
    for (const [site, jwe] of sealed) envelopes.get(site)!.push(jwe);
  }
  const spki = await exportPublicKeySpki(backup.deviceKeyPair.publicKey);
  const files = new Map<string, string>();
  for (const site of sites) {
    const bytes = await createKeysFile(envelopes.get(site)!, pairs.get(site)!.privateKey, [spki]);
    files.set(site, new TextDecoder().decode(bytes));
  }
  return files;
}

interface Exported {
  dir: string;
  chunks: string;
  manifestPath: string;
  /** Key-share file paths by site ID. */
  shares: Map<string, string>;
}

async function exportShared(
  backup: BackupFixture,
  name: string,
  sites: readonly string[],
  threshold: number,
  manifest?: SignedManifest,
): Promise<Exported> {
  const dir = path.join(workDir, name);
  const chunks = path.join(dir, 'chunks');
  mkdirSync(chunks, { recursive: true });
  const signed =
    manifest ??
    (await withEscrow(backup, {
      threshold,
      sites: sites.map((siteId) => ({ siteId, fingerprint: fingerprint(siteId) })),
    }));
  const manifestPath = path.join(dir, 'manifest.json');
  writeFileSync(manifestPath, serializeManifest(signed));
  for (const [chunkId, blob] of backup.blobs) writeFileSync(path.join(chunks, chunkId), blob);
  const shares = new Map<string, string>();
  for (const [site, text] of await shareFiles(backup, sites, threshold)) {
    const file = path.join(dir, `${site}.share.json`);
    writeFileSync(file, text);
    shares.set(site, file);
  }
  return { dir, chunks, manifestPath, shares };
}

let counter = 0;
function restore(exported: Exported, keysPath: string | string[]) {
  const outPath = path.join(exported.dir, `restored-${++counter}.img`);
  const result = decodeImage({
    manifestPath: exported.manifestPath,
    keysPath,
    chunksDir: exported.chunks,
    outPath,
  });
  return { result, outPath };
}

function refusal(exported: Exported, keysPath: string | string[]): string {
  const outPath = path.join(exported.dir, `refused-${++counter}.img`);
  let caught: unknown;
  try {
    decodeImage({
      manifestPath: exported.manifestPath,
      keysPath,
      chunksDir: exported.chunks,
      outPath,
    });
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DecodeError);
  expect(existsSync(outPath)).toBe(false);
  expect(existsSync(`${outPath}.partial`)).toBe(false);
  return (caught as Error).message;
}

/** A copy of a key-share file with `edit` applied, written next to it. */
function editedShareFile(
  file: string,
  suffix: string,
  edit: (json: Record<string, unknown>) => void,
): string {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(json);
  const out = file.replace(/\.json$/, `.${suffix}.json`);
  writeFileSync(out, JSON.stringify(json));
  return out;
}

function flipShareByte(encoded: string, byte: number): string {
  const bytes = Buffer.from(encoded, 'base64url');
  bytes[byte]! ^= 0x01;
  return bytes.toString('base64url');
}

function runDecoder(args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', mainPath, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('GF(2^8) of the decoder (x^8 + x^4 + x^3 + x + 1)', () => {
  it('multiplies as FIPS 197 §4.2 does and inverts every non-zero element', () => {
    expect(gfMul(0x57, 0x83)).toBe(0xc1);
    expect(gfMul(0x57, 0x13)).toBe(0xfe);
    for (let a = 0; a < 256; a++) {
      expect(gfMul(a, 1)).toBe(a);
      expect(gfMul(a, 0)).toBe(0);
      if (a > 0) expect(gfMul(a, gfInv(a))).toBe(1);
    }
  });

  it('rebuilds what shamir-secret-sharing splits, from any k shares', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        fc
          .integer({ min: 2, max: 7 })
          .chain((n) => fc.record({ n: fc.constant(n), k: fc.integer({ min: 2, max: n }) }))
          .chain(({ n, k }) =>
            fc.record({
              n: fc.constant(n),
              k: fc.constant(k),
              chosen: fc.shuffledSubarray([...Array(n).keys()], { minLength: k, maxLength: n }),
            }),
          ),
        async (secret, { n, k, chosen }) => {
          const shares = await split(secret, n, k);
          const picked = chosen.map((i) => shares[i]!);
          const ours = interpolateAtZero(picked);
          expect(ours.toString('hex')).toBe(Buffer.from(secret).toString('hex'));
          expect(ours.toString('hex')).toBe(Buffer.from(await combine(picked)).toString('hex'));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('computes the key check as FORMAT.md says', () => {
    const key = Buffer.alloc(32, 7);
    const digest = createHash('sha256')
      .update(Buffer.concat([Buffer.from('custodian-key-check'), Buffer.of(0), key]))
      .digest();
    expect(keyCheck(key)).toBe(digest.subarray(0, 16).toString('hex'));
  });
});

describe('independent decoder with key shares (tools/decode)', () => {
  const SITES = ['site-a', 'site-b', 'site-c'];
  let backup: BackupFixture;
  let exported: Exported;

  beforeAll(async () => {
    // Three epochs, so that the data keys come from three escrows each split anew.
    backup = await makeBackup(randomImage(5 * 65_536 + 1234), {
      chunkSize: 65_536,
      rotateEvery: 2,
    });
    expect(backup.keys.dataKeys.size).toBe(3);
    exported = await exportShared(backup, 'two-of-three', SITES, 2);
  });

  it('writes key-share files as FORMAT.md §9 describes', () => {
    const json = JSON.parse(readFileSync(exported.shares.get('site-b')!, 'utf8')) as Record<
      string,
      unknown
    >;
    expect(Object.keys(json).sort()).toEqual([
      'chunkIdKey',
      'chunkIdKeyCheck',
      'dataKeys',
      'devicePublicKeys',
      'format',
      'shares',
      'siteId',
      'threshold',
      'type',
      'volumeId',
    ]);
    expect(json).toMatchObject({
      type: 'custodian-key-share-file',
      format: 1,
      siteId: 'site-b',
      threshold: 2,
      shares: 3,
      volumeId: backup.keys.volumeId,
    });
    expect(Buffer.from(json.chunkIdKey as string, 'base64url')).toHaveLength(33);
    expect((json.dataKeys as { epoch: number }[]).map((k) => k.epoch)).toEqual([1, 2, 3]);
  });

  it('restores byte for byte from every 2 of the 3 share files, and from all 3', () => {
    const subsets = [
      ['site-a', 'site-b'],
      ['site-a', 'site-c'],
      ['site-b', 'site-c'],
      ['site-c', 'site-a'],
      SITES,
    ];
    for (const subset of subsets) {
      const { result, outPath } = restore(
        exported,
        subset.map((s) => exported.shares.get(s)!),
      );
      expect(result.warnings).toEqual([]);
      expect(result.imageSha256).toBe(backup.secret.imageSha256);
      expect(Buffer.compare(readFileSync(outPath), Buffer.from(backup.image))).toBe(0);
    }
  });

  it('refuses k − 1 share files', () => {
    for (const site of SITES) {
      expect(refusal(exported, [exported.shares.get(site)!])).toMatch(
        /1 key-share file given, but the keys of volume .* need shares from 2 of its 3 sites/,
      );
      expect(refusal(exported, exported.shares.get(site)!)).toMatch(/1 key-share file given/);
    }
  });

  it('refuses a tampered share that leaves k, and names it while restoring when n > k', () => {
    const a = exported.shares.get('site-a')!;
    const b = exported.shares.get('site-b')!;
    const c = exported.shares.get('site-c')!;
    const badData = editedShareFile(b, 'bad-data', (json) => {
      const dataKeys = json.dataKeys as { key: string }[];
      dataKeys[1]!.key = flipShareByte(dataKeys[1]!.key, 3);
    });
    const badChunkId = editedShareFile(b, 'bad-id', (json) => {
      json.chunkIdKey = flipShareByte(json.chunkIdKey as string, 31);
    });
    expect(refusal(exported, [a, badData])).toMatch(
      /data key of epoch 2 rebuilt from .*site-a.*site-b.* does not match its key check/,
    );
    expect(refusal(exported, [badChunkId, c])).toMatch(
      /chunk-ID key rebuilt from .* does not match/,
    );
    // A check altered instead of the share.
    const badCheck = editedShareFile(c, 'bad-check', (json) => {
      json.chunkIdKeyCheck = '0'.repeat(32);
    });
    expect(refusal(exported, [a, badCheck])).toMatch(/hold shares of different keys/);
    // With a third, good share the bad one is left out and named.
    const { result, outPath } = restore(exported, [a, badData, c]);
    expect(result.warnings).toEqual([
      `the data key of epoch 2 share of key-share file ${badData} does not fit the others; left out`,
    ]);
    expect(Buffer.compare(readFileSync(outPath), Buffer.from(backup.image))).toBe(0);
  });

  it('refuses a share file of another volume', async () => {
    const other = await makeBackup(randomImage(1000), {
      chunkSize: 65_536,
      volumeId: 'ext4:another-volume',
    });
    const otherExported = await exportShared(other, 'other-volume', SITES, 2);
    const a = exported.shares.get('site-a')!;
    expect(refusal(exported, [a, otherExported.shares.get('site-b')!])).toMatch(
      /holds shares for volume ext4:another-volume, .* for volume iso9660:TEST_VOLUME.*all key-share files must be of one volume/,
    );
    // Enough files, all of the other volume: the manifest's volume decides.
    expect(
      refusal(exported, [otherExported.shares.get('site-a')!, otherExported.shares.get('site-b')!]),
    ).toMatch(/keys are for volume ext4:another-volume, the manifest for volume iso9660/);
  });

  it('refuses duplicate x coordinates, one site twice and different thresholds', async () => {
    const a = exported.shares.get('site-a')!;
    const b = exported.shares.get('site-b')!;
    // site-b's file carrying site-a's share of the chunk-ID key.
    const copied = editedShareFile(b, 'copied', (json) => {
      const fromA = JSON.parse(readFileSync(a, 'utf8')) as { chunkIdKey: string };
      json.chunkIdKey = fromA.chunkIdKey;
    });
    expect(refusal(exported, [a, copied])).toMatch(/have the same x coordinate \d+/);
    expect(refusal(exported, [a, a])).toMatch(/both come from site site-a/);
    // The same keys split 2-of-3 and 3-of-3.
    const threeOfThree = await shareFiles(backup, SITES, 3);
    const other = path.join(exported.dir, 'site-b.3of3.json');
    writeFileSync(other, threeOfThree.get('site-b')!);
    expect(refusal(exported, [a, other])).toMatch(/different thresholds/);
  });

  it('checks the share files against the escrow of the signed manifest', async () => {
    const a = exported.shares.get('site-a')!;
    const b = exported.shares.get('site-b')!;
    // A manifest that names other sites or another threshold.
    for (const [name, escrow, message] of [
      [
        'escrow-other-sites',
        {
          threshold: 2,
          sites: ['site-a', 'site-x', 'site-y'].map((siteId) => ({
            siteId,
            fingerprint: fingerprint(siteId),
          })),
        },
        /comes from site site-b, which the signed manifest does not list/,
      ],
      [
        'escrow-other-threshold',
        {
          threshold: 3,
          sites: SITES.map((siteId) => ({ siteId, fingerprint: fingerprint(siteId) })),
        },
        /need 2 shares, the signed manifest says 3/,
      ],
      [
        'escrow-more-sites',
        {
          threshold: 2,
          sites: [...SITES, 'site-d'].map((siteId) => ({
            siteId,
            fingerprint: fingerprint(siteId),
          })),
        },
        /split into 3 shares, the signed manifest lists 4 sites/,
      ],
    ] as const) {
      const manifestPath = path.join(exported.dir, `${name}.json`);
      writeFileSync(manifestPath, serializeManifest(await withEscrow(backup, escrow)));
      expect(refusal({ ...exported, manifestPath }, [a, b])).toMatch(message);
    }
    // The escrow member is signed: changing it breaks the signature.
    const forged = JSON.parse(readFileSync(exported.manifestPath, 'utf8')) as {
      index: { escrow: { threshold: number } };
    };
    forged.index.escrow.threshold = 3;
    const forgedPath = path.join(exported.dir, 'forged.json');
    writeFileSync(forgedPath, JSON.stringify(forged));
    expect(refusal({ ...exported, manifestPath: forgedPath }, [a, b])).toMatch(
      /signature does not verify/,
    );
  });

  it('restores from the command line with --keys repeated, and says so in its help', () => {
    const outPath = path.join(exported.dir, 'cli.img');
    const run = runDecoder([
      '--manifest',
      exported.manifestPath,
      '--keys',
      exported.shares.get('site-c')!,
      '--keys',
      exported.shares.get('site-a')!,
      '--chunks',
      exported.chunks,
      '--out',
      outPath,
    ]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(backup.secret.imageSha256);
    expect(Buffer.compare(readFileSync(outPath), Buffer.from(backup.image))).toBe(0);

    const few = runDecoder([
      '--manifest',
      exported.manifestPath,
      '--keys',
      exported.shares.get('site-c')!,
      '--chunks',
      exported.chunks,
      '--out',
      path.join(exported.dir, 'cli-few.img'),
    ]);
    expect(few.status).toBe(1);
    expect(few.stderr).toMatch(/decode: 1 key-share file given/);

    const help = runDecoder(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--keys FILE [--keys FILE ...]');
    expect(help.stdout).toContain('key-share file');
  });
  it('restores a bundle (FORMAT.md §16) with k share files', () => {
    const bundlePath = path.join(exported.dir, 'two-of-three.custodian-bundle');
    writeFileSync(
      bundlePath,
      bundleBytes(parseManifest(readFileSync(exported.manifestPath)), backup.blobs),
    );
    const outPath = path.join(exported.dir, 'bundle.img');
    const run = runDecoder([
      '--bundle',
      bundlePath,
      '--keys',
      exported.shares.get('site-b')!,
      '--keys',
      exported.shares.get('site-c')!,
      '--out',
      outPath,
    ]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(Buffer.compare(readFileSync(outPath), Buffer.from(backup.image))).toBe(0);
  });
});
