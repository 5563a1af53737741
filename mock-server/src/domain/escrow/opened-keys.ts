import type { VolumeKeys } from '../../../../src/core/crypto/keys';

interface Opened {
  /** The stored envelope text these keys came from. */
  readonly envelope: string;
  readonly keys: VolumeKeys;
}

/** Volumes whose opened keys are kept; the least recently released goes first. */
const DEFAULT_CAPACITY = 1024;

/**
 * Escrow envelopes the site has already opened with its escrow private key
 * (which it holds in memory anyway), so that the releases of a reusable
 * volume do not each repeat the ECDH of opening them (RS-3). A hit needs the
 * very envelope text stored now for that volume and epoch, so the cache never
 * answers for keys the database no longer holds; and it is only a cache of
 * cryptography: whether a key may be released is decided on the record read
 * anew for every request. The escrow rules drop a volume's keys when its
 * record is revoked, used up, expired, re-armed or changes owner.
 *
 * Safe when the site runs as several instances (SX-2), each with a cache of
 * its own: another instance's change to a record or an envelope is not
 * heard here, but every hit is checked against the envelope text read from
 * the shared database for that request, and the decision to release is
 * taken on the record read anew; a dropped entry only costs an ECDH again.
 */
export class OpenedKeyCache {
  private readonly volumes = new Map<string, Map<number, Opened>>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  get(volumeId: string, epoch: number, envelope: string): VolumeKeys | undefined {
    const epochs = this.volumes.get(volumeId);
    const hit = epochs?.get(epoch);
    if (!epochs || !hit) return undefined;
    if (hit.envelope !== envelope) {
      epochs.delete(epoch);
      return undefined;
    }
    // Map order is insertion order: move the volume to the end (most recent).
    this.volumes.delete(volumeId);
    this.volumes.set(volumeId, epochs);
    return hit.keys;
  }

  set(volumeId: string, epoch: number, envelope: string, keys: VolumeKeys): void {
    let epochs = this.volumes.get(volumeId);
    if (!epochs) {
      epochs = new Map();
      this.volumes.set(volumeId, epochs);
      if (this.volumes.size > this.capacity) {
        this.volumes.delete(this.volumes.keys().next().value!);
      }
    }
    epochs.set(epoch, { envelope, keys });
  }

  forget(volumeId: string): void {
    this.volumes.delete(volumeId);
  }

  /** Whether any opened key of the volume is held (for tests of the rules above). */
  holds(volumeId: string): boolean {
    return (this.volumes.get(volumeId)?.size ?? 0) > 0;
  }
}
