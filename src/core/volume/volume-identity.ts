/**
 * What an image is, as read from its own bytes (SPEC §2 "Volume", BK-2).
 * `kind` names the structure the ID came from; `content` means none was
 * recognised and the ID is a hash of the image's ends.
 */
export const volumeKinds = [
  'iso9660',
  'gpt',
  'ext2',
  'ext3',
  'ext4',
  'vfat',
  'dos',
  'content',
] as const;
export type VolumeKind = (typeof volumeKinds)[number];

/**
 * Whether `text` has the shape of a volume ID: a kind this console reads,
 * a colon, then the rest with no spaces at either end (e.g. `ext4:<uuid>`).
 * Tells a typing slip apart from an unknown volume, which the site alerts on.
 */
export function looksLikeVolumeId(text: string): boolean {
  const colon = text.indexOf(':');
  if (colon < 1 || text.trim() !== text) return false;
  const kind = text.slice(0, colon);
  return (volumeKinds as readonly string[]).includes(kind) && text.length > colon + 1;
}

export interface VolumeIdentity {
  kind: VolumeKind;
  /** The volume ID, e.g. `iso9660:LABEL:2026-11-21-13-30-00-00` or `ext4:<uuid>`. */
  volumeId: string;
  /** The volume label, verbatim as blkid reports it, when the volume has one. */
  label?: string;
  /** What was read to form the ID (uuid, label, dates, sector size, …), all strings. */
  details: Record<string, string>;
}
