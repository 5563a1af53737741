import { z } from 'zod';
import {
  apiRoutes,
  claimSchema,
  escrowRecordSchema,
  generationManifestSchema,
  myVolumesSchema,
  volumeActivityPageSchema,
  volumeMoveSchema,
  volumeOwnerSchema,
  type ChangeRestorersRequest,
  type MoveVolumeRequest,
  type VolumeMove,
  type Claim,
  type EscrowRecord,
  type GenerationManifest,
  type VolumeActivityPage,
  type VolumeOwner,
} from '@/core/contract';
import { request, type SiteAddress } from './request';

/** BK-3: who owns a volume ID at the site. */
export function fetchVolumeOwner(volumeId: string, site?: SiteAddress): Promise<VolumeOwner> {
  return request({
    route: apiRoutes.volumeOwner,
    params: { volumeId },
    schema: volumeOwnerSchema,
    site,
  });
}

/**
 * BK-3: claims the volume for a backup. `resume` keeps the transfers the site
 * buffered from an interrupted session of this operator.
 */
export function claimVolume(volumeId: string, resume: boolean, site?: SiteAddress): Promise<Claim> {
  return request({
    route: apiRoutes.claimVolume,
    params: { volumeId },
    body: { resume },
    schema: claimSchema,
    site,
  });
}

/** Gives a claim up (Cancel, BK-7). */
export async function releaseClaim(volumeId: string, site?: SiteAddress): Promise<void> {
  await request({ route: apiRoutes.releaseClaim, params: { volumeId }, schema: z.unknown(), site });
}

/** The operator's own escrow records (My volumes). */
export function fetchMyVolumes(site?: SiteAddress): Promise<EscrowRecord[]> {
  return request({ route: apiRoutes.myVolumes, schema: myVolumesSchema, site }).then(
    (r) => r.records,
  );
}

/** ES-2: an owner changes who may restore a volume. */
export function changeRestorers(
  volumeId: string,
  body: ChangeRestorersRequest,
  site?: SiteAddress,
): Promise<EscrowRecord> {
  return request({
    route: apiRoutes.changeRestorers,
    params: { volumeId },
    body,
    schema: escrowRecordSchema,
    site,
  });
}

/** The owner names a volume at its home site; an empty name removes it. */
export function setVolumeLabel(volumeId: string, label: string): Promise<EscrowRecord> {
  return request({
    route: apiRoutes.setVolumeLabel,
    params: { volumeId },
    body: { label },
    schema: escrowRecordSchema,
  });
}

/** The owner moves the expiry of their record; null removes it. */
export function setVolumeExpiry(volumeId: string, expiresAt: string | null): Promise<EscrowRecord> {
  return request({
    route: apiRoutes.setVolumeExpiry,
    params: { volumeId },
    body: { expiresAt },
    schema: escrowRecordSchema,
  });
}

/** AL-3: a page of the restores and refusals of one of the operator's own volumes, newest first. */
export function fetchVolumeActivity(
  volumeId: string,
  page: { before?: string; limit?: number } = {},
): Promise<VolumeActivityPage> {
  return request({
    route: apiRoutes.volumeActivity,
    params: { volumeId },
    query: { before: page.before, limit: page.limit },
    schema: volumeActivityPageSchema,
  });
}

/** A committed generation's signed manifest and receipt (RS-7, and dedup across generations). */
export function fetchGenerationManifest(
  volumeId: string,
  generation: number,
  site?: SiteAddress,
): Promise<GenerationManifest> {
  return request({
    route: apiRoutes.generationManifest,
    params: { volumeId, generation: String(generation) },
    schema: generationManifestSchema,
    site,
  });
}

/** The owner's new browser asks a site for the volume's chunk-ID key, signed by its device key. */
export function moveVolume(
  volumeId: string,
  body: MoveVolumeRequest,
  site?: SiteAddress,
): Promise<VolumeMove> {
  return request({
    route: apiRoutes.moveVolume,
    params: { volumeId },
    body,
    schema: volumeMoveSchema,
    site,
  });
}
