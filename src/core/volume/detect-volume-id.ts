import type { ByteSource } from './byte-source';
import { contentVolumeId } from './content-id';
import { EmptyImageError } from './errors';
import { probeExt } from './ext';
import { probeFat } from './fat';
import { probeGpt } from './gpt';
import { ImageReader } from './image-reader';
import { probeIso9660 } from './iso9660';
import { probeMbr } from './mbr';
import type { VolumeIdentity } from './volume-identity';

/**
 * SPEC §2 detection order. ISO 9660 comes first so that a hybrid ISO (with
 * an MBR or GPT for USB boot) is identified as the disc it is; GPT comes
 * before MBR so that a GPT disk's protective MBR never wins. A detector that
 * finds its structure but only an all-zero identifier answers undefined, and
 * the next one is tried.
 */
const DETECTORS = [probeIso9660, probeGpt, probeExt, probeFat, probeMbr] as const;

/**
 * BK-2: the volume ID of a media image, read from the image itself.
 *
 * Reads only the small structures the detectors need (the first 8 KiB, ISO
 * 9660 descriptors, a GPT partition array or backup header, the start of a
 * FAT root directory) and, when nothing is recognised, the first and last
 * MiB for the `content:` ID; never the whole image. Never rejects because
 * an image is unrecognised, truncated or garbage.
 *
 * @throws EmptyImageError for a 0-byte image, which has nothing to identify.
 * @throws VolumeReadError when the source fails to deliver the bytes asked for.
 */
export async function detectVolumeId(source: ByteSource): Promise<VolumeIdentity> {
  const reader = new ImageReader(source);
  if (reader.size === 0) throw new EmptyImageError();
  for (const detect of DETECTORS) {
    const identity = await detect(reader);
    if (identity) return identity;
  }
  return contentVolumeId(reader);
}
