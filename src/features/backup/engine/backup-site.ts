/**
 * The calls a backup makes to the site, as one interface, so the runner can
 * be driven by the real API (here) or by a test double with the same
 * behaviour.
 */

import { registerDevice } from '@/shared/api/devices';
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
  releaseClaim,
} from '@/shared/api/volumes';
import type {
  Claim,
  DeviceKey,
  GenerationManifest,
  RegisterDeviceRequest,
  SiteInfo,
  VolumeOwner,
} from '@/core/contract';

export interface BackupSite {
  siteInfo(): Promise<SiteInfo>;
  registerDevice(body: RegisterDeviceRequest): Promise<DeviceKey>;
  volumeOwner(volumeId: string): Promise<VolumeOwner>;
  claim(volumeId: string, resume: boolean): Promise<Claim>;
  releaseClaim(volumeId: string): Promise<void>;
  generationManifest(volumeId: string, generation: number): Promise<GenerationManifest>;
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
  headChunk,
  putTransfer,
};
