import type {
  Claim,
  DeviceKey,
  ErrorCode,
  EscrowRecord,
  P256PublicJwk,
  VolumeOwner,
} from '../../../../src/core/contract';
import { toBase64Url } from '../../../../src/core/crypto/bytes';
import {
  exportPublicKeySpki,
  importSigningPublicKeyJwk,
  publicKeyFingerprint,
} from '../../../../src/core/crypto/device-key';
import { DomainError } from '../errors';
import { KeyedMutex } from '../keyed-mutex';
import type { SiteLocks } from '../ports';
import { nowIso, type Caller, type EscrowDeps } from './context';
import { refuseNonOwner } from './non-owner';
import { rotationOf } from './pairs';
import type { RecordRow, VolumeRow } from './ports';

/** Whether `expiresAt` (null: never) is later than an administrator's `ceiling`. */
export function pastCeiling(expiresAt: string | null, ceiling: string | null | undefined): boolean {
  return Boolean(ceiling) && (expiresAt === null || expiresAt > ceiling!);
}

export const REGISTERED_TO_ANOTHER =
  'this volume is registered to another operator; it cannot be backed up or changed from your account.';

/**
 * Devices, volume ownership and claims (ID-6, BK-3, BK-8). A claim is taken
 * before any chunk is sent, so two operators cannot race for one volume ID;
 * a claim that never commits is collected after its time-to-live.
 */

export class VolumeService {
  /** Set by the pair service: a claim after a take-over makes a new primary (RC-3). */
  onNewPrimary?: (pairId: string, userId: string) => Promise<void>;

  private readonly collecting: SiteLocks;

  constructor(private readonly deps: EscrowDeps) {
    this.collecting = deps.locks ?? new KeyedMutex();
  }

  async registerDevice(caller: Caller, jwk: P256PublicJwk, label?: string): Promise<DeviceKey> {
    let publicKey: CryptoKey;
    try {
      publicKey = await importSigningPublicKeyJwk(jwk);
    } catch {
      throw new DomainError('invalid_request', 'The device key is not a P-256 public key.', 400);
    }
    const fingerprint = await publicKeyFingerprint(publicKey);
    const existing = await this.deps.store.devices.find(fingerprint);
    if (existing) {
      if (existing.userId !== caller.userId) {
        throw new DomainError(
          'device_key_taken',
          'This device key is registered to another user.',
          409,
        );
      }
      return toDeviceKey(existing);
    }
    const row = {
      fingerprint,
      userId: caller.userId,
      publicJwk: JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }),
      spki: toBase64Url(await exportPublicKeySpki(publicKey)),
      label: label ?? null,
      registeredAt: nowIso(this.deps),
    };
    await this.deps.audit.append({
      event: 'device_registered',
      actor: caller.userId,
      clientAddress: caller.clientAddress,
      details: { fingerprint, label: label ?? null },
    });
    await this.deps.store.devices.add(row);
    return toDeviceKey(row);
  }

  async devices(caller: Caller): Promise<DeviceKey[]> {
    return (await this.deps.store.devices.of(caller.userId)).map(toDeviceKey);
  }

  async owner(caller: Caller, volumeId: string): Promise<VolumeOwner> {
    await this.collectExpiredClaims();
    const volume = await this.deps.store.volumes.find(volumeId);
    if (!volume) return { volumeId, state: 'unregistered', owner: null, mine: false };
    return {
      volumeId,
      state: volume.state,
      owner: volume.owner,
      mine: volume.owner === caller.userId,
    };
  }

  /** BK-3: refuses another operator's volume with an overwrite_attempt alert. */
  async claim(caller: Caller, volumeId: string, resume: boolean): Promise<Claim> {
    await this.collectExpiredClaims();
    const now = this.deps.clock.now();
    const expires = new Date(now.getTime() + this.deps.claimTtlMs).toISOString();
    const existingPair = await this.deps.store.pairs.ofVolume(volumeId);
    const volume = await this.deps.store.volumes.insertIfAbsent({
      volumeId,
      owner: caller.userId,
      state: 'claimed',
      pairId: existingPair?.pairId ?? globalThis.crypto.randomUUID(),
      claimExpiresAt: expires,
      createdAt: now.toISOString(),
    });
    await this.assertOwner(caller, volume, 'back up');
    await this.deps.store.volumes.update(volumeId, { claimExpiresAt: expires });
    const pair =
      existingPair ?? (await this.ensurePair(volumeId, volume.pairId, now.toISOString()));
    if (!resume) await this.deps.store.transfers.dropBuffered(pair.pairId, pair.seqApplied);
    if (pair.state === 'SSWS') await this.onNewPrimary?.(pair.pairId, caller.userId);
    const buffered = resume
      ? await this.deps.store.transfers.buffered(pair.pairId, pair.seqApplied)
      : [];
    const latest = await this.deps.store.generations.latest(volumeId);
    const envelopes = await this.deps.store.envelopes.of(volumeId);
    const rotation = rotationOf(pair);
    await this.deps.audit.append({
      event: 'volume_claimed',
      actor: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
      details: { resume, nextGeneration: (latest?.generation ?? 0) + 1 },
    });
    return {
      volumeId,
      pairId: pair.pairId,
      claimExpiresAt: expires,
      nextGeneration: (latest?.generation ?? 0) + 1,
      previousManifestHash: latest?.manifestHash ?? null,
      seqApplied: pair.seqApplied,
      buffered: buffered.map((t) => t.seq),
      epochs: envelopes.map((e) => e.epoch).sort((a, b) => a - b),
      rotation: { everyBytes: rotation.everyBytes, everyMs: rotation.everyMs },
    };
  }

  /** Cancel (BK-7): gives up the claim; an uncommitted volume is forgotten with its chunks. */
  async releaseClaim(caller: Caller, volumeId: string): Promise<void> {
    const volume = await this.deps.store.volumes.find(volumeId);
    if (!volume) throw notFound(volumeId);
    await this.assertOwner(caller, volume, 'cancel the backup of');
    await this.deps.audit.append({
      event: 'claim_released',
      actor: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
    });
    if (volume.state === 'claimed') await this.forget(volume);
    else await this.deps.store.volumes.update(volumeId, { claimExpiresAt: null });
  }

  /** Collects claims that never committed once their time-to-live has passed (BK-8). */
  async collectExpiredClaims(): Promise<number> {
    // One collection at a time, on every instance of the site (SX-2), so a
    // claim is collected (and audited) once; each is read again just before,
    // so one that a transfer or a claim renewed since the list was read stays.
    return this.collecting.run('expired-claims', async () => {
      const expired = await this.deps.store.volumes.expiredClaims(nowIso(this.deps));
      let collected = 0;
      for (const listed of expired) {
        const volume = await this.deps.store.volumes.find(listed.volumeId);
        if (
          volume?.state !== 'claimed' ||
          volume.claimExpiresAt === null ||
          volume.claimExpiresAt >= nowIso(this.deps)
        )
          continue;
        await this.collect(volume);
        collected += 1;
      }
      return collected;
    });
  }

  private async collect(volume: VolumeRow): Promise<void> {
    await this.deps.audit.append({
      event: 'claim_expired',
      actor: null,
      volumeId: volume.volumeId,
      details: { owner: volume.owner },
    });
    await this.forget(volume);
  }

  async myVolumes(caller: Caller): Promise<EscrowRecord[]> {
    const records = await this.deps.store.records.ownedBy(caller.userId);
    return Promise.all(records.map((r) => this.describe(r)));
  }

  /** The owner names a volume (another browser of theirs sees the name); an empty name removes it. */
  async setLabel(caller: Caller, volumeId: string, label: string): Promise<EscrowRecord> {
    const record = await this.deps.store.records.find(volumeId);
    if (!record) throw notFound(volumeId);
    if (record.owner !== caller.userId) {
      await refuseNonOwner(
        this.deps,
        caller,
        record,
        'name',
        new DomainError('forbidden', 'Only the owner of this volume can name it.', 403),
      );
    }
    const name = label.trim() || null;
    await this.deps.audit.append({
      event: 'volume_labelled',
      actor: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
      details: { label: name },
    });
    await this.deps.store.records.setLabel(volumeId, name, nowIso(this.deps));
    return this.describe((await this.deps.store.records.find(volumeId))!);
  }

  /**
   * The owner moves the expiry of their record: earlier, later or away, but
   * never past the latest expiry an administrator set (the record's
   * ceiling), which only an administrator lifts. Audited, refusals too.
   */
  async changeExpiry(
    caller: Caller,
    volumeId: string,
    expiresAt: string | null,
  ): Promise<EscrowRecord> {
    const record = await this.deps.store.records.find(volumeId);
    if (!record) throw notFound(volumeId);
    const from = record.policy.expiresAt;
    const refuse = async (code: ErrorCode, message: string, status: number): Promise<never> => {
      await this.deps.audit.append({
        event: 'expiry_change_refused',
        actor: caller.userId,
        volumeId,
        clientAddress: caller.clientAddress,
        details: { code, from, asked: expiresAt },
      });
      throw new DomainError(code, message, status);
    };
    if (record.owner !== caller.userId)
      return refuse('forbidden', 'Only the owner of this volume can change its expiry.', 403);
    if (record.state === 'revoked') {
      return refuse(
        'record_revoked',
        'An administrator revoked the escrow record of this volume; its expiry no longer matters.',
        409,
      );
    }
    if (expiresAt !== null && expiresAt <= nowIso(this.deps))
      return refuse('expired_policy', 'The chosen expiry date has already passed.', 400);
    if (pastCeiling(expiresAt, record.expiryCeiling)) {
      return refuse(
        'expiry_set_by_administrator',
        `An administrator set the expiry of this volume to ${record.expiryCeiling}; only an administrator can move it later.`,
        403,
      );
    }
    if (expiresAt === from) return this.describe(record);
    await this.deps.audit.append({
      event: 'expiry_changed',
      actor: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
      details: { from, to: expiresAt, by: 'owner' },
    });
    const updated: RecordRow = {
      ...record,
      policy: { ...record.policy, expiresAt },
      updatedAt: nowIso(this.deps),
    };
    await this.deps.store.records.upsert(updated);
    return this.describe(updated);
  }

  /** ES-2: an owner (or an administrator) changes who may restore a volume. */
  async changeRestorers(
    caller: Caller,
    volumeId: string,
    change: { add: readonly string[]; remove: readonly string[]; reason: string },
  ): Promise<EscrowRecord> {
    const record = await this.deps.store.records.find(volumeId);
    if (!record) throw notFound(volumeId);
    const isAdmin = caller.roles.includes('admin');
    if (record.owner !== caller.userId && !isAdmin) {
      await refuseNonOwner(
        this.deps,
        caller,
        record,
        'change the restorers of',
        new DomainError(
          'forbidden',
          'Only the owner or an administrator can change the restorers of this volume.',
          403,
        ),
      );
    }
    if (change.remove.includes(record.owner)) {
      throw new DomainError(
        'owner_is_restorer',
        'The owner of a volume is always one of its restorers and cannot be removed.',
        400,
      );
    }
    await this.assertUsersExist(change.add);
    const restorers = [
      ...new Set([...record.restorers.filter((r) => !change.remove.includes(r)), ...change.add]),
    ].sort();
    await this.deps.audit.append({
      event: 'restorers_changed',
      actor: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
      details: { add: [...change.add], remove: [...change.remove], reason: change.reason },
    });
    const updated: RecordRow = { ...record, restorers, updatedAt: nowIso(this.deps) };
    await this.deps.store.records.upsert(updated);
    if (caller.userId !== record.owner) {
      // ES-2: the owner hears of changes made by an administrator.
      this.deps.events.publish(
        {
          type: 'record',
          volumeId,
          change: 'restorers_changed',
          by: caller.userId,
          reason: change.reason,
          at: updated.updatedAt,
        },
        { kind: 'user', userId: record.owner },
      );
    }
    return this.describe(updated);
  }

  async describe(record: RecordRow): Promise<EscrowRecord> {
    const generations = await this.deps.store.generations.of(record.volumeId);
    const latest = generations.at(-1);
    return {
      volumeId: record.volumeId,
      label: record.label ?? null,
      owner: record.owner,
      restorers: [...record.restorers],
      policy: record.policy,
      state: record.state,
      generations: generations.length,
      latestGeneration: latest?.generation ?? 0,
      bytes: latest?.size ?? 0,
      lastBackupAt: latest?.committedAt ?? null,
      releases: await this.deps.store.releases.count(record.volumeId),
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    };
  }

  async assertUsersExist(userIds: readonly string[]): Promise<void> {
    for (const userId of userIds) {
      const user = await this.deps.users.find(userId);
      if (!user || user.disabled) {
        throw new DomainError(
          'unknown_restorer',
          `There is no active user named "${userId}" to name as a restorer.`,
          400,
          {
            userId,
          },
        );
      }
    }
  }

  /**
   * May the caller read this volume's ciphertext (RS-4)? The owner, its
   * registered restorers and administrators. Anyone else gets the very
   * answer an unknown volume gets, so chunk reads do not tell which volume
   * IDs the site holds; the refusal is still audited and alerted.
   */
  async assertMayReadChunks(caller: Caller, volumeId: string): Promise<void> {
    if (caller.roles.includes('admin')) return;
    const record = await this.deps.store.records.find(volumeId);
    const volume = record ? undefined : await this.deps.store.volumes.find(volumeId);
    if (!record && !volume) throw notFound(volumeId);
    const owner = record?.owner ?? volume!.owner;
    if (owner === caller.userId || record?.restorers.includes(caller.userId)) return;
    await this.deps.audit.append({
      event: 'restore_refused',
      actor: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
      details: { reason: 'not_registered', action: 'read_chunk' },
    });
    await this.deps.alerts.raise({
      kind: 'unauthorized_restorer',
      userId: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
      message: { code: 'chunk_unauthorized', params: { userId: caller.userId, volumeId } },
      sentence: `${caller.userId} asked for a chunk of volume ${volumeId} without being registered as its restorer (unauthorized use).`,
    });
    throw notFound(volumeId);
  }

  /** Refuses anyone but the owner, raising the overwrite alert (BK-3). */
  async assertOwner(caller: Caller, volume: VolumeRow, action: string): Promise<void> {
    if (volume.owner === caller.userId) return;
    await refuseNonOwner(
      this.deps,
      caller,
      volume,
      action,
      new DomainError('registered_to_another_operator', REGISTERED_TO_ANOTHER, 409, {
        volumeId: volume.volumeId,
      }),
    );
  }

  /** The pair of a volume at this site (RC-1), created with its first claim. */
  private async ensurePair(volumeId: string, pairId: string, at: string) {
    const inserted = {
      pairId,
      volumeId,
      state: 'COPY',
      seqApplied: 0,
      seqReceived: 0,
      bytes: 0,
      chunksReceived: 0,
      lastTransferAt: null,
      lastError: null,
      createdAt: at,
      unhealthyReason: null,
      stateSince: at,
      cutSeq: null,
      lastHeartbeatAt: null,
      heartbeat: null,
      rotationEveryBytes: null,
      rotationEveryMs: null,
    };
    try {
      await this.deps.store.pairs.insert(inserted);
      return inserted;
    } catch (error) {
      const raced = await this.deps.store.pairs.ofVolume(volumeId);
      if (raced) return raced;
      throw error;
    }
  }

  private async forget(volume: VolumeRow): Promise<void> {
    const committed = await this.deps.store.generations.latest(volume.volumeId);
    if (committed) {
      await this.deps.store.volumes.update(volume.volumeId, {
        state: 'registered',
        claimExpiresAt: null,
      });
      return;
    }
    const chunks = await this.deps.store.chunks.of(volume.volumeId);
    for (const chunk of chunks) await this.deps.blobs.delete(volume.volumeId, chunk.chunkId);
    await this.deps.store.chunks.delete(
      volume.volumeId,
      chunks.map((c) => c.chunkId),
    );
    const pair = await this.deps.store.pairs.ofVolume(volume.volumeId);
    if (pair) await this.deps.store.transfers.dropBuffered(pair.pairId, pair.seqApplied);
    await this.deps.store.volumes.delete(volume.volumeId);
  }
}

function toDeviceKey(row: {
  fingerprint: string;
  userId: string;
  label: string | null;
  registeredAt: string;
}): DeviceKey {
  return {
    fingerprint: row.fingerprint,
    userId: row.userId,
    label: row.label,
    registeredAt: row.registeredAt,
  };
}

export function notFound(volumeId: string): DomainError {
  return new DomainError('volume_not_found', `The site has no volume ${volumeId}.`, 404, {
    volumeId,
  });
}
