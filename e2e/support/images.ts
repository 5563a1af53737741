/**
 * Media images for the backup stories, made with Debian's tools in a
 * temporary directory (SPEC §7: genisoimage, mkfs.ext4 -d, mkfs.fat + mcopy;
 * never mounted), with what blkid reports about each, so a test can hold the
 * console's "Volume ID" to the system's own tools.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ENV = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, LC_ALL: 'C' };
export const MiB = 1024 * 1024;

export interface TestImage {
  readonly path: string;
  /** The volume ID the console must show, from blkid's view of the file. */
  readonly volumeId: string;
  readonly size: number;
}

function run(tool: string, args: string[]): void {
  execFileSync(tool, args, { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `blkid -p -o export`: what the system says the file is. */
export function blkid(path: string): Record<string, string> {
  const { stdout } = spawnSync('blkid', ['-p', '-o', 'export', path], {
    env: ENV,
    encoding: 'utf8',
  });
  return Object.fromEntries(
    stdout
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** The `Volume id:` line of `isoinfo -d`. */
export function isoinfoVolumeId(path: string): string {
  const text = execFileSync('isoinfo', ['-d', '-i', path], { env: ENV, encoding: 'utf8' });
  return /^Volume id: (.*)$/m.exec(text)?.[1] ?? '';
}

export class ImageWorkshop {
  #dir: string | undefined;

  /** The temporary folder, made on first use (a spec file is loaded even when its tests do not run). */
  get dir(): string {
    this.#dir ??= mkdtempSync(join(tmpdir(), 'custodian-e2e-images-'));
    return this.#dir;
  }

  /** A folder of files to put into an image: some random data (so no run of it is common). */
  private files(name: string, randomMiB: number): string {
    const folder = join(this.dir, `${name}-files`);
    mkdirSync(folder, { recursive: true });
    writeLarge(join(folder, 'data.bin'), randomMiB * MiB);
    execFileSync('sh', ['-c', `printf 'Custodian end-to-end volume %s\\n' ${name} > readme.txt`], {
      cwd: folder,
    });
    return folder;
  }

  iso(label: string, randomMiB = 6): TestImage {
    const path = join(this.dir, `${label}.iso`);
    run('genisoimage', [
      '-quiet',
      '-input-charset',
      'utf-8',
      '-V',
      label,
      '-o',
      path,
      this.files(label, randomMiB),
    ]);
    const info = blkid(path);
    return { path, volumeId: `iso9660:${info.LABEL}:${info.UUID}`, size: sizeOf(path) };
  }

  ext4(label: string, sizeMiB = 16, randomMiB = 6): TestImage {
    const path = join(this.dir, `${label}.img`);
    sparse(path, sizeMiB * MiB);
    run('mkfs.ext4', ['-q', '-F', '-L', label, '-d', this.files(label, randomMiB), path]);
    const info = blkid(path);
    return { path, volumeId: `ext4:${info.UUID}`, size: sizeOf(path) };
  }

  fat(label: string, sizeMiB = 16, randomMiB = 6): TestImage {
    const path = join(this.dir, `${label}.img`);
    run('mkfs.fat', ['-C', '-n', label, path, String(sizeMiB * 1024)]);
    const folder = this.files(label, randomMiB);
    run('mcopy', ['-i', path, join(folder, 'data.bin'), join(folder, 'readme.txt'), '::/']);
    const info = blkid(path);
    return { path, volumeId: `vfat:${info.LABEL}:${info.UUID}`, size: sizeOf(path) };
  }

  /** Random bytes: no structure, so its ID is `content:` + a hash of its ends. */
  random(name: string, size: number): Omit<TestImage, 'volumeId'> {
    const path = join(this.dir, name);
    writeLarge(path, size);
    return { path, size };
  }

  /** Overwrites `length` bytes at `offset` with new random bytes (a changed image). */
  change(path: string, offset: number, length: number): void {
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, randomBytes(length), 0, length, offset);
    } finally {
      closeSync(fd);
    }
  }

  remove(): void {
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}

function writeLarge(path: string, size: number): void {
  const fd = openSync(path, 'w');
  try {
    for (let offset = 0; offset < size; offset += MiB) {
      const length = Math.min(MiB, size - offset);
      writeSync(fd, randomBytes(length), 0, length, offset);
    }
  } finally {
    closeSync(fd);
  }
}

function sparse(path: string, size: number): void {
  run('truncate', ['-s', String(size), path]);
}

function sizeOf(path: string): number {
  return Number(execFileSync('stat', ['-c', '%s', path], { encoding: 'utf8' }).trim());
}

/** SHA-256 of a file, hex, read in one go (test images are small enough). */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(8 * MiB);
    let position = 0;
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, position);
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
      position += read;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

const BLOCK = 32;

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

/** The first offset from `from` whose word has its bit set in `filter`, or -1. */
function nextCandidate(bytes: Uint8Array, filter: Uint8Array, from: number): number {
  const end = bytes.length - BLOCK;
  for (let at = from; at <= end; at++) {
    const bit =
      ((bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>>
        0) >>>
      (32 - FILTER_BITS);
    if ((filter[bit >>> 3]! & (1 << (bit & 7))) !== 0) return at;
  }
  return -1;
}

/** File times are compared with this much room for coarse clocks. */
const MTIME_SLACK_MS = 2_000;

/** Bits of a block's first word that pick its place in the quick filter (2^27 bits: 16 MiB). */
const FILTER_BITS = 27;

/**
 * Files under `dir` holding a 64-byte run of the image's plaintext. Any such
 * run contains a whole 32-byte block at a multiple of 32 in the image, so the
 * image's blocks are indexed (those with at least 24 distinct byte values, so
 * zero fill, padding and labels that are meant to be public do not count)
 * and every offset of every file is looked up; a 32-byte match is reported,
 * which is stricter than a 64-byte one. Only files written since the image
 * was made are read (none older can hold its bytes), and a bit set by each
 * indexed block's first word lets almost every offset be passed over
 * without a look in the index.
 */
export function plaintextLeaks(imagePath: string, dir: string): string[] {
  const image = readFileSync(imagePath);
  const blocks = new Map<number, number[]>();
  const filter = new Uint8Array(1 << (FILTER_BITS - 3));
  for (let offset = 0; offset + BLOCK <= image.length; offset += BLOCK) {
    const block = image.subarray(offset, offset + BLOCK);
    if (new Set(block).size < 24) continue;
    const key = block.readUInt32LE(0);
    const bit = key >>> (32 - FILTER_BITS);
    filter[bit >>> 3]! |= 1 << (bit & 7);
    const list = blocks.get(key);
    if (list) list.push(offset);
    else blocks.set(key, [offset]);
  }
  // The image's bytes exist only since it was made: a file last written before cannot hold them.
  const madeAt = statSync(imagePath).mtimeMs - MTIME_SLACK_MS;
  const leaks: string[] = [];
  for (const file of filesUnder(dir)) {
    const { size, mtimeMs } = statSync(file);
    if (size < BLOCK || mtimeMs < madeAt) continue;
    const data = readFileSync(file);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
    for (
      let at = nextCandidate(bytes, filter, 0);
      at >= 0;
      at = nextCandidate(bytes, filter, at + 1)
    ) {
      const key = data.readUInt32LE(at);
      const match = (blocks.get(key) ?? []).find(
        (offset) => data.compare(image, offset, offset + BLOCK, at, at + BLOCK) === 0,
      );
      if (match !== undefined) {
        leaks.push(`${file} @${at} = image @${match}`);
        break;
      }
    }
  }
  return leaks;
}
