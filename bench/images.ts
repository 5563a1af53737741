/**
 * The benchmark's test images, made once in bench/.work and reused while
 * their recipe is unchanged: random data from a deterministic generator
 * (the AES-128-CTR keystream of a fixed key, i.e. incompressible and the
 * same bytes on every machine), streamed to disk, and an ext4 image filled
 * with files by mkfs.ext4 -d.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';

export const MiB = 1024 * 1024;
const ENV = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, LC_ALL: 'C' };

export interface BenchImage {
  /** Short name used in tables and results.json. */
  readonly name: string;
  readonly path: string;
  readonly size: number;
  readonly description: string;
}

/** `bytes` bytes of the deterministic stream `seed`, as a readable stream of 1 MiB pieces. */
function randomStream(seed: string, bytes: number): Readable {
  const key = createHash('sha256').update(`custodian-bench:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  let left = bytes;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, MiB);
      left -= n;
      this.push(cipher.update(n === MiB ? zeros : zeros.subarray(0, n)));
    },
  });
}

export async function writeRandomFile(file: string, seed: string, bytes: number): Promise<void> {
  await pipeline(randomStream(seed, bytes), fs.createWriteStream(file));
}

function stampOk(file: string, recipe: string): boolean {
  try {
    return fs.readFileSync(`${file}.recipe`, 'utf8') === recipe && fs.existsSync(file);
  } catch {
    return false;
  }
}

async function made(file: string, recipe: string, make: () => Promise<void>): Promise<void> {
  if (stampOk(file, recipe)) return;
  fs.rmSync(`${file}.recipe`, { force: true });
  await make();
  fs.writeFileSync(`${file}.recipe`, recipe);
}

export async function randomImage(
  workDir: string,
  name: string,
  bytes: number,
): Promise<BenchImage> {
  const file = path.join(workDir, `${name}.img`);
  await made(file, `random v1 ${bytes}`, () => writeRandomFile(file, name, bytes));
  const size = bytes >= 1024 * MiB ? `${bytes / (1024 * MiB)} GiB` : `${bytes / MiB} MiB`;
  return { name, path: file, size: bytes, description: `${size} of random data` };
}

/**
 * An ext4 image of `sizeMiB` filled by mkfs.ext4 -d with a tree like a
 * disk's: random (incompressible) files of assorted sizes, text-like files,
 * a few files repeated in two folders, and free space.
 */
export async function ext4Image(
  workDir: string,
  name: string,
  sizeMiB: number,
): Promise<BenchImage> {
  const file = path.join(workDir, `${name}.img`);
  const recipe = `ext4 v1 ${sizeMiB}`;
  await made(file, recipe, async () => {
    const tree = path.join(workDir, `${name}-files`);
    fs.rmSync(tree, { recursive: true, force: true });
    const budget = Math.floor(sizeMiB * 0.75) * MiB;
    let used = 0;
    let n = 0;
    // Sizes cycle through small and large files, like photos, documents and archives.
    const sizes = [
      3 * MiB,
      40 * 1024,
      700 * 1024,
      11 * MiB,
      150 * 1024,
      6 * MiB,
      8 * 1024,
      1536 * 1024,
    ];
    while (used < budget * 0.8) {
      const size = sizes[n % sizes.length]!;
      const folder = path.join(tree, `dir${n % 7}`, `sub${n % 3}`);
      fs.mkdirSync(folder, { recursive: true });
      await writeRandomFile(path.join(folder, `file${n}.bin`), `${name}-${n}`, size);
      used += size;
      n += 1;
    }
    // Text-like files: compressible, repetitive.
    const docs = path.join(tree, 'docs');
    fs.mkdirSync(docs, { recursive: true });
    for (let i = 0; used < budget * 0.95; i++) {
      const line = `Line ${i} of a report on volume custodian bench, nothing secret here.\n`;
      const text = line.repeat(Math.ceil((256 * 1024) / line.length));
      fs.writeFileSync(path.join(docs, `report${i}.txt`), text);
      used += text.length;
    }
    // A copy of a folder: the same file contents twice.
    fs.cpSync(path.join(tree, 'dir0'), path.join(tree, 'copy-of-dir0'), { recursive: true });
    fs.rmSync(file, { force: true });
    execFileSync(
      'mkfs.ext4',
      [
        '-q',
        '-F',
        '-L',
        'BENCH',
        '-U',
        '6a0c4b1e-1d2f-4c3b-9a8e-0b1c2d3e4f50',
        '-E',
        'hash_seed=0d1e2f30-4a5b-4c6d-8e7f-901a2b3c4d5e',
        '-d',
        tree,
        file,
        `${sizeMiB}M`,
      ],
      { env: { ...ENV, E2FSPROGS_FAKE_TIME: '1700000000' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    fs.rmSync(tree, { recursive: true, force: true });
  });
  return {
    name,
    path: file,
    size: fs.statSync(file).size,
    description: `ext4 of ${sizeMiB} MiB filled with files by mkfs.ext4 -d`,
  };
}

export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.alloc(8 * MiB);
  try {
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}
