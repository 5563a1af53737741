/**
 * A volume's backups moving to another browser of its owner (docs/FORMAT.md
 * "Moving a volume to another device"): the new browser's device key signs
 * what it asks for, so that the site hands the volume's chunk-ID key (never a
 * data key) only to a device key the owner registered and holds.
 */

import { canonicalJson } from './canonical-json';
import { fromBase64Url, toBase64Url } from './bytes';
import { signBytes, verifyBytes } from './device-key';

export const VOLUME_MOVE_TYPE = 'custodian-volume-move';

export interface VolumeMoveStatement {
  readonly volumeId: string;
  /** The latest generation: the chunk-ID key comes from the envelope of its lowest epoch. */
  readonly generation: number;
  /** Fingerprint of the device key that signs this and gets the key. */
  readonly deviceFingerprint: string;
  /** The browser's ephemeral ECDH key the site seals the chunk-ID key to. */
  readonly ephemeralPublicKey: {
    readonly kty: 'EC';
    readonly crv: 'P-256';
    readonly x: string;
    readonly y: string;
  };
}

/** The signed bytes: canonical JSON of the statement with its type and format. */
export function volumeMoveBytes(statement: VolumeMoveStatement): Uint8Array {
  const { kty, crv, x, y } = statement.ephemeralPublicKey;
  return canonicalJson({
    type: VOLUME_MOVE_TYPE,
    format: 1,
    volumeId: statement.volumeId,
    generation: statement.generation,
    deviceFingerprint: statement.deviceFingerprint,
    ephemeralPublicKey: { kty, crv, x, y },
  });
}

/** The device key's signature of a move, base64url (P1363, 64 bytes). */
export async function signVolumeMove(
  devicePrivateKey: CryptoKey,
  statement: VolumeMoveStatement,
): Promise<string> {
  return toBase64Url(await signBytes(devicePrivateKey, volumeMoveBytes(statement)));
}

/** True if `signature` is the device key's signature of this move. */
export async function verifyVolumeMove(
  devicePublicKey: CryptoKey,
  statement: VolumeMoveStatement,
  signature: string,
): Promise<boolean> {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(signature);
  } catch {
    return false;
  }
  return verifyBytes(devicePublicKey, bytes, volumeMoveBytes(statement));
}
