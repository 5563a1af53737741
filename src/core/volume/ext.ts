import { isAllZero, le16, le32, uuidText } from './byte-fields';
import type { ImageReader } from './image-reader';
import { byteLabel } from './label-text';
import type { VolumeIdentity, VolumeKind } from './volume-identity';

/** The ext2/3/4 superblock: 1024 bytes at byte 1024 (ext4 disk layout, "The Super Block"). */
const SUPERBLOCK_OFFSET = 1024;
const SUPERBLOCK_BYTES = 1024;
const LOG_BLOCK_SIZE = 0x18;
const MAGIC = 0x38;
const MINOR_REV_LEVEL = 0x3e;
const REV_LEVEL = 0x4c;
const FEATURE_COMPAT = 0x5c;
const FEATURE_INCOMPAT = 0x60;
const FEATURE_RO_COMPAT = 0x64;
const UUID = 0x68;
const VOLUME_NAME = 0x78;
const EXT_MAGIC = 0xef53;

const COMPAT_HAS_JOURNAL = 0x0004;
const INCOMPAT_FILETYPE = 0x0002;
const INCOMPAT_RECOVER = 0x0004;
const INCOMPAT_JOURNAL_DEV = 0x0008;
const INCOMPAT_META_BG = 0x0010;
const RO_COMPAT_SPARSE_SUPER = 0x0001;
const RO_COMPAT_LARGE_FILE = 0x0002;
const RO_COMPAT_BTREE_DIR = 0x0004;

/** What ext2 and ext3 drivers understand (libblkid superblocks/ext.c). */
const EXT2_INCOMPAT_SUPPORTED = INCOMPAT_FILETYPE | INCOMPAT_META_BG;
const EXT3_INCOMPAT_SUPPORTED = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG;
const EXT2_3_RO_COMPAT_SUPPORTED =
  RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_BTREE_DIR;

/**
 * ext volume ID: `<kind>:<filesystem UUID>` in lowercase, kind being ext2,
 * ext3 or ext4 decided from the feature flags as blkid decides its TYPE:
 * any incompat or ro_compat feature ext3 does not know (extents, 64bit,
 * flex_bg, huge_file, dir_nlink, extra_isize, metadata_csum, …) makes it
 * ext4; otherwise a journal makes it ext3; otherwise it is ext2 if ext2
 * knows all its features. An external journal device (journal_dev) is not a
 * filesystem and is passed over. An all-zero UUID counts as absent.
 *
 * The metadata_csum superblock checksum is not required to verify: a
 * superblock damaged elsewhere still names its volume by its UUID, and
 * blkid of util-linux 2.38 accepts it too (later versions refuse it).
 */
export async function probeExt(reader: ImageReader): Promise<VolumeIdentity | undefined> {
  const sb = await reader.read(SUPERBLOCK_OFFSET, SUPERBLOCK_BYTES);
  if (sb.length < SUPERBLOCK_BYTES || le16(sb, MAGIC) !== EXT_MAGIC) return undefined;

  const compat = le32(sb, FEATURE_COMPAT);
  const incompat = le32(sb, FEATURE_INCOMPAT);
  const roCompat = le32(sb, FEATURE_RO_COMPAT);
  const kind = extKind(compat, incompat, roCompat);
  if (!kind) return undefined;

  const uuidBytes = sb.subarray(UUID, UUID + 16);
  if (isAllZero(uuidBytes)) return undefined;
  const uuid = uuidText(uuidBytes);
  const label = byteLabel(sb.subarray(VOLUME_NAME, VOLUME_NAME + 16));

  const details: Record<string, string> = {
    uuid,
    version: `${le32(sb, REV_LEVEL)}.${le16(sb, MINOR_REV_LEVEL)}`,
  };
  const logBlockSize = le32(sb, LOG_BLOCK_SIZE);
  if (logBlockSize <= 6) details.blockSize = String(1024 << logBlockSize);
  if (label !== undefined) details.label = label;

  const volumeId = `${kind}:${uuid}`;
  return label === undefined ? { kind, volumeId, details } : { kind, volumeId, label, details };
}

function extKind(compat: number, incompat: number, roCompat: number): VolumeKind | undefined {
  if (incompat & INCOMPAT_JOURNAL_DEV) return undefined;
  if (incompat & ~EXT3_INCOMPAT_SUPPORTED || roCompat & ~EXT2_3_RO_COMPAT_SUPPORTED) return 'ext4';
  if (compat & COMPAT_HAS_JOURNAL) return 'ext3';
  if (incompat & ~EXT2_INCOMPAT_SUPPORTED) return undefined;
  return 'ext2';
}
