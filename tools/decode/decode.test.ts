/**
 * The independent decoder restores what src/core backed up, byte for byte,
 * reading only files laid out as docs/FORMAT.md says — a manifest and chunk
 * files, or one bundle (§16) — and stops with a clear message naming the
 * chunk when one is damaged.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleBytes, bundleLayout } from '../../src/core/crypto/bundle';
import { concatBytes, toBase64Url } from '../../src/core/crypto/bytes';
import { CHUNK_SIZE } from '../../src/core/crypto/constants';
import { exportPublicKeySpki } from '../../src/core/crypto/device-key';
import { sealEnvelope } from '../../src/core/crypto/envelope';
import { generateEnvelopeKeyPair } from '../../src/core/crypto/envelope-key';
import { createKeysFile } from '../../src/core/crypto/keys-file';
import { exportRawKey } from '../../src/core/crypto/keys';
import { buildManifest, serializeManifest, signManifest } from '../../src/core/crypto/manifest';
import {
  makeBackup,
  randomImage,
  type BackupFixture,
} from '../../src/core/crypto/test-support/backup-fixture';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const mainPath = path.join(repoRoot, 'tools', 'decode', 'main.ts');

let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(path.join(tmpdir(), 'custodian-decode-'));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/** Writes what an administrator would export: manifest, keys file and chunk files. */
async function exportBackup(backup: BackupFixture, name: string, viaEnvelope = false) {
  const dir = path.join(workDir, name);
  const chunks = path.join(dir, 'chunks');
  mkdirSync(chunks, { recursive: true });
  const manifestPath = path.join(dir, 'manifest.json');
  writeFileSync(manifestPath, serializeManifest(backup.manifest));
  for (const [chunkId, blob] of backup.blobs) writeFileSync(path.join(chunks, chunkId), blob);
  const spki = await exportPublicKeySpki(backup.deviceKeyPair.publicKey);
  const keysPath = path.join(dir, 'keys.json');
  if (viaEnvelope) {
    // What `npm run site -- export-key` does: open the escrow envelope.
    const site = await generateEnvelopeKeyPair();
    const escrow = await sealEnvelope(backup.keys, site.publicKey, { purpose: 'escrow' });
    writeFileSync(keysPath, await createKeysFile(escrow, site.privateKey, [spki]));
  } else {
    const dataKeys = [];
    for (const [epoch, key] of [...backup.keys.dataKeys].sort(([a], [b]) => a - b)) {
      dataKeys.push({ epoch, key: toBase64Url(await exportRawKey(key)) });
    }
    const file = {
      type: 'custodian-keys-file',
      format: 1,
      volumeId: backup.keys.volumeId,
      chunkIdKey: toBase64Url(await exportRawKey(backup.keys.chunkIdKey)),
      dataKeys,
      devicePublicKeys: [toBase64Url(spki)],
    };
    writeFileSync(keysPath, JSON.stringify(file, null, 2));
  }
  return { dir, chunks, manifestPath, keysPath, outPath: path.join(dir, 'restored.img') };
}

function runDecoder(args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', mainPath, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function decoderArgs(paths: Awaited<ReturnType<typeof exportBackup>>): string[] {
  return [
    '--manifest',
    paths.manifestPath,
    '--keys',
    paths.keysPath,
    '--chunks',
    paths.chunks,
    '--out',
    paths.outPath,
  ];
}

describe('independent decoder (tools/decode)', () => {
  const images: [string, number, { viaEnvelope?: boolean; rotateEvery?: number }][] = [
    ['three full 4 MiB chunks', 3 * CHUNK_SIZE, { viaEnvelope: true }],
    [
      'a size that is not a multiple of 4 MiB, over two epochs',
      2 * CHUNK_SIZE + 4099,
      { rotateEvery: 2 },
    ],
    ['a single byte', 1, {}],
    ['an empty image', 0, {}],
  ];

  for (const [label, size, options] of images) {
    it(`restores ${label} byte for byte`, async () => {
      const backup = await makeBackup(randomImage(size), { rotateEvery: options.rotateEvery });
      const paths = await exportBackup(backup, label.replace(/\W+/g, '-'), options.viaEnvelope);
      const run = runDecoder(decoderArgs(paths));
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(backup.secret.imageSha256);
      const restored = readFileSync(paths.outPath);
      expect(restored.length).toBe(size);
      expect(Buffer.compare(restored, Buffer.from(backup.image))).toBe(0);
    });
  }

  it('stops on a corrupted chunk file, names the chunk and leaves no output', async () => {
    const backup = await makeBackup(randomImage(200_000), { chunkSize: 65_536 });
    const paths = await exportBackup(backup, 'corrupted');
    const victim = backup.manifest.index.chunks[2]!.chunkId;
    const file = path.join(paths.chunks, victim);
    const blob = readFileSync(file);
    blob[100]! ^= 0x04;
    writeFileSync(file, blob);
    const run = runDecoder(decoderArgs(paths));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`chunk 2 (${victim}) was tampered with`);
    expect(existsSync(paths.outPath)).toBe(false);
    expect(existsSync(`${paths.outPath}.partial`)).toBe(false);
  });

  it('stops on a missing chunk file and on a forged manifest', async () => {
    const backup = await makeBackup(randomImage(150_000), { chunkSize: 65_536 });
    const paths = await exportBackup(backup, 'missing');
    const victim = backup.manifest.index.chunks[1]!.chunkId;
    rmSync(path.join(paths.chunks, victim));
    const missing = runDecoder(decoderArgs(paths));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(new RegExp(`chunk 1 \\(${victim}\\).*missing`));

    const forged = JSON.parse(readFileSync(paths.manifestPath, 'utf8')) as {
      index: { chunks: unknown[] };
    };
    const [first, second] = forged.index.chunks;
    forged.index.chunks[0] = second;
    forged.index.chunks[1] = first;
    writeFileSync(paths.manifestPath, JSON.stringify(forged));
    const run = runDecoder(decoderArgs(paths));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/signature does not verify/);
  });

  it('refuses keys of another volume', async () => {
    const a = await makeBackup(randomImage(10), { chunkSize: 65_536 });
    const b = await makeBackup(randomImage(10), { chunkSize: 65_536, volumeId: 'ext4:other' });
    const pathsA = await exportBackup(a, 'volume-a');
    const pathsB = await exportBackup(b, 'volume-b');
    const run = runDecoder(decoderArgs({ ...pathsA, keysPath: pathsB.keysPath }));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/keys are for volume ext4:other/);
  });

  it('restores the worked example of docs/FORMAT.md', () => {
    const dir = path.join(workDir, 'format-example');
    const made = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(repoRoot, 'tools', 'decode', 'example', 'make-example.ts'),
        '--out-dir',
        dir,
      ],
      { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 },
    );
    expect(made.status).toBe(0);
    expect(made.stdout).toContain('### Chunk 1');
    const chunks = path.join(dir, 'chunks');
    const outPath = path.join(dir, 'image.bin');
    const run = runDecoder([
      '--manifest',
      path.join(dir, 'manifest.json'),
      '--keys',
      path.join(dir, 'keys.json'),
      '--chunks',
      chunks,
      '--out',
      outPath,
    ]);
    expect(run.status).toBe(0);
    expect(readFileSync(outPath, 'utf8')).toBe('The quick brown fox jumps over the lazy dog');
  });

  it('explains its usage on missing or unknown arguments', () => {
    const none = runDecoder([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/missing --manifest, --keys, --chunks, --out/);
    expect(none.stderr).toContain('Usage: npm run decode');
    const unknown = runDecoder(['--manifesto', 'x']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('Usage: npm run decode');
    const unreadable = runDecoder([
      '--manifest',
      '/nonexistent/m.json',
      '--keys',
      '/nonexistent/k.json',
      '--chunks',
      '/nonexistent',
      '--out',
      path.join(workDir, 'never.img'),
    ]);
    expect(unreadable.status).toBe(1);
    expect(unreadable.stderr).toMatch(/cannot read the keys file/);
  });
});

describe('independent decoder reading a bundle (tools/decode --bundle)', () => {
  const CHUNK = 65_536;
  let backup: BackupFixture;
  let paths: Awaited<ReturnType<typeof exportBackup>>;
  let bundle: Buffer;
  let counter = 0;

  beforeAll(async () => {
    // Chunks a, b, a and a short last one: the repeated chunk is one blob in the bundle.
    const a = randomImage(CHUNK);
    const image = concatBytes(a, randomImage(CHUNK), a, randomImage(5000));
    backup = await makeBackup(image, { chunkSize: CHUNK });
    paths = await exportBackup(backup, 'bundle');
    bundle = Buffer.from(bundleBytes(backup.manifest, backup.blobs));
  });

  /** Writes `bytes` as a bundle file and runs the decoder on it with the keys file. */
  function decodeBundle(bytes: Uint8Array) {
    const name = `bundle-${++counter}`;
    const bundlePath = path.join(paths.dir, `${name}.custodian-bundle`);
    const outPath = path.join(paths.dir, `${name}.img`);
    writeFileSync(bundlePath, bytes);
    const run = runDecoder(['--bundle', bundlePath, '--keys', paths.keysPath, '--out', outPath]);
    return {
      ...run,
      outPath,
      wroteNothing: !existsSync(outPath) && !existsSync(`${outPath}.partial`),
    };
  }

  /** The bundle with one bit of byte `offset` flipped. */
  function flipped(offset: number): Buffer {
    const copy = Buffer.from(bundle);
    copy[offset]! ^= 0x01;
    return copy;
  }

  const blobOf = (position: number) =>
    bundleLayout(backup.manifest).byChunkId.get(backup.manifest.index.chunks[position]!.chunkId)!;

  it('restores an image with a repeated chunk byte for byte', () => {
    const { chunks } = backup.manifest.index;
    expect(chunks).toHaveLength(4);
    expect(chunks[2]!.chunkId).toBe(chunks[0]!.chunkId);
    expect(blobOf(3).offset).toBe(blobOf(1).offset + blobOf(1).length);
    const run = decodeBundle(bundle);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(backup.secret.imageSha256);
    expect(Buffer.compare(readFileSync(run.outPath), Buffer.from(backup.image))).toBe(0);
  });

  it('restores a bundle over two epochs with a keys file from the escrow envelope', async () => {
    const other = await makeBackup(randomImage(3 * CHUNK + 17), {
      chunkSize: CHUNK,
      rotateEvery: 2,
    });
    const exported = await exportBackup(other, 'bundle-epochs', true);
    const bundlePath = path.join(exported.dir, 'epochs.custodian-bundle');
    writeFileSync(bundlePath, bundleBytes(other.manifest, other.blobs));
    const run = runDecoder([
      '--bundle',
      bundlePath,
      '--keys',
      exported.keysPath,
      '--out',
      exported.outPath,
    ]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(Buffer.compare(readFileSync(exported.outPath), Buffer.from(other.image))).toBe(0);
  });

  it('names the chunk whose blob was altered and leaves no output', () => {
    // The last chunk: positions 0 to 2 were already written to the partial file.
    const last = backup.manifest.index.chunks[3]!.chunkId;
    const run = decodeBundle(flipped(blobOf(3).offset + 100));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`chunk 3 (${last}) was tampered with or damaged`);
    expect(run.wroteNothing).toBe(true);

    const repeated = backup.manifest.index.chunks[0]!.chunkId;
    const header = decodeBundle(flipped(blobOf(0).offset + 6));
    expect(header.status).toBe(1);
    expect(header.stderr).toContain(`chunk 0 (${repeated}) was tampered with or damaged`);
    expect(header.wroteNothing).toBe(true);
  });

  it('refuses a manifest altered inside the bundle', () => {
    // createdAt is signed but has no structure to break: only the signature catches it.
    const at = bundle.indexOf('"createdAt":"', 9) + '"createdAt":"'.length;
    expect(at).toBeGreaterThan(9);
    const run = decodeBundle(flipped(at));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/signature does not verify/);
    expect(run.wroteNothing).toBe(true);

    const broken = decodeBundle(flipped(9));
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/manifest in the bundle .* is not JSON/);
  });

  it('refuses a bundle that was cut off, naming the first chunk that is not whole', () => {
    const { chunks } = backup.manifest.index;
    const short = decodeBundle(bundle.subarray(0, bundle.length - 100));
    expect(short.status).toBe(1);
    expect(short.stderr).toContain('cut off');
    expect(short.stderr).toContain('(100 bytes missing)');
    expect(short.stderr).toContain(`chunk 3 (${chunks[3]!.chunkId}) is not whole`);
    expect(short.wroteNothing).toBe(true);

    const second = blobOf(1);
    const cut = second.offset + Math.floor(second.length / 2);
    const middle = decodeBundle(bundle.subarray(0, cut));
    expect(middle.status).toBe(1);
    expect(middle.stderr).toContain(`(${bundle.length - cut} bytes missing)`);
    expect(middle.stderr).toContain(`chunk 1 (${chunks[1]!.chunkId}) is not whole`);
    expect(middle.wroteNothing).toBe(true);

    const trailer = decodeBundle(bundle.subarray(0, bundle.length - 5));
    expect(trailer.status).toBe(1);
    expect(trailer.stderr).toMatch(/cut off.*\(5 bytes missing\); its trailer is missing/);

    const manifest = decodeBundle(bundle.subarray(0, 200));
    expect(manifest.status).toBe(1);
    expect(manifest.stderr).toContain('cut off inside its manifest');
  });

  it('refuses bytes after the end and a bundle without its trailer', () => {
    const longer = decodeBundle(Buffer.concat([bundle, Buffer.alloc(7)]));
    expect(longer.status).toBe(1);
    expect(longer.stderr).toContain('has 7 bytes after its end');
    expect(longer.wroteNothing).toBe(true);

    const magic = decodeBundle(flipped(bundle.length - 12));
    expect(magic.status).toBe(1);
    expect(magic.stderr).toContain('does not end with its trailer');
    const length = decodeBundle(flipped(bundle.length - 1));
    expect(length.status).toBe(1);
    expect(length.stderr).toContain('does not end with its trailer');
    expect(length.wroteNothing).toBe(true);
  });

  it('refuses a file that is not a bundle, or of another version', () => {
    const manifestFile = decodeBundle(readFileSync(paths.manifestPath));
    expect(manifestFile.status).toBe(1);
    expect(manifestFile.stderr).toContain(
      'is not a Custodian bundle (it does not start with "CSTB")',
    );
    const empty = decodeBundle(new Uint8Array(0));
    expect(empty.status).toBe(1);
    expect(empty.stderr).toContain('does not start with "CSTB"');

    const version = Buffer.from(bundle);
    version[4] = 2;
    const run = decodeBundle(version);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('has version 2; this decoder reads version 1');
  });

  it('refuses an index whose repeated chunk ID names two different blobs', async () => {
    const { index } = backup.manifest;
    const chunks = index.chunks.map((entry) => ({ ...entry }));
    chunks[2]!.epoch += 1;
    const epoch = Math.max(...backup.keys.dataKeys.keys());
    const forged = await signManifest(
      await buildManifest({ ...index, chunks }, backup.secret, {
        dataKey: backup.keys.dataKeys.get(epoch)!,
        epoch,
      }),
      backup.deviceKeyPair.privateKey,
    );
    // Laid out by hand: the core refuses to lay out such an index.
    const manifestBytes = serializeManifest(forged);
    const head = Buffer.alloc(9);
    head.write('CSTB', 'latin1');
    head[4] = 1;
    head.writeUInt32BE(manifestBytes.length, 5);
    const body = Buffer.concat([
      head,
      manifestBytes,
      ...[0, 1, 3].map((position) => backup.blobs.get(chunks[position]!.chunkId)!),
    ]);
    const trailer = Buffer.alloc(12);
    trailer.write('CSTE', 'latin1');
    trailer.writeBigUInt64BE(BigInt(body.length + 12), 4);
    const run = decodeBundle(Buffer.concat([body, trailer]));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      `names chunk ${chunks[0]!.chunkId} at positions 0 and 2 with different`,
    );
    expect(run.wroteNothing).toBe(true);
  });

  it('explains its usage when --bundle comes with --manifest or --chunks, or alone', () => {
    const out = path.join(workDir, 'never-bundle.img');
    for (const extra of [
      ['--chunks', paths.chunks],
      ['--manifest', paths.manifestPath],
    ]) {
      const run = runDecoder([
        '--bundle',
        path.join(paths.dir, 'any.custodian-bundle'),
        ...extra,
        '--keys',
        paths.keysPath,
        '--out',
        out,
      ]);
      expect(run.status).toBe(2);
      expect(run.stderr).toContain('--bundle replaces --manifest and --chunks');
      expect(run.stderr).toContain('Usage: npm run decode');
    }
    const alone = runDecoder(['--bundle', 'b', '--keys', paths.keysPath]);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toMatch(/missing --out\n/);
    expect(existsSync(out)).toBe(false);
  });
});
