import { equalsAscii, le16, le32 } from './byte-fields';
import type { ImageReader } from './image-reader';
import { byteLabel, utf16beLabel } from './label-text';
import type { VolumeIdentity } from './volume-identity';

/**
 * ISO 9660 (ECMA-119 4th ed.): the volume descriptor set starts at logical
 * sector 16 (byte 32768) in 2048-byte sectors and ends with a terminator
 * (§8.3). blkid reads at most 16 descriptors; so do we.
 */
const SECTOR = 2048;
const FIRST_DESCRIPTOR = 16 * SECTOR;
const MAX_DESCRIPTORS = 16;

const PRIMARY = 1;
const SUPPLEMENTARY = 2;
const TERMINATOR = 255;

/** Field offsets in a primary/supplementary volume descriptor (ECMA-119 §8.4, §8.5). */
const VOLUME_IDENTIFIER = { at: 40, length: 32 };
const VOLUME_SPACE_SIZE = 80;
const ESCAPE_SEQUENCES = 88;
const LOGICAL_BLOCK_SIZE = 128;
const CREATION_DATE = 813;
const MODIFICATION_DATE = 830;

/** Joliet marks its supplementary descriptor with a UCS-2 escape sequence (levels 1–3). */
const JOLIET_ESCAPES = ['%/@', '%/C', '%/E'];

/**
 * ISO 9660 volume ID: `iso9660:LABEL:YYYY-MM-DD-HH-MM-SS-CC` from the
 * volume identifier and the volume creation date (SPEC §2). The label is
 * blkid's LABEL (Joliet-aware, see `volumeLabel`); the date is written as
 * blkid writes an iso9660 UUID. Without a creation date the ID is
 * `iso9660:LABEL`, without a label `iso9660::DATE`; with neither, the image
 * is not identified here and detection moves on.
 *
 * blkid's own UUID prefers the modification date and falls back to the
 * creation date; it is reported as `details.uuid`, while the ID follows
 * SPEC §2 and uses the creation date.
 */
export async function probeIso9660(reader: ImageReader): Promise<VolumeIdentity | undefined> {
  let primary: Uint8Array | undefined;
  let joliet: Uint8Array | undefined;
  for (let i = 0; i < MAX_DESCRIPTORS && !(primary && joliet); i++) {
    const descriptor = await reader.read(FIRST_DESCRIPTOR + i * SECTOR, SECTOR);
    if (descriptor.length < SECTOR || !equalsAscii(descriptor, 1, 'CD001')) break;
    const type = descriptor[0];
    if (type === TERMINATOR) break;
    if (type === PRIMARY) primary ??= descriptor;
    else if (type === SUPPLEMENTARY && !joliet && isJoliet(descriptor)) joliet = descriptor;
  }
  if (!primary) return undefined;

  const label = volumeLabel(primary, joliet);
  const creationDate = isoDate(primary, CREATION_DATE);
  const modificationDate = isoDate(primary, MODIFICATION_DATE);
  if (label === undefined && creationDate === undefined) return undefined;

  const details: Record<string, string> = {
    blockSize: String(le16(primary, LOGICAL_BLOCK_SIZE)),
    volumeBlocks: String(le32(primary, VOLUME_SPACE_SIZE)),
  };
  if (label !== undefined) details.label = label;
  if (creationDate !== undefined) details.creationDate = creationDate;
  if (modificationDate !== undefined) details.modificationDate = modificationDate;
  const blkidUuid = modificationDate ?? creationDate;
  if (blkidUuid !== undefined) details.uuid = blkidUuid;
  if (joliet) details.version = 'Joliet Extension';

  const volumeId = `iso9660:${label ?? ''}${creationDate === undefined ? '' : `:${creationDate}`}`;
  return label === undefined
    ? { kind: 'iso9660', volumeId, details }
    : { kind: 'iso9660', volumeId, label, details };
}

function isJoliet(descriptor: Uint8Array): boolean {
  return JOLIET_ESCAPES.some((escape) => equalsAscii(descriptor, ESCAPE_SEQUENCES, escape));
}

function field(descriptor: Uint8Array, at: number, length: number): Uint8Array {
  return descriptor.subarray(at, at + length);
}

/**
 * blkid's LABEL for iso9660: the Joliet identifier holds only 16 UCS-2
 * characters, the primary one 32 d-characters with '_' for anything it
 * cannot hold. When the Joliet text is a case-insensitive prefix of the
 * primary one, the two are merged (Joliet's characters where the primary
 * has '_' or capitals, the primary's tail beyond 16); when they disagree
 * the Joliet identifier alone is used; without Joliet the primary one.
 */
function volumeLabel(primary: Uint8Array, joliet: Uint8Array | undefined): string | undefined {
  const ascii = field(primary, VOLUME_IDENTIFIER.at, VOLUME_IDENTIFIER.length);
  if (!joliet) return byteLabel(ascii);
  const ucs = field(joliet, VOLUME_IDENTIFIER.at, VOLUME_IDENTIFIER.length);
  return utf16beLabel(mergeJolietWithPrimary(ucs, ascii) ?? ucs);
}

const UNDERSCORE = 0x5f;

function upper(c: number): number {
  return c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
}

function isUpper(c: number): boolean {
  return c >= 0x41 && c <= 0x5a;
}

/** blkid's `merge_utf16be_ascii` (libblkid iso9660.c), giving UTF-16BE bytes or undefined. */
function mergeJolietWithPrimary(utf16: Uint8Array, ascii: Uint8Array): Uint8Array | undefined {
  const length = ascii.length;
  const out: number[] = [];
  let a = 0;
  let u = 0;
  for (; u + 1 < length && a < length; a++, u += 2) {
    const lead = utf16[u] ?? 0;
    const next = utf16[u + 2] ?? 0;
    if (lead >= 0xd8 && lead <= 0xdb && u + 3 < length && next >= 0xdc && next <= 0xdf) {
      out.push(lead, utf16[u + 1] ?? 0);
      u += 2;
    }
    const c = ascii[a] ?? 0;
    const high = utf16[u] ?? 0;
    const low = utf16[u + 1] ?? 0;
    if (c === UNDERSCORE) out.push(high, low);
    else if (high === 0 && low === UNDERSCORE) out.push(0, c);
    else if (high === 0 && upper(c) === upper(low)) out.push(0, isUpper(c) ? low : c);
    else return undefined;
  }
  for (; a < length; a++) out.push(0, ascii[a] ?? 0);
  return Uint8Array.from(out);
}

/**
 * A dec-datetime (ECMA-119 §8.4.26.1: 16 ASCII digits YYYYMMDDhhmmsscc and a
 * time-zone byte) in blkid's UUID form `YYYY-MM-DD-hh-mm-ss-cc`. All-'0'
 * digits mean "not specified"; a field holding anything but digits is no
 * date either and counts as absent.
 */
function isoDate(descriptor: Uint8Array, at: number): string | undefined {
  const digits = field(descriptor, at, 16);
  if (!digits.every((b) => b >= 0x30 && b <= 0x39)) return undefined;
  if (digits.every((b) => b === 0x30)) return undefined;
  const d = String.fromCharCode(...digits);
  return [
    d.slice(0, 4),
    d.slice(4, 6),
    d.slice(6, 8),
    d.slice(8, 10),
    d.slice(10, 12),
    d.slice(12, 14),
    d.slice(14, 16),
  ].join('-');
}
