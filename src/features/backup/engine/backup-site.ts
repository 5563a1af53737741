/**
 * The calls a backup makes to a site, as one interface, so the runner and
 * the copier can be driven by the real API (here), for this console's own
 * site or another one, or by a test double with the same behaviour.
 */

import { registerDevice } from '@/shared/api/devices';
import { fetchOtherSiteInfo } from '@/shared/api/other-sites';
import type { SiteAddress } from '@/shared/api/request';
import { fetchSiteInfo } from '@/shared/api/site';
import {
  headChunk,
  putTransfer,
  type StoredChunk,
  type TransferReceived,
} from '@/shared/api/transfers';
import {
  claimVolume,
  fetchGenerationManifest,
  fetchVolumeOwner,
  moveVolume,
  releaseClaim,
} from '@/shared/api/volumes';
import type {
  Claim,
  DeviceKey,
  GenerationManifest,
  MoveVolumeRequest,
  RegisterDeviceRequest,
  SiteInfo,
  VolumeMove,
  VolumeOwner,
} from '@/core/contract';

export interface BackupSite {
  siteInfo(): Promise<SiteInfo>;
  registerDevice(body: RegisterDeviceRequest): Promise<DeviceKey>;
  volumeOwner(volumeId: string): Promise<VolumeOwner>;
  claim(volumeId: string, resume: boolean): Promise<Claim>;
  releaseClaim(volumeId: string): Promise<void>;
  generationManifest(volumeId: string, generation: number): Promise<GenerationManifest>;
  /** The owner's new browser gets the volume's chunk-ID key (or this site's share of it). */
  moveVolume(volumeId: string, body: MoveVolumeRequest): Promise<VolumeMove>;
  headChunk(volumeId: string, chunkId: string, signal?: AbortSignal): Promise<StoredChunk>;
  putTransfer(
    pairId: string,
    seq: number,
    body: Uint8Array<ArrayBuffer>,
    bodySha256: string,
    signal?: AbortSignal,
  ): Promise<TransferReceived>;
}

/** The site this console is served by. */
export const liveSite: BackupSite = {
  siteInfo: fetchSiteInfo,
  registerDevice,
  volumeOwner: fetchVolumeOwner,
  claim: claimVolume,
  releaseClaim,
  generationManifest: fetchGenerationManifest,
  moveVolume: (volumeId, body) => moveVolume(volumeId, body),
  headChunk,
  putTransfer,
};

/**
 * Another site this console is signed in at (MS-3), reached at its own
 * address with the bearer token it issued: never a cookie.
 */
export function siteAt(address: Required<SiteAddress>): BackupSite {
  return {
    siteInfo: () => fetchOtherSiteInfo(address.url),
    registerDevice: (body) => registerDevice(body, address),
    volumeOwner: (volumeId) => fetchVolumeOwner(volumeId, address),
    claim: (volumeId, resume) => claimVolume(volumeId, resume, address),
    releaseClaim: (volumeId) => releaseClaim(volumeId, address),
    generationManifest: (volumeId, generation) =>
      fetchGenerationManifest(volumeId, generation, address),
    moveVolume: (volumeId, body) => moveVolume(volumeId, body, address),
    headChunk: (volumeId, chunkId, signal) => headChunk(volumeId, chunkId, signal, address),
    putTransfer: (pairId, seq, body, bodySha256, signal) =>
      putTransfer(pairId, seq, body, bodySha256, signal, address),
  };
}
