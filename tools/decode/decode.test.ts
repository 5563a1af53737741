/**
 * The independent decoder restores what src/core backed up, byte for byte,
 * reading only files laid out as docs/FORMAT.md says, and stops with a clear
 * message naming the chunk when one is damaged.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '../../src/core/crypto/bytes';
import { CHUNK_SIZE } from '../../src/core/crypto/constants';
import { exportPublicKeySpki } from '../../src/core/crypto/device-key';
import { sealEnvelope } from '../../src/core/crypto/envelope';
import { generateEnvelopeKeyPair } from '../../src/core/crypto/envelope-key';
import { createKeysFile } from '../../src/core/crypto/keys-file';
import { exportRawKey } from '../../src/core/crypto/keys';
import { serializeManifest } from '../../src/core/crypto/manifest';
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
