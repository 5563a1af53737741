import { equalsAscii, guidText, isAllZero, le32, le64 } from './byte-fields';
import { crc32 } from './crc32';
import type { ImageReader } from './image-reader';
import { hasMbrSignature, mbrPartitionTypes } from './mbr';
import type { VolumeIdentity } from './volume-identity';

/**
 * GUID Partition Table (UEFI 2.10 §5.3). Disk images carry 512-byte logical
 * sectors; images of 4Kn disks carry 4096-byte ones, so both are tried.
 */
const SECTOR_SIZES = [512, 4096] as const;
const PROTECTIVE_TYPE = 0xee;

/** GPT header fields (UEFI 2.10 Table 5.5). */
const HEADER_SIZE = 12;
const HEADER_CRC = 16;
const MY_LBA = 24;
const FIRST_USABLE_LBA = 40;
const LAST_USABLE_LBA = 48;
const DISK_GUID = 56;
const ENTRIES_LBA = 72;
const ENTRY_COUNT = 80;
const ENTRY_SIZE = 84;
const ENTRIES_CRC = 88;
const MIN_HEADER_SIZE = 92;
const ENTRY_BYTES = 128;
/**
 * Upper bound on the partition entry array read to check its CRC. The usual
 * array is 128 × 128 bytes = 16 KiB; 1 MiB keeps a hostile header from
 * making detection read far more than a normal disk needs.
 */
const MAX_ENTRY_ARRAY = 1024 * 1024;

interface GptHeader {
  header: Uint8Array;
  entries: Uint8Array;
}

/**
 * GPT volume ID: `gpt:<disk GUID>` in lowercase, as blkid reports PTUUID.
 *
 * As in blkid, a GPT counts only behind a protective MBR (an 0xEE entry):
 * a disk re-partitioned with an MBR-only tool may keep a stale GPT header,
 * and then the MBR is what the disk is. The primary header at LBA 1 must
 * carry "EFI PART", a valid header CRC32, its own LBA, sane usable bounds and
 * a partition array with a valid CRC32; if it does not, the backup header in
 * the last LBA is tried. An all-zero disk GUID counts as absent.
 */
export async function probeGpt(reader: ImageReader): Promise<VolumeIdentity | undefined> {
  const mbr = await reader.read(0, 512);
  if (!hasMbrSignature(mbr) || !mbrPartitionTypes(mbr).includes(PROTECTIVE_TYPE)) return undefined;

  for (const sectorSize of SECTOR_SIZES) {
    const lastLba = Math.floor(reader.size / sectorSize) - 1;
    if (lastLba < 2) continue;
    let which = 'primary';
    let found = await readHeader(reader, sectorSize, 1, lastLba);
    if (!found) {
      which = 'backup';
      found = await readHeader(reader, sectorSize, lastLba, lastLba);
    }
    if (!found) continue;

    const guid = found.header.subarray(DISK_GUID, DISK_GUID + 16);
    if (isAllZero(guid)) return undefined;
    const uuid = guidText(guid);
    return {
      kind: 'gpt',
      volumeId: `gpt:${uuid}`,
      details: {
        uuid,
        sectorSize: String(sectorSize),
        partitions: String(countPartitions(found.entries)),
        header: which,
      },
    };
  }
  return undefined;
}

/** The checks of UEFI 2.10 §5.3.2 "GPT Header" validity, as blkid applies them. */
async function readHeader(
  reader: ImageReader,
  sectorSize: number,
  lba: number,
  lastLba: number,
): Promise<GptHeader | undefined> {
  const sector = await reader.read(lba * sectorSize, sectorSize);
  if (sector.length < sectorSize || !equalsAscii(sector, 0, 'EFI PART')) return undefined;

  const headerSize = le32(sector, HEADER_SIZE);
  if (headerSize < MIN_HEADER_SIZE || headerSize > sectorSize) return undefined;
  const header = sector.slice(0, headerSize);
  header.fill(0, HEADER_CRC, HEADER_CRC + 4);
  if (crc32(header) !== le32(sector, HEADER_CRC)) return undefined;

  if (le64(sector, MY_LBA) !== lba) return undefined;
  const firstUsable = le64(sector, FIRST_USABLE_LBA);
  const lastUsable = le64(sector, LAST_USABLE_LBA);
  if (firstUsable === undefined || lastUsable === undefined) return undefined;
  if (lastUsable < firstUsable || firstUsable > lastLba || lastUsable > lastLba) return undefined;
  if (firstUsable < lba && lba < lastUsable) return undefined;

  const entriesLba = le64(sector, ENTRIES_LBA);
  const arrayBytes = le32(sector, ENTRY_COUNT) * le32(sector, ENTRY_SIZE);
  if (entriesLba === undefined || le32(sector, ENTRY_SIZE) !== ENTRY_BYTES) return undefined;
  if (arrayBytes === 0 || arrayBytes > MAX_ENTRY_ARRAY) return undefined;
  const entries = await reader.read(entriesLba * sectorSize, arrayBytes);
  if (entries.length < arrayBytes || crc32(entries) !== le32(sector, ENTRIES_CRC)) return undefined;

  return { header: sector.subarray(0, headerSize), entries };
}

/** Used entries are those with a non-zero partition type GUID (UEFI 2.10 Table 5.6). */
function countPartitions(entries: Uint8Array): number {
  let used = 0;
  for (let at = 0; at + ENTRY_BYTES <= entries.length; at += ENTRY_BYTES) {
    if (!isAllZero(entries.subarray(at, at + 16))) used++;
  }
  return used;
}
