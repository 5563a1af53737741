/**
 * What an image is, as read from its own bytes (SPEC §2 "Volume", BK-2).
 * `kind` names the structure the ID came from; `content` means none was
 * recognised and the ID is a hash of the image's ends.
 */
export type VolumeKind = 'iso9660' | 'gpt' | 'ext2' | 'ext3' | 'ext4' | 'vfat' | 'dos' | 'content';

export interface VolumeIdentity {
  kind: VolumeKind;
  /** The volume ID, e.g. `iso9660:LABEL:2026-11-21-13-30-00-00` or `ext4:<uuid>`. */
  volumeId: string;
  /** The volume label, verbatim as blkid reports it, when the volume has one. */
  label?: string;
  /** What was read to form the ID (uuid, label, dates, sector size, …), all strings. */
  details: Record<string, string>;
}
