/** Volume-ID detection (SPEC §2 "Volume", BK-2). */
export { blobSource, type ByteSource } from './byte-source';
export { CONTENT_WINDOW } from './content-id';
export { detectVolumeId } from './detect-volume-id';
export {
  EmptyImageError,
  VolumeDetectionError,
  VolumeReadError,
  type VolumeErrorCode,
} from './errors';
export type { VolumeIdentity, VolumeKind } from './volume-identity';
export { looksLikeVolumeId, volumeKinds } from './volume-identity';
