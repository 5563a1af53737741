/**
 * BK-2 against real images: every image is made here with Debian's tools
 * (never mounted) and what detectVolumeId says is checked against what
 * `blkid -p` and `isoinfo -d` say about the same file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ByteSource, VolumeIdentity } from './index';
import { detectVolumeId } from './index';

/** Tool → the Debian package that ships it. */
const TOOLS: Record<string, string> = {
  genisoimage: 'genisoimage',
  isoinfo: 'genisoimage',
  blkid: 'util-linux',
  sgdisk: 'gdisk',
  sfdisk: 'fdisk',
  'mkfs.ext2': 'e2fsprogs',
  'mkfs.ext3': 'e2fsprogs',
  'mkfs.ext4': 'e2fsprogs',
  'mkfs.fat': 'dosfstools',
  mcopy: 'mtools',
};
const ENV = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, LC_ALL: 'C' };
const KiB = 1024;
const MiB = 1024 * KiB;
/** Filesystem and partition-table kinds read only small structures. */
const STRUCTURE_READ_LIMIT = 64 * KiB;

let dir = '';
let files = '';

beforeAll(() => {
  const missing = Object.entries(TOOLS).filter(
    ([tool]) => spawnSync('sh', ['-c', `command -v ${tool}`], { env: ENV }).status !== 0,
  );
  if (missing.length > 0) {
    const list = missing.map(([tool, pkg]) => `${tool} (Debian package ${pkg})`).join(', ');
    const packages = [...new Set(missing.map(([, pkg]) => pkg))].join(' ');
    throw new Error(`Missing image tools: ${list}. Install them: apt-get install ${packages}`);
  }
  dir = mkdtempSync(join(tmpdir(), 'custodian-volume-'));
  files = join(dir, 'files');
  mkdirSync(files);
  writeFileSync(join(files, 'readme.txt'), 'Custodian test volume\n');
  writeFileSync(
    join(files, 'data.bin'),
    new Uint8Array(5000).map((_, i) => i % 251),
  );
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(tool: string, args: string[], input?: string): void {
  execFileSync(tool, args, { env: ENV, input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function image(name: string): string {
  return join(dir, name);
}

function sparse(name: string, size: number): string {
  const path = image(name);
  writeFileSync(path, '');
  truncateSync(path, size);
  return path;
}

function patch(path: string, offset: number, bytes: ArrayLike<number>): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Uint8Array.from(bytes), 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

function bytesAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const out = Buffer.alloc(length);
    readSync(fd, out, 0, length, offset);
    return out;
  } finally {
    closeSync(fd);
  }
}

function ascii(text: string): number[] {
  return [...text].map((c) => c.charCodeAt(0));
}

/** Raw bytes as text the way the detector documents it: UTF-8 when valid, else Latin-1. */
function verbatim(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return Buffer.from(bytes).toString('latin1');
  }
}

/** `blkid -p -d -o export`: probe the file itself, values raw (no M- or ^ encoding). */
function blkid(path: string): Record<string, string> {
  const { stdout } = spawnSync('blkid', ['-p', '-d', '-o', 'export', path], { env: ENV });
  const out: Record<string, string> = {};
  let start = 0;
  while (start < stdout.length) {
    const end = stdout.indexOf(0x0a, start) === -1 ? stdout.length : stdout.indexOf(0x0a, start);
    const line = stdout.subarray(start, end);
    const eq = line.indexOf(0x3d);
    if (eq > 0) out[line.subarray(0, eq).toString('latin1')] = verbatim(line.subarray(eq + 1));
    start = end + 1;
  }
  return out;
}

function isoinfo(path: string): Record<string, string> {
  const text = execFileSync('isoinfo', ['-d', '-i', path], { env: ENV }).toString('utf8');
  const value = (prefix: string) =>
    text
      .split('\n')
      .find((l) => l.startsWith(prefix))
      ?.slice(prefix.length)
      .trim() ?? '';
  return {
    volumeId: value('Volume id:'),
    blockSize: value('Logical block size is:'),
    volumeSize: value('Volume size is:'),
  };
}

interface Detection {
  identity: VolumeIdentity;
  bytesRead: number;
}

/** Detects from a file through a ByteSource that counts what it is asked for. */
async function detect(path: string): Promise<Detection> {
  const fd = openSync(path, 'r');
  let bytesRead = 0;
  const source: ByteSource = {
    size: fstatSync(fd).size,
    async read(offset, length) {
      bytesRead += length;
      const out = Buffer.alloc(length);
      const n = readSync(fd, out, 0, length, offset);
      return new Uint8Array(out.buffer, out.byteOffset, n);
    },
  };
  try {
    return { identity: await detectVolumeId(source), bytesRead };
  } finally {
    closeSync(fd);
  }
}

function expectContentId(identity: VolumeIdentity): void {
  expect(identity.kind).toBe('content');
  expect(identity.volumeId).toMatch(/^content:[0-9a-f]{64}$/);
}

/** The creation date straight from the primary volume descriptor (ECMA-119 §8.4.26). */
function pvdCreationDate(path: string): string {
  const d = bytesAt(path, 32768 + 813, 16).toString('latin1');
  return [0, 4, 6, 8, 10, 12, 14].map((at, i, all) => d.slice(at, all[i + 1] ?? 16)).join('-');
}

describe('ISO 9660', () => {
  function makeIso(name: string, label: string, extra: string[] = []): string {
    const path = image(name);
    run('genisoimage', [
      '-quiet',
      '-input-charset',
      'utf-8',
      ...extra,
      '-V',
      label,
      '-o',
      path,
      files,
    ]);
    return path;
  }

  it('reads the volume identifier and creation date as blkid and isoinfo report them', async () => {
    const path = makeIso('plain.iso', 'CUSTODIAN_TEST');
    const { identity, bytesRead } = await detect(path);
    const b = blkid(path);
    const info = isoinfo(path);
    const created = pvdCreationDate(path);

    expect(b.TYPE).toBe('iso9660');
    expect(identity.kind).toBe('iso9660');
    expect(identity.label).toBe(b.LABEL);
    expect(identity.label).toBe(info.volumeId);
    expect(identity.volumeId).toBe(`iso9660:CUSTODIAN_TEST:${created}`);
    expect(identity.details.creationDate).toBe(created);
    expect(identity.details.uuid).toBe(b.UUID);
    expect(identity.details.blockSize).toBe(info.blockSize);
    expect(identity.details.volumeBlocks).toBe(info.volumeSize);
    expect(created).toMatch(/^\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-\d\d$/);
    expect(bytesRead).toBeLessThanOrEqual(STRUCTURE_READ_LIMIT);
  });

  it('keeps a label with spaces and lower case verbatim, with and without Joliet', async () => {
    for (const [name, extra] of [
      ['mixed.iso', []],
      ['mixed-joliet.iso', ['-J', '-r']],
    ] as const) {
      const path = makeIso(name, 'my Backup 2026', [...extra]);
      const { identity } = await detect(path);
      expect(blkid(path).LABEL).toBe('my Backup 2026');
      expect(isoinfo(path).volumeId).toBe('my Backup 2026');
      expect(identity.label).toBe('my Backup 2026');
      expect(identity.volumeId).toBe(`iso9660:my Backup 2026:${pvdCreationDate(path)}`);
    }
  });

  it('reads non-ASCII labels as blkid does, from Joliet or from raw UTF-8', async () => {
    for (const [name, extra] of [
      ['utf8-joliet.iso', ['-J']],
      ['utf8.iso', []],
    ] as const) {
      const path = makeIso(name, 'Café Ünïcode', [...extra]);
      const { identity } = await detect(path);
      expect(blkid(path).LABEL).toBe('Café Ünïcode');
      expect(identity.label).toBe('Café Ünïcode');
    }
  });

  it('merges a 16-character Joliet label with a longer primary one as blkid does', async () => {
    const path = makeIso('long.iso', 'A long Volume label, 24ch', ['-J']);
    const { identity } = await detect(path);
    expect(blkid(path).LABEL).toBe('A long Volume label, 24ch');
    expect(identity.label).toBe('A long Volume label, 24ch');
  });

  it('takes the Joliet spelling where the primary descriptor has capitals', async () => {
    const path = makeIso('case.iso', 'my Label', ['-J']);
    patch(path, 32768 + 40, ascii('MY LABEL'));
    const { identity } = await detect(path);
    expect(blkid(path).LABEL).toBe('my Label');
    expect(identity.label).toBe('my Label');
  });

  it('uses the creation date even when the modification date differs (blkid UUID uses the latter)', async () => {
    const path = makeIso('modified.iso', 'DATES');
    const created = pvdCreationDate(path);
    patch(path, 32768 + 830, ascii('2031020304050607'));
    const { identity } = await detect(path);
    expect(blkid(path).UUID).toBe('2031-02-03-04-05-06-07');
    expect(identity.details.uuid).toBe('2031-02-03-04-05-06-07');
    expect(identity.volumeId).toBe(`iso9660:DATES:${created}`);
  });

  it('is iso9660:LABEL without a creation date, iso9660::DATE without a label', async () => {
    const undated = makeIso('undated.iso', 'NODATE');
    patch(undated, 32768 + 813, [...ascii('0000000000000000'), 0]);
    expect((await detect(undated)).identity.volumeId).toBe('iso9660:NODATE');

    const unlabelled = makeIso('unlabelled.iso', 'X');
    patch(unlabelled, 32768 + 40, ascii(' '.repeat(32)));
    const { identity } = await detect(unlabelled);
    expect(blkid(unlabelled).LABEL).toBeUndefined();
    expect(identity.label).toBeUndefined();
    expect(identity.volumeId).toBe(`iso9660::${pvdCreationDate(unlabelled)}`);
  });

  it('falls through to content: when neither label nor creation date is present', async () => {
    const path = makeIso('anonymous.iso', 'X');
    patch(path, 32768 + 40, ascii(' '.repeat(32)));
    patch(path, 32768 + 813, [...ascii('0000000000000000'), 0]);
    expectContentId((await detect(path)).identity);
  });

  it('detects a hybrid ISO (MBR in the system area) as ISO, not MBR', async () => {
    const path = makeIso('hybrid.iso', 'HYBRID', ['-J']);
    run(
      'sfdisk',
      ['-q', '--no-reread', '-f', path],
      'label: dos\nlabel-id: 0xcafef00d\nstart=64, type=17, bootable\n',
    );
    const b = blkid(path);
    expect(b.PTTYPE).toBe('dos');
    expect(b.PTUUID).toBe('cafef00d');
    const { identity } = await detect(path);
    expect(identity.kind).toBe('iso9660');
    expect(identity.volumeId).toBe(`iso9660:HYBRID:${pvdCreationDate(path)}`);
  });
});

describe('GPT', () => {
  function makeGpt(name: string, args: string[]): string {
    const path = sparse(name, 8 * MiB);
    run('sgdisk', ['-o', ...args, path]);
    return path;
  }

  it('reads the disk GUID as blkid reports PTUUID', async () => {
    const path = makeGpt('disk.img', ['-n', '1:2048:+2M', '-n', '2:0:0']);
    const b = blkid(path);
    const { identity, bytesRead } = await detect(path);
    expect(b.PTTYPE).toBe('gpt');
    expect(identity).toEqual({
      kind: 'gpt',
      volumeId: `gpt:${b.PTUUID}`,
      details: { uuid: b.PTUUID, sectorSize: '512', partitions: '2', header: 'primary' },
    });
    expect(bytesRead).toBeLessThanOrEqual(STRUCTURE_READ_LIMIT);
  });

  it('writes an explicitly set disk GUID in lower case', async () => {
    const path = makeGpt('guid.img', [
      '--disk-guid=12345678-9ABC-DEF0-1234-56789ABCDEF0',
      '-n',
      '1:0:0',
    ]);
    expect(blkid(path).PTUUID).toBe('12345678-9abc-def0-1234-56789abcdef0');
    expect((await detect(path)).identity.volumeId).toBe('gpt:12345678-9abc-def0-1234-56789abcdef0');
  });

  it('falls back to the backup header when the primary one is damaged, as blkid does', async () => {
    const path = makeGpt('damaged.img', [
      '--disk-guid=0A0B0C0D-0000-4000-8000-000000000001',
      '-n',
      '1:0:0',
    ]);
    patch(path, 512, new Uint8Array(512));
    expect(blkid(path).PTUUID).toBe('0a0b0c0d-0000-4000-8000-000000000001');
    const { identity } = await detect(path);
    expect(identity.volumeId).toBe('gpt:0a0b0c0d-0000-4000-8000-000000000001');
    expect(identity.details.header).toBe('backup');
  });

  it('never lets the protective MBR win, even with a disk signature and no usable header', async () => {
    const path = makeGpt('pmbr.img', ['-n', '1:0:0']);
    patch(path, 440, [0x78, 0x56, 0x34, 0x12]);
    expect((await detect(path)).identity.kind).toBe('gpt');

    patch(path, 512 + 16, [0, 0, 0, 0]);
    patch(path, 8 * MiB - 512 + 16, [0, 0, 0, 0]);
    // blkid now sees only a protective MBR ("PMBR"), with no PTUUID.
    expect(blkid(path).PTUUID).toBeUndefined();
    expect(blkid(path).PTTYPE).not.toMatch(/^(gpt|dos)$/);
    expectContentId((await detect(path)).identity);
  });

  it('treats an all-zero disk GUID as absent and falls through to content:', async () => {
    const path = makeGpt('zero.img', [
      '--disk-guid=00000000-0000-0000-0000-000000000000',
      '-n',
      '1:0:0',
    ]);
    expect(blkid(path).PTUUID).toBeUndefined();
    expectContentId((await detect(path)).identity);
  });

  it('reads a GPT with 4096-byte sectors', async () => {
    const path = image('4kn.img');
    writeFileSync(path, gpt4kn(16 * MiB, 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b'));
    expect((await detect(path)).identity).toEqual({
      kind: 'gpt',
      volumeId: 'gpt:f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b',
      details: {
        uuid: 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b',
        sectorSize: '4096',
        partitions: '1',
        header: 'primary',
      },
    });
  });

  it('refuses a partition array larger than 1 MiB without reading it', async () => {
    const path = image('huge-array.img');
    writeFileSync(path, gpt4kn(16 * MiB, 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b', 0x1000_0000));
    const { identity, bytesRead } = await detect(path);
    expectContentId(identity);
    expect(bytesRead).toBeLessThanOrEqual(2 * MiB + 64 * KiB);
  });
});

/**
 * A GPT disk with 4096-byte logical sectors (UEFI 2.10 §5.3), built by hand
 * since sgdisk on a plain file assumes 512-byte sectors. CRCs come from zlib.
 */
function gpt4kn(size: number, guid: string, entryCount = 128): Uint8Array {
  const sector = 4096;
  const disk = new Uint8Array(size);
  const view = new DataView(disk.buffer);
  const lastLba = size / sector - 1;
  // Protective MBR: one 0xEE partition from LBA 1 (UEFI 2.10 §5.2.3).
  disk[446 + 4] = 0xee;
  view.setUint32(446 + 8, 1, true);
  view.setUint32(446 + 12, lastLba, true);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  // One Linux filesystem partition in the entry array at LBA 2.
  const entries = disk.subarray(2 * sector, 2 * sector + 128 * 128);
  entries.set(guidBytes('0fc63daf-8483-4772-8e79-3d69d8477de4'), 0);
  entries.set(guidBytes('11111111-2222-3333-4444-555555555555'), 16);
  const h = 1 * sector;
  disk.set(ascii('EFI PART'), h);
  view.setUint32(h + 8, 0x0001_0000, true);
  view.setUint32(h + 12, 92, true);
  view.setBigUint64(h + 24, 1n, true);
  view.setBigUint64(h + 32, BigInt(lastLba), true);
  view.setBigUint64(h + 40, 6n, true);
  view.setBigUint64(h + 48, BigInt(lastLba - 5), true);
  disk.set(guidBytes(guid), h + 56);
  view.setBigUint64(h + 72, 2n, true);
  view.setUint32(h + 80, entryCount, true);
  view.setUint32(h + 84, 128, true);
  view.setUint32(h + 88, crc32(entries), true);
  view.setUint32(h + 16, crc32(disk.subarray(h, h + 92)), true);
  return disk;
}

function guidBytes(guid: string): Uint8Array {
  const b = Buffer.from(guid.replaceAll('-', ''), 'hex');
  return Uint8Array.from([b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], ...b.subarray(8)]);
}

describe('ext2, ext3, ext4', () => {
  function makeExt(kind: 'ext2' | 'ext3' | 'ext4', name: string, args: string[]): string {
    const path = sparse(name, 8 * MiB);
    run(`mkfs.${kind}`, ['-q', '-F', '-d', files, ...args, path]);
    return path;
  }

  for (const kind of ['ext2', 'ext3', 'ext4'] as const) {
    it(`reads the ${kind} superblock UUID and label as blkid does`, async () => {
      const uuid = `0123abcd-4567-489a-8bcd-ef01234567${kind.slice(-1)}0`;
      const path = makeExt(kind, `${kind}.img`, ['-L', `Data ${kind}`, '-U', uuid]);
      const b = blkid(path);
      const { identity, bytesRead } = await detect(path);
      expect(b.TYPE).toBe(kind);
      expect(identity.kind).toBe(kind);
      expect(identity.volumeId).toBe(`${kind}:${b.UUID}`);
      expect(identity.details.uuid).toBe(uuid);
      expect(identity.label).toBe(b.LABEL);
      expect(identity.label).toBe(`Data ${kind}`);
      expect(identity.details.version).toBe(b.VERSION);
      expect(bytesRead).toBeLessThanOrEqual(STRUCTURE_READ_LIMIT);
    });
  }

  it('keeps a UTF-8 label verbatim and leaves out an absent one', async () => {
    const labelled = makeExt('ext4', 'utf8.img', ['-L', 'Données']);
    expect(blkid(labelled).LABEL).toBe('Données');
    expect((await detect(labelled)).identity.label).toBe('Données');

    const bare = makeExt('ext4', 'bare.img', []);
    const { identity } = await detect(bare);
    expect(blkid(bare).LABEL).toBeUndefined();
    expect(identity.label).toBeUndefined();
    expect(identity.volumeId).toBe(`ext4:${blkid(bare).UUID}`);
  });

  it('treats an all-zero UUID as absent: mkfs -U clear, or zeroed by editing', async () => {
    const cleared = makeExt('ext4', 'cleared.img', ['-U', 'clear', '-L', 'zero']);
    expect(blkid(cleared).UUID).toBeUndefined();
    expectContentId((await detect(cleared)).identity);

    const edited = makeExt('ext2', 'edited.img', ['-L', 'zero']);
    patch(edited, 1024 + 0x68, new Uint8Array(16));
    expect(blkid(edited).TYPE).toBe('ext2');
    expect(blkid(edited).UUID).toBeUndefined();
    expectContentId((await detect(edited)).identity);
  });

  it('still identifies an ext4 volume whose superblock checksum no longer matches', async () => {
    const uuid = 'c0ffee00-1234-4abc-8def-000000000042';
    const path = makeExt('ext4', 'badsum.img', ['-L', 'before', '-U', uuid]);
    patch(path, 1024 + 0x78, ascii('after!'));
    const { identity } = await detect(path);
    expect(identity.volumeId).toBe(`ext4:${uuid}`);
    expect(identity.label).toBe('after!');
  });

  it('falls back to content: for a truncated superblock', async () => {
    const whole = makeExt('ext4', 'whole.img', []);
    const path = image('truncated-ext.img');
    writeFileSync(path, readFileSync(whole).subarray(0, 1500));
    expectContentId((await detect(path)).identity);
  });
});

describe('FAT12, FAT16, FAT32', () => {
  function makeFat(name: string, kib: number, args: string[]): string {
    const path = image(name);
    rmSync(path, { force: true });
    run('mkfs.fat', ['-C', ...args, path, String(kib)]);
    run('mcopy', ['-i', path, join(files, 'readme.txt'), '::/']);
    return path;
  }

  /** Byte offset of the FAT12/16 root directory, from the BPB (fatgen103 §6). */
  function rootDirOffset(path: string): number {
    const bs = bytesAt(path, 0, 64);
    return (bs.readUInt16LE(14) + bs[16]! * bs.readUInt16LE(22)) * bs.readUInt16LE(11);
  }

  const cases = [
    { fat: '12', kib: 1440, label: 'FLOPPY', serial: '1A2B3C12' },
    { fat: '16', kib: 16 * 1024, label: 'Lab 16', serial: '1A2B3C16' },
    { fat: '32', kib: 34 * 1024, label: 'lab32', serial: 'DEADBEEF' },
  ];
  for (const { fat, kib, label, serial } of cases) {
    it(`reads the FAT${fat} serial and label as blkid does`, async () => {
      const path = makeFat(`fat${fat}.img`, kib, ['-F', fat, '-s', '1', '-n', label, '-i', serial]);
      const b = blkid(path);
      const { identity, bytesRead } = await detect(path);
      const uuid = `${serial.slice(0, 4)}-${serial.slice(4)}`;
      expect(b.TYPE).toBe('vfat');
      expect(b.UUID).toBe(uuid);
      expect(b.LABEL).toBe(label);
      expect(identity.kind).toBe('vfat');
      expect(identity.volumeId).toBe(`vfat:${label}:${uuid}`);
      expect(identity.label).toBe(b.LABEL);
      expect(identity.details.version).toBe(b.VERSION);
      expect(identity.details.bootLabel).toBe(b.LABEL_FATBOOT);
      expect(bytesRead).toBeLessThanOrEqual(STRUCTURE_READ_LIMIT);
    });
  }

  it('is vfat:SERIAL for a volume without a label', async () => {
    const path = makeFat('nolabel.img', 16 * 1024, ['-F', '16', '-i', '0000ABCD']);
    expect(blkid(path).LABEL).toBeUndefined();
    const { identity } = await detect(path);
    expect(identity.volumeId).toBe('vfat:0000-ABCD');
    expect(identity.label).toBeUndefined();
  });

  it('takes the root-directory label over the boot-sector one, as blkid does', async () => {
    const path = makeFat('relabelled.img', 16 * 1024, [
      '-F',
      '16',
      '-n',
      'ROOTLABEL',
      '-i',
      '12345678',
    ]);
    patch(path, 0x2b, ascii('BOOTLABEL  '));
    const b = blkid(path);
    expect([b.LABEL, b.LABEL_FATBOOT]).toEqual(['ROOTLABEL', 'BOOTLABEL']);
    const { identity } = await detect(path);
    expect(identity.volumeId).toBe('vfat:ROOTLABEL:1234-5678');
    expect(identity.details.bootLabel).toBe('BOOTLABEL');
  });

  it('has no label when only the boot sector carries one, as blkid (util-linux 2.38) has none', async () => {
    const path = makeFat('bootonly.img', 16 * 1024, ['-F', '16', '-n', 'GONE', '-i', '12345678']);
    patch(path, rootDirOffset(path), [0xe5]);
    const b = blkid(path);
    expect(b.LABEL).toBeUndefined();
    expect(b.LABEL_FATBOOT).toBe('GONE');
    const { identity } = await detect(path);
    expect(identity.volumeId).toBe('vfat:1234-5678');
    expect(identity.details.bootLabel).toBe('GONE');
  });

  it('treats an all-zero serial as absent and falls through to content:', async () => {
    const path = makeFat('zeroserial.img', 1440, ['-F', '12', '-n', 'ZERO', '-i', '00000000']);
    expect(blkid(path).TYPE).toBe('vfat');
    expect(blkid(path).UUID).toBeUndefined();
    expectContentId((await detect(path)).identity);
  });

  it('stops walking a FAT32 root directory whose cluster chain loops', async () => {
    const path = makeFat('loop32.img', 34 * 1024, [
      '-F',
      '32',
      '-s',
      '1',
      '-n',
      'LOOPY',
      '-i',
      'CAFE0001',
    ]);
    const bs = bytesAt(path, 0, 64);
    const sectorSize = bs.readUInt16LE(11);
    const reserved = bs.readUInt16LE(14);
    const dataStart = (reserved + bs[16]! * bs.readUInt32LE(36)) * sectorSize;
    // Every entry of the root cluster becomes a deleted one, and cluster 2 points to itself.
    const deleted = new Uint8Array(sectorSize);
    for (let at = 0; at < sectorSize; at += 32) deleted[at] = 0xe5;
    patch(path, dataStart, deleted);
    patch(path, reserved * sectorSize + 2 * 4, [2, 0, 0, 0]);

    const b = blkid(path);
    expect(b.LABEL).toBeUndefined();
    const { identity, bytesRead } = await detect(path);
    expect(identity.volumeId).toBe(`vfat:${b.UUID}`);
    expect(bytesRead).toBeLessThanOrEqual(STRUCTURE_READ_LIMIT + 16 * KiB);
  });
});

describe('MBR', () => {
  function makeMbr(name: string, size: number, script: string): string {
    const path = sparse(name, size);
    run('sfdisk', ['-q', path], script);
    return path;
  }

  it('reads the disk signature as blkid reports PTUUID', async () => {
    const path = makeMbr(
      'mbr.img',
      8 * MiB,
      'label: dos\nlabel-id: 0xdeadbeef\nstart=2048, size=4096, type=83\nstart=6144, type=c\n',
    );
    const b = blkid(path);
    const { identity, bytesRead } = await detect(path);
    expect(b.PTTYPE).toBe('dos');
    expect(identity).toEqual({
      kind: 'dos',
      volumeId: `dos:${b.PTUUID}`,
      details: { uuid: 'deadbeef', partitions: '2' },
    });
    expect(bytesRead).toBeLessThanOrEqual(STRUCTURE_READ_LIMIT);
  });

  it('reads a partition table with no partitions', async () => {
    const path = makeMbr('empty-table.img', 2 * MiB, 'label: dos\nlabel-id: 0x0012abcd\n');
    expect(blkid(path).PTUUID).toBe('0012abcd');
    expect((await detect(path)).identity.volumeId).toBe('dos:0012abcd');
  });

  it('treats a zero disk signature as absent and falls through to content:', async () => {
    const path = makeMbr(
      'zero-sig.img',
      2 * MiB,
      'label: dos\nlabel-id: 0x00000000\nstart=2048, type=83\n',
    );
    expect(blkid(path).PTTYPE).toBe('dos');
    expect(blkid(path).PTUUID).toBeUndefined();
    expectContentId((await detect(path)).identity);
  });

  it('does not mistake an NTFS boot sector for an MBR', async () => {
    const path = sparse('ntfs-like.img', 1 * MiB);
    patch(path, 0, [0xeb, 0x52, 0x90, ...ascii('NTFS    ')]);
    patch(path, 440, [0x33, 0xc0, 0x8e, 0xd0]);
    patch(path, 510, [0x55, 0xaa]);
    expectContentId((await detect(path)).identity);
  });
});
