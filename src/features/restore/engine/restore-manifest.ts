/**
 * The signed index a restore checks every chunk against (RS-5, RS-7): from
 * the local copy when this browser made the generation (RS-4: the same
 * signed index, and no wait for a site that may be away), otherwise the
 * generation's manifest from the site. Either way
 * its signature is verified with the device key it names before anything is
 * trusted, and its sealed part (image SHA-256, name, size) is opened with the
 * released keys.
 */

import type { RetryPolicy } from '@/shared/api/request';
import { withBackoff } from '@/shared/api/restore';
import { fetchGenerationManifest } from '@/shared/api/volumes';
import {
  exportPublicKeySpki,
  fromBase64Url,
  importSigningPublicKeySpki,
  MalformedManifestError,
  openManifestSecret,
  parseManifest,
  toBase64Url,
  verifyManifestSignature,
  type ManifestSecret,
  type SignedManifest,
  type VolumeKeys,
} from '@/core/crypto';
import { localManifest } from './restore-local-copies';

export interface VerifiedManifest {
  readonly manifest: SignedManifest;
  /** DER SPKI (base64url) of the device key whose signature was verified. */
  readonly devicePublicKey: string;
}

export interface ManifestRequest {
  readonly userId: string;
  readonly volumeId: string;
  readonly generation: number;
  /** Kept from an earlier start of the same restore. */
  readonly kept?: VerifiedManifest;
  readonly retry?: RetryPolicy;
  readonly signal?: AbortSignal;
}

async function verified(
  manifest: SignedManifest,
  devicePublicKey: string,
  volumeId: string,
  generation: number,
): Promise<VerifiedManifest> {
  const parsed = parseManifest(manifest);
  if (parsed.index.volumeId !== volumeId || parsed.index.generation !== generation) {
    throw new MalformedManifestError(
      `it describes generation ${parsed.index.generation} of ${parsed.index.volumeId}, not generation ${generation} of ${volumeId}.`,
    );
  }
  let key: CryptoKey;
  try {
    key = await importSigningPublicKeySpki(fromBase64Url(devicePublicKey));
  } catch (cause) {
    throw new MalformedManifestError('the key that signed it is not known to the site.', { cause });
  }
  await verifyManifestSignature(parsed, key);
  return { manifest: parsed, devicePublicKey };
}

/** The generation's manifest with a verified signature (throws BadSignatureError otherwise). */
export async function loadVerifiedManifest(request: ManifestRequest): Promise<VerifiedManifest> {
  const { volumeId, generation } = request;
  if (request.kept) {
    return verified(request.kept.manifest, request.kept.devicePublicKey, volumeId, generation);
  }
  const local = await localManifest(request.userId, volumeId, generation);
  if (local) {
    const spki = toBase64Url(await exportPublicKeySpki(local.deviceKey));
    return verified(local.manifest, spki, volumeId, generation);
  }
  const answer = await withBackoff(
    () => fetchGenerationManifest(volumeId, generation),
    request.retry,
    request.signal,
  );
  return verified(answer.manifest, answer.devicePublicKey, volumeId, generation);
}

/** Opens the sealed part with the released keys: what the image must be at the end. */
export function openSecret(manifest: SignedManifest, keys: VolumeKeys): Promise<ManifestSecret> {
  return openManifestSecret(manifest, keys.dataKeys);
}
