import { equalsAscii, hex, le32 } from './byte-fields';
import { isFatBootSector } from './fat';
import type { ImageReader } from './image-reader';
import type { VolumeIdentity } from './volume-identity';

/** Classic MBR layout: disk signature at 440, four 16-byte entries at 446, 0x55AA at 510. */
const DISK_SIGNATURE = 440;
const PARTITION_TABLE = 446;
const ENTRY_BYTES = 16;
const BOOT_INDICATOR = 0;
const TYPE = 4;
const SECTOR_COUNT = 12;
const PROTECTIVE_TYPE = 0xee;
/** AIX physical volumes start with "ÉÂÔÁ" in EBCDIC; blkid ignores their 0x55AA. */
const AIX_MAGIC = [0xc9, 0xc2, 0xd4, 0xc1];

export function hasMbrSignature(sector: Uint8Array): boolean {
  return sector.length >= 512 && sector[510] === 0x55 && sector[511] === 0xaa;
}

export function mbrPartitionTypes(sector: Uint8Array): number[] {
  return [0, 1, 2, 3].map((i) => sector[PARTITION_TABLE + i * ENTRY_BYTES + TYPE] ?? 0);
}

/**
 * MBR volume ID: `dos:<disk signature>` as 8 lowercase hex digits of the
 * little-endian 32-bit value at byte 440, as blkid reports PTUUID.
 *
 * The checks are blkid's (libblkid partitions/dos.c): 0x55AA present, not an
 * AIX disk, every boot indicator 0x00 or 0x80, no protective 0xEE entry (that
 * disk is GPT, and GPT is tried first), and sector 0 is not a FAT boot
 * sector. Beyond blkid, NTFS and exFAT boot sectors are refused too: they
 * carry 0x55AA and boot code where the disk signature would be, which would
 * give every volume made by the same formatter the same ID. A zero signature
 * counts as absent.
 */
export async function probeMbr(reader: ImageReader): Promise<VolumeIdentity | undefined> {
  const sector = await reader.read(0, 512);
  if (!hasMbrSignature(sector)) return undefined;
  if (AIX_MAGIC.every((b, i) => sector[i] === b)) return undefined;
  if (equalsAscii(sector, 3, 'NTFS    ') || equalsAscii(sector, 3, 'EXFAT   ')) return undefined;

  const entries = [0, 1, 2, 3].map((i) => PARTITION_TABLE + i * ENTRY_BYTES);
  if (
    entries.some((at) => sector[at + BOOT_INDICATOR] !== 0 && sector[at + BOOT_INDICATOR] !== 0x80)
  ) {
    return undefined;
  }
  if (mbrPartitionTypes(sector).includes(PROTECTIVE_TYPE)) return undefined;
  if (isFatBootSector(sector)) return undefined;

  const signature = le32(sector, DISK_SIGNATURE);
  if (signature === 0) return undefined;
  const uuid = hex(
    sector
      .subarray(DISK_SIGNATURE, DISK_SIGNATURE + 4)
      .slice()
      .reverse(),
  );
  const partitions = entries.filter((at) => le32(sector, at + SECTOR_COUNT) !== 0).length;
  return {
    kind: 'dos',
    volumeId: `dos:${uuid}`,
    details: { uuid, partitions: String(partitions) },
  };
}
