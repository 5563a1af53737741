import { equalsAscii, isAllZero, le16, le32 } from './byte-fields';
import type { ImageReader } from './image-reader';
import { byteLabel } from './label-text';
import type { VolumeIdentity } from './volume-identity';

/**
 * FAT12/16/32 boot sector and BPB (Microsoft FAT specification "fatgen103",
 * §3), with the validity checks of libblkid superblocks/vfat.c. Arithmetic is
 * done in unsigned 32 bits, as there, so the same sectors are accepted.
 */
const BYTES_PER_SECTOR = 0x0b;
const SECTORS_PER_CLUSTER = 0x0d;
const RESERVED_SECTORS = 0x0e;
const FAT_COUNT = 0x10;
const ROOT_ENTRIES = 0x11;
const TOTAL_SECTORS_16 = 0x13;
const MEDIA = 0x15;
const FAT_SIZE_16 = 0x16;
const TOTAL_SECTORS_32 = 0x20;
const FAT_SIZE_32 = 0x24;
const ROOT_CLUSTER = 0x2c;
const FSINFO_SECTOR = 0x30;
/** Extended boot record: at 0x26 on FAT12/16, at 0x42 on FAT32. */
const EBR_16 = 0x26;
const EBR_32 = 0x42;
const NO_NAME = 'NO NAME    ';

const FAT12_MAX = 0xff4;
const FAT16_MAX = 0xfff4;
const FAT32_MAX = 0x0ffffff6;

const DIR_ENTRY = 32;
const ATTR_VOLUME_ID = 0x08;
const ATTR_DIRECTORY = 0x10;
const ATTR_LONG_NAME = 0x0f;
const ATTR_MASK = 0x3f;
const ENTRY_FREE = 0xe5;
/** blkid follows at most 99 clusters of a FAT32 root directory. */
const MAX_ROOT_CLUSTERS = 99;
/**
 * At most this much root directory is scanned for the label entry, which
 * format tools write first; it bounds what detection reads (blkid may read
 * up to 99 clusters).
 */
const MAX_ROOT_DIR_BYTES = 64 * 1024;
const ROOT_DIR_PIECE = 4096;

/** Signatures blkid looks for, in its order; the last three are weak and need more checks. */
const MAGICS: { at: number; text?: string; bytes?: number[] }[] = [
  { at: 0x52, text: 'MSWIN' },
  { at: 0x52, text: 'FAT32   ' },
  { at: 0x36, text: 'MSDOS' },
  { at: 0x36, text: 'FAT16   ' },
  { at: 0x36, text: 'FAT12   ' },
  { at: 0x36, text: 'FAT     ' },
  { at: 0, bytes: [0xeb] },
  { at: 0, bytes: [0xe9] },
  { at: 0x1fe, bytes: [0x55, 0xaa] },
];

interface Geometry {
  sectorSize: number;
  clusterSectors: number;
  reserved: number;
  /** Sectors taken by all FAT copies. */
  fatSectors: number;
  clusterCount: number;
  rootEntries: number;
  fat16Length: number;
  fat32Length: number;
}

const u32 = (n: number): number => n >>> 0;
const isPowerOfTwo = (n: number): boolean => n !== 0 && (n & (n - 1)) === 0;

/** blkid's `fat_valid_superblock`: the BPB describes a plausible FAT volume. */
function fatGeometry(bs: Uint8Array): Geometry | undefined {
  if (bs.length < 512) return undefined;
  const magic = MAGICS.find((m) =>
    m.text !== undefined
      ? equalsAscii(bs, m.at, m.text)
      : m.bytes?.every((b, i) => bs[m.at + i] === b),
  );
  if (!magic) return undefined;
  if (magic.bytes) {
    // Old floppies without a magic string still end their boot sector with 0x55AA;
    // OS/2 puts a FAT-like BPB on JFS and HPFS volumes.
    if (bs[0x1fe] !== 0x55 || bs[0x1ff] !== 0xaa) return undefined;
    if (equalsAscii(bs, 0x36, 'JFS     ') || equalsAscii(bs, 0x36, 'HPFS    ')) return undefined;
  }
  // A BitLocker volume's boot sector imitates a FAT one.
  if (equalsAscii(bs, 3, '-FVE-FS-')) return undefined;

  const fats = bs[FAT_COUNT] ?? 0;
  const reserved = le16(bs, RESERVED_SECTORS);
  const media = bs[MEDIA] ?? 0;
  const clusterSectors = bs[SECTORS_PER_CLUSTER] ?? 0;
  const sectorSize = le16(bs, BYTES_PER_SECTOR);
  if (fats === 0 || reserved === 0) return undefined;
  if (!(media >= 0xf8 || media === 0xf0)) return undefined;
  if (!isPowerOfTwo(clusterSectors)) return undefined;
  if (!isPowerOfTwo(sectorSize) || sectorSize < 512 || sectorSize > 4096) return undefined;

  const rootEntries = le16(bs, ROOT_ENTRIES);
  const totalSectors = le16(bs, TOTAL_SECTORS_16) || le32(bs, TOTAL_SECTORS_32);
  const fat16Length = le16(bs, FAT_SIZE_16);
  const fat32Length = le32(bs, FAT_SIZE_32);
  const fatSectors = u32((fat16Length || fat32Length) * fats);
  const rootDirSectors = Math.floor((rootEntries * DIR_ENTRY + sectorSize - 1) / sectorSize);
  const clusterCount = Math.floor(
    u32(totalSectors - u32(reserved + fatSectors + rootDirSectors)) / clusterSectors,
  );
  const maxCount =
    fat16Length === 0 && fat32Length !== 0
      ? FAT32_MAX
      : clusterCount > FAT12_MAX
        ? FAT16_MAX
        : FAT12_MAX;
  if (clusterCount > maxCount) return undefined;

  return {
    sectorSize,
    clusterSectors,
    reserved,
    fatSectors,
    clusterCount,
    rootEntries,
    fat16Length,
    fat32Length,
  };
}

/** Sector 0 is a FAT boot sector (blkid's `blkid_probe_is_vfat`, used to tell FAT from MBR). */
export function isFatBootSector(sector: Uint8Array): boolean {
  return fatGeometry(sector) !== undefined;
}

/**
 * FAT volume ID: `vfat:<SERIAL>`, or `vfat:<LABEL>:<SERIAL>` when the volume
 * has a label. SERIAL is the volume serial number as blkid prints a vfat
 * UUID (`%02X%02X-%02X%02X` of its little-endian bytes, e.g. `1A2B-3C4D`).
 *
 * The label is blkid's LABEL (util-linux 2.38): the volume-label entry of
 * the root directory, verbatim (trailing blanks stripped), even when it
 * reads "NO NAME". The boot-sector copy is reported as `details.bootLabel`
 * (blkid's LABEL_FATBOOT, "NO NAME" omitted) but is not part of the ID:
 * the root-directory entry is the label Windows and blkid show. A missing
 * or all-zero serial counts as absent.
 */
export async function probeFat(reader: ImageReader): Promise<VolumeIdentity | undefined> {
  const bs = await reader.read(0, 512);
  const g = fatGeometry(bs);
  if (!g) return undefined;

  const fat32 = g.fat16Length === 0 && g.fat32Length !== 0;
  // With neither FAT size set there is no extended boot record to read a serial from.
  if (g.fat16Length === 0 && !fat32) return undefined;
  const ebr = bs[fat32 ? EBR_32 : EBR_16];
  // FAT12/16 carry a serial only behind an extended boot signature (0x28 or 0x29);
  // blkid reads the FAT32 one unconditionally.
  const serial =
    fat32 || ebr === 0x28 || ebr === 0x29
      ? bs.subarray(fat32 ? 0x43 : 0x27, fat32 ? 0x47 : 0x2b)
      : undefined;
  if (!serial || isAllZero(serial)) return undefined;
  const bootLabelField =
    ebr === 0x29 ? bs.subarray(fat32 ? 0x47 : 0x2b, fat32 ? 0x52 : 0x36) : undefined;

  let rootLabel: Uint8Array | undefined;
  let version: string | undefined;
  if (fat32) {
    if (!(await hasValidFsInfo(reader, bs, g))) return undefined;
    version = 'FAT32';
    rootLabel = await searchFat32Label(reader, bs, g);
  } else {
    if (g.clusterCount < FAT12_MAX) version = 'FAT12';
    else if (g.clusterCount < FAT16_MAX) version = 'FAT16';
    const rootStart = u32((g.reserved + g.fatSectors) * g.sectorSize);
    const budget = { left: MAX_ROOT_DIR_BYTES };
    rootLabel = (await searchLabel(reader, rootStart, g.rootEntries, budget)).name;
  }

  const uuid = serialText(serial);
  const label = rootLabel && byteLabel(rootLabel);
  const bootLabel =
    bootLabelField && !equalsAscii(bootLabelField, 0, NO_NAME)
      ? byteLabel(bootLabelField)?.replace(/^[ \t\n\v\f\r]+/, '')
      : undefined;

  const details: Record<string, string> = { uuid, sectorSize: String(g.sectorSize) };
  if (label !== undefined) details.label = label;
  if (bootLabel) details.bootLabel = bootLabel;
  if (version) details.version = version;

  return label === undefined
    ? { kind: 'vfat', volumeId: `vfat:${uuid}`, details }
    : { kind: 'vfat', volumeId: `vfat:${label}:${uuid}`, label, details };
}

function serialText(serial: Uint8Array): string {
  const h = (i: number) => (serial[i] ?? 0).toString(16).toUpperCase().padStart(2, '0');
  return `${h(3)}${h(2)}-${h(1)}${h(0)}`;
}

/**
 * FAT32 keeps an FSInfo sector whose lead and structure signatures are
 * "RRaA" and "rrAa" (fatgen103 §5); blkid also accepts "RRdA" and zeros,
 * which some formatters leave.
 */
async function hasValidFsInfo(reader: ImageReader, bs: Uint8Array, g: Geometry): Promise<boolean> {
  const sector = le16(bs, FSINFO_SECTOR);
  if (sector === 0) return true;
  const info = await reader.read(sector * g.sectorSize, 512);
  if (info.length < 512) return false;
  const lead = ['RRaA', 'RRdA', '\0\0\0\0'].some((s) => equalsAscii(info, 0, s));
  const struct = ['rrAa', '\0\0\0\0'].some((s) => equalsAscii(info, 484, s));
  return lead && struct;
}

/** Walks the FAT32 root directory's cluster chain (fatgen103 §6.7), boundedly. */
async function searchFat32Label(
  reader: ImageReader,
  bs: Uint8Array,
  g: Geometry,
): Promise<Uint8Array | undefined> {
  const clusterBytes = u32(g.clusterSectors * g.sectorSize);
  const dataStart = u32(g.reserved + g.fatSectors);
  const fatEntries = Math.floor((g.fat32Length * g.sectorSize) / 4);
  const budget = { left: MAX_ROOT_DIR_BYTES };
  let cluster = le32(bs, ROOT_CLUSTER);
  for (let hop = 0; hop < MAX_ROOT_CLUSTERS && cluster >= 2 && cluster < fatEntries; hop++) {
    const offset = u32(dataStart + u32((cluster - 2) * g.clusterSectors)) * g.sectorSize;
    const found = await searchLabel(reader, offset, clusterBytes / DIR_ENTRY, budget);
    if (found.name || found.done) return found.name;
    const entry = await reader.read(g.reserved * g.sectorSize + cluster * 4, 4);
    if (entry.length < 4) return undefined;
    cluster = le32(entry, 0) & 0x0fffffff;
  }
  return undefined;
}

interface LabelSearch {
  name?: Uint8Array;
  /** Nothing more to look at: end-of-directory mark, end of image, or budget spent. */
  done: boolean;
}

/**
 * blkid's `search_fat_label`: the first entry with the volume-ID attribute
 * (and not a directory, not a long-name slot, not free, no cluster) holds
 * the label; an entry starting with 0x00 ends the directory (fatgen103 §6).
 * Read in 4 KiB pieces so the usual first-entry label costs one small read.
 */
async function searchLabel(
  reader: ImageReader,
  offset: number,
  entries: number,
  budget: { left: number },
): Promise<LabelSearch> {
  for (let i = 0; i < entries;) {
    const count = Math.min(entries - i, ROOT_DIR_PIECE / DIR_ENTRY, budget.left / DIR_ENTRY);
    if (count <= 0) return { done: true };
    const piece = await reader.read(offset + i * DIR_ENTRY, count * DIR_ENTRY);
    budget.left -= count * DIR_ENTRY;
    for (let at = 0; at + DIR_ENTRY <= piece.length; at += DIR_ENTRY) {
      const entry = piece.subarray(at, at + DIR_ENTRY);
      const attr = entry[11] ?? 0;
      if (entry[0] === 0x00) return { done: true };
      if (entry[0] === ENTRY_FREE || le16(entry, 20) !== 0 || le16(entry, 26) !== 0) continue;
      if ((attr & ATTR_MASK) === ATTR_LONG_NAME) continue;
      if ((attr & (ATTR_VOLUME_ID | ATTR_DIRECTORY)) === ATTR_VOLUME_ID) {
        const name = entry.slice(0, 11);
        // 0x05 stands for a leading 0xE5 byte, which would otherwise mean "free".
        if (name[0] === 0x05) name[0] = ENTRY_FREE;
        return { name, done: true };
      }
    }
    if (piece.length < count * DIR_ENTRY) return { done: true };
    i += count;
  }
  return { done: false };
}
