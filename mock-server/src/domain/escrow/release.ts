import type {
  AlertMessageCode,
  ErrorCode,
  GenerationManifest,
  KeyRelease,
  KeyReleaseRequest,
  MoveVolumeRequest,
  RestorableVolume,
  VolumeMove,
} from '../../../../src/core/contract';
import { importSigningPublicKeyJwk } from '../../../../src/core/crypto/device-key';
import { openEnvelope, rewrapEnvelope, sealEnvelope } from '../../../../src/core/crypto/envelope';
import { verifyVolumeMove } from '../../../../src/core/crypto/volume-move';
import { KeySharesError } from '../../../../src/core/crypto/errors';
import { rewrapShareEnvelopes } from '../../../../src/core/crypto/key-shares';
import type { VolumeKeys } from '../../../../src/core/crypto/keys';
import { manifestEpochs, parseManifest } from '../../../../src/core/crypto/manifest';
import type { Receipt } from '../../../../src/core/crypto/receipt';
import { DomainError } from '../errors';
import type { AuditInput } from '../audit';
import { inOneCommit, nowIso, type Caller, type EscrowDeps } from './context';
import { holdPoint } from './hold-points';
import { OpenedKeyCache } from './opened-keys';
import type { GenerationRow, RecordRow, ReleaseRow } from './ports';

/** RS-3, seed 000 [0110]: what a refused restorer is told when there is no key. */
export const NO_KEY_SENTENCE =
  'no key for this volume: it may already have been decrypted, or the medium may have been tampered with.';
const NO_RECORD = 'no escrow record exists for this volume ID';
export const UNAUTHORIZED_USE =
  'unauthorized use: you are not registered as a restorer of this volume.';

/** The words release refusals use for a record that can no longer release (activity.ts reads them). */
export const REVOKED_WHY = 'its escrow record was revoked by an administrator';
export const EXPIRED_WHY = 'its escrow record has expired';

/** Why a pending request of someone no longer registered ended (item of the release row). */
export const NOT_REGISTERED_WHY =
  'the requester is no longer registered as a restorer of this volume';

/** The message of a "no key" refusal, by the words `noKey` was given. */
function noKeyCode(why: string): AlertMessageCode {
  if (why === NO_RECORD) return 'key_no_record';
  if (why.endsWith('already received the key once')) return 'key_had_once';
  return 'key_used_up';
}

function registered(record: RecordRow, userId: string): boolean {
  return record.owner === userId || record.restorers.includes(userId);
}

/**
 * The restorer's ephemeral public key, imported as the re-wrap will use it:
 * a point off the curve, (0,0) or coordinates beyond the field are refused
 * here, before anything is stored or a pending approval waits on it.
 */
async function assertEphemeralKey(jwk: KeyReleaseRequest['ephemeralPublicKey']): Promise<void> {
  try {
    await globalThis.crypto.subtle.importKey(
      'jwk',
      { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
      { name: 'ECDH', namedCurve: 'P-256' },
      true,
      [],
    );
  } catch {
    throw new DomainError(
      'invalid_ephemeral_key',
      'The ephemeral public key is not a valid P-256 point; generate a new key pair and ask again.',
      400,
    );
  }
}

function unusableBecause(record: RecordRow, now: string): 'revoked' | 'expired' | null {
  if (record.state === 'revoked') return 'revoked';
  if (record.policy.expiresAt && record.policy.expiresAt <= now) return 'expired';
  return null;
}

/**
 * Key release and what a restorer may read (RS-1..RS-3, RS-7). The first
 * check is always whether the caller is a registered restorer or the owner
 * (seed 000 [0064]); only then the record's state, expiry and policy.
 */
export class ReleaseService {
  /** Escrow envelopes already opened, per volume and epoch (see OpenedKeyCache). */
  readonly openedKeys = new OpenedKeyCache();

  constructor(private readonly deps: EscrowDeps) {}

  /** Drops the opened keys of a volume whose record changed (revoked, re-armed, new owner, expiry). */
  forgetKeys(volumeId: string): void {
    this.openedKeys.forget(volumeId);
  }

  async request(caller: Caller, volumeId: string, body: KeyReleaseRequest): Promise<KeyRelease> {
    const { store } = this.deps;
    const earlier = await store.releases.find(body.requestId);
    if (earlier) return this.replay(caller, earlier, volumeId);

    const record = await store.records.find(volumeId);
    if (!record) return this.noKey(caller, volumeId, NO_RECORD);
    await this.assertMayRestore(caller, record);
    const generation = await store.generations.find(volumeId, body.generation);
    if (!generation) {
      throw new DomainError(
        'generation_not_found',
        `Volume ${volumeId} has no generation ${body.generation}.`,
        404,
      );
    }
    if (record.state === 'burned') {
      this.forgetKeys(volumeId);
      return this.noKey(caller, volumeId, 'the one-time record was already used');
    }
    await this.refuseUnusable(caller, record);
    await this.refuseKeysElsewhere(caller, record);
    await assertEphemeralKey(body.ephemeralPublicKey);

    const base = {
      requestId: body.requestId,
      userId: caller.userId,
      volumeId,
      generation: body.generation,
      ephemeralJwk: JSON.stringify(body.ephemeralPublicKey),
      envelope: null,
      reason: null,
      decidedBy: null,
      createdAt: nowIso(this.deps),
      decidedAt: null,
    };
    if (
      record.policy.kind === 'once-per-restorer' &&
      (await this.releasedTo(volumeId, caller.userId))
    ) {
      return this.noKey(caller, volumeId, `${caller.userId} already received the key once`);
    }
    if (record.policy.approvalRequired) {
      // The stored row decides: of requests sent together with one ID, one
      // is stored and audited, and the others get its answer.
      const raced = await inOneCommit(this.deps, async (tx) => {
        if (!(await tx.store.releases.insert({ ...base, state: 'pending_approval' })))
          return tx.store.releases.find(body.requestId);
        await this.deps.audit.append(
          {
            event: 'key_release_requested',
            actor: caller.userId,
            volumeId,
            clientAddress: caller.clientAddress,
            details: {
              requestId: body.requestId,
              generation: body.generation,
              approval: 'required',
            },
          },
          tx,
        );
        return undefined;
      });
      if (raced) return this.replay(caller, raced, volumeId);
      this.deps.events.publish(
        {
          type: 'approval',
          kind: 'key_release',
          requestId: body.requestId,
          volumeId,
          userId: caller.userId,
          at: base.createdAt,
        },
        { kind: 'admins' },
      );
      return {
        state: 'pending_approval',
        requestId: body.requestId,
        volumeId,
        generation: body.generation,
      };
    }
    return this.release(
      caller.userId,
      record,
      { ...base, state: 'released' },
      caller.clientAddress,
      false,
      generation,
    );
  }

  /**
   * The owner's new browser continues a volume (backups move to device D):
   * the site passes on the chunk-ID key, or its share of it, from the
   * envelope of the generation's lowest epoch, sealed to the browser's
   * ephemeral key, which the owner's registered device key signed. No data
   * key leaves: this is no restore, and the new browser starts a new epoch.
   * Anyone but the owner is refused, audited and alerted.
   */
  async moveToDevice(
    caller: Caller,
    volumeId: string,
    body: MoveVolumeRequest,
  ): Promise<VolumeMove> {
    const { store } = this.deps;
    const refuse = async (
      code: ErrorCode,
      why: string,
      sentence: string,
      status: number,
      alert = false,
    ): Promise<never> => {
      await this.deps.audit.append({
        event: 'volume_move_refused',
        actor: caller.userId,
        volumeId,
        clientAddress: caller.clientAddress,
        details: { why, device: body.deviceFingerprint },
      });
      if (alert) {
        await this.deps.alerts.raise({
          kind: 'overwrite_attempt',
          userId: caller.userId,
          volumeId,
          clientAddress: caller.clientAddress,
          message: { code: 'move_not_owner', params: { userId: caller.userId, volumeId } },
          sentence: `${caller.userId} asked for the backup key of volume ${volumeId} without owning it.`,
        });
      }
      throw new DomainError(code, sentence, status, { volumeId });
    };
    const record = await store.records.find(volumeId);
    if (!record || record.owner !== caller.userId) {
      const volume = record ? undefined : await store.volumes.find(volumeId);
      if (!record && (!volume || volume.owner === caller.userId)) {
        return refuse(
          'volume_not_found',
          'no committed generation',
          `The site holds no committed generation of ${volumeId}: there is nothing to continue.`,
          404,
        );
      }
      return refuse(
        'forbidden',
        'not the owner',
        'Only the owner of this volume can continue its backups on another browser.',
        403,
        true,
      );
    }
    if (record.keysAt && record.keysAt !== this.deps.siteId) {
      const keeper = (await this.deps.trustedSiteName(record.keysAt)) ?? record.keysAt;
      return refuse(
        'keys_elsewhere',
        `keys escrowed at ${keeper}`,
        `This site keeps only the ciphertext of volume ${volumeId}; its keys are escrowed at ${keeper}.`,
        409,
      );
    }
    const device = await store.devices.find(body.deviceFingerprint);
    if (!device || device.userId !== caller.userId) {
      return refuse(
        'device_not_registered',
        'device key not registered to the owner',
        "This browser's device key is not registered to you at this site: sign in again and retry.",
        403,
      );
    }
    const statement = {
      volumeId,
      generation: body.generation,
      deviceFingerprint: body.deviceFingerprint,
      ephemeralPublicKey: body.ephemeralPublicKey,
    };
    const devicePublicKey = await importSigningPublicKeyJwk(
      JSON.parse(device.publicJwk) as JsonWebKey,
    );
    if (!(await verifyVolumeMove(devicePublicKey, statement, body.signature))) {
      return refuse(
        'bad_signature',
        'signature does not verify',
        "The request is not signed by this browser's device key.",
        400,
        true,
      );
    }
    await assertEphemeralKey(body.ephemeralPublicKey);
    const generation = await store.generations.find(volumeId, body.generation);
    if (!generation) {
      throw new DomainError(
        'generation_not_found',
        `Volume ${volumeId} has no generation ${body.generation}.`,
        404,
      );
    }
    const lowest = Math.min(...manifestEpochs(parseManifest(generation.manifest)));
    const source = (await store.envelopes.of(volumeId)).find((e) => e.epoch === lowest);
    if (!source) {
      throw new DomainError(
        'keys_missing',
        `The site does not hold the key of generation ${body.generation}.`,
        409,
      );
    }
    const ephemeral = JSON.parse(JSON.stringify(body.ephemeralPublicKey)) as JsonWebKey;
    const context = {
      purpose: 'move' as const,
      volumeId,
      epochs: [],
      generation: body.generation,
    };
    const envelope =
      (await rewrapShareEnvelopes(
        [source],
        this.deps.keys.escrow.privateKey,
        ephemeral,
        context,
      )) ??
      (await rewrapEnvelope(source.envelope, this.deps.keys.escrow.privateKey, ephemeral, context));
    await this.deps.audit.append({
      event: 'volume_moved',
      actor: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
      details: {
        device: body.deviceFingerprint,
        deviceLabel: device.label,
        generation: body.generation,
      },
    });
    return { volumeId, generation: body.generation, envelope };
  }

  /** Lost answer (RS-3): the same user with the same request ID gets it again; anyone else gets nothing. */
  async fetch(caller: Caller, volumeId: string, requestId: string): Promise<KeyRelease> {
    const earlier = await this.deps.store.releases.find(requestId);
    if (!earlier)
      throw new DomainError(
        'release_not_found',
        'There is no key release with this request ID.',
        404,
      );
    return this.replay(caller, earlier, volumeId);
  }

  /** An administrator other than the requester decides a pending release (BK-5). */
  async decide(
    admin: Caller,
    requestId: string,
    approve: boolean,
    reason: string,
  ): Promise<KeyRelease> {
    const release = await this.deps.store.releases.find(requestId);
    if (!release || release.state !== 'pending_approval') {
      throw new DomainError(
        'approval_not_found',
        'There is no pending key release with this request ID.',
        404,
      );
    }
    if (release.userId === admin.userId) {
      throw new DomainError(
        'self_approval',
        'Nobody approves their own request: another administrator must decide.',
        403,
      );
    }
    const decided = { decidedBy: admin.userId, decidedAt: nowIso(this.deps), reason };
    if (!approve) {
      const stillPending = await inOneCommit(this.deps, async (tx) => {
        if ((await tx.store.releases.find(requestId))?.state !== 'pending_approval') return false;
        await tx.store.releases.update(requestId, { state: 'denied', ...decided });
        await this.deps.audit.append(
          {
            event: 'key_release_denied',
            actor: admin.userId,
            volumeId: release.volumeId,
            clientAddress: admin.clientAddress,
            details: { requestId, requester: release.userId, reason },
          },
          tx,
        );
        return true;
      });
      if (!stillPending) throw this.decidedMeanwhile();
      this.publishDecision(release, 'denied');
      return {
        state: 'denied',
        requestId,
        volumeId: release.volumeId,
        generation: release.generation,
        reason,
      };
    }
    const record = await this.deps.store.records.find(release.volumeId);
    // Registration first (seed 000 [0064]): approval does not outlive it.
    if (!record || !registered(record, release.userId)) {
      await this.refuseUnregistered(release, admin.userId, admin.clientAddress);
      throw new DomainError(
        'requester_not_registered',
        `${release.userId} is no longer registered as a restorer of ${release.volumeId}; the request was refused, not approved.`,
        409,
        { requestId, requester: release.userId },
      );
    }
    if (record.state === 'burned') {
      throw new DomainError(
        'key_not_found',
        `The record of ${release.volumeId} was used up meanwhile; nothing to approve.`,
        409,
      );
    }
    this.assertUsable(record);
    const answer = await this.release(
      release.userId,
      record,
      { ...release, ...decided, state: 'released' },
      null,
      true,
      undefined,
      {
        event: 'key_release_approved',
        actor: admin.userId,
        volumeId: release.volumeId,
        clientAddress: admin.clientAddress,
        details: { requestId, requester: release.userId, reason },
      },
    );
    this.publishDecision(release, 'released');
    return answer;
  }

  private decidedMeanwhile(): DomainError {
    return new DomainError(
      'approval_not_found',
      'There is no pending key release with this request ID.',
      404,
    );
  }

  /**
   * A pending request whose requester is no longer registered ends refused,
   * with its audit entry in the same commit, and an alert for administrators
   * and the owner.
   */
  private async refuseUnregistered(
    release: ReleaseRow,
    by: string | null,
    clientAddress: string | null,
  ): Promise<void> {
    const ended = await inOneCommit(this.deps, async (tx) => {
      if ((await tx.store.releases.find(release.requestId))?.state !== 'pending_approval')
        return false;
      await tx.store.releases.update(release.requestId, {
        state: 'denied',
        reason: NOT_REGISTERED_WHY,
        decidedBy: by,
        decidedAt: nowIso(this.deps),
      });
      await this.deps.audit.append(
        {
          event: 'key_release_denied',
          actor: by ?? release.userId,
          volumeId: release.volumeId,
          clientAddress,
          details: {
            requestId: release.requestId,
            requester: release.userId,
            reason: NOT_REGISTERED_WHY,
          },
        },
        tx,
      );
      return true;
    });
    if (!ended) return;
    await this.deps.alerts.raise({
      kind: 'unauthorized_restorer',
      userId: release.userId,
      volumeId: release.volumeId,
      clientAddress,
      message: {
        code: 'release_not_registered',
        params: { userId: release.userId, volumeId: release.volumeId },
      },
      sentence: `The key-release request of ${release.userId} for volume ${release.volumeId} was refused: ${NOT_REGISTERED_WHY}.`,
    });
    this.publishDecision(release, 'denied');
  }

  async pendingApprovals(): Promise<ReleaseRow[]> {
    return this.deps.store.releases.pending();
  }

  async restorable(caller: Caller): Promise<RestorableVolume[]> {
    const records = await this.deps.store.records.naming(caller.userId);
    const now = nowIso(this.deps);
    const result: RestorableVolume[] = [];
    for (const record of records) {
      const generations = await this.deps.store.generations.of(record.volumeId);
      let unavailable: RestorableVolume['unavailable'] = null;
      if (record.state === 'burned') unavailable = 'burned';
      else if (record.state === 'revoked') unavailable = 'revoked';
      else if (record.policy.expiresAt && record.policy.expiresAt <= now) unavailable = 'expired';
      else if (
        record.policy.kind === 'once-per-restorer' &&
        (await this.releasedTo(record.volumeId, caller.userId))
      ) {
        unavailable = 'used_by_you';
      } else if (await this.deps.store.releases.hasPending(record.volumeId, caller.userId)) {
        unavailable = 'awaiting_approval';
      }
      result.push({
        volumeId: record.volumeId,
        owner: record.owner,
        policy: record.policy,
        state: record.state,
        unavailable,
        generations: generations.map((g) => ({
          generation: g.generation,
          manifestHash: g.manifestHash,
          size: g.size,
          chunks: g.chunks,
          committedAt: g.committedAt,
        })),
      });
    }
    return result;
  }

  /** The signed manifest of a generation, for registered restorers and the owner. */
  async manifest(
    caller: Caller,
    volumeId: string,
    generation: number,
  ): Promise<GenerationManifest> {
    const record = await this.deps.store.records.find(volumeId);
    if (!record) return this.noKey(caller, volumeId, NO_RECORD);
    await this.assertMayRestore(caller, record);
    const row = await this.deps.store.generations.find(volumeId, generation);
    if (!row)
      throw new DomainError(
        'generation_not_found',
        `Volume ${volumeId} has no generation ${generation}.`,
        404,
      );
    const device = await this.deps.store.devices.find(row.deviceFingerprint);
    return {
      volumeId,
      generation,
      manifest: parseManifest(row.manifest),
      devicePublicKey: device?.spki ?? '',
      receipt: JSON.parse(row.receipt) as Receipt,
    };
  }

  /** May the caller read this volume's ciphertext? Owner, restorers, administrators. */
  async assertMayRead(caller: Caller, volumeId: string): Promise<void> {
    if (caller.roles.includes('admin')) return;
    const record = await this.deps.store.records.find(volumeId);
    if (record) return this.assertMayRestore(caller, record);
    const volume = await this.deps.store.volumes.find(volumeId);
    if (volume?.owner === caller.userId) return;
    throw new DomainError('volume_not_found', `The site has no volume ${volumeId}.`, 404);
  }

  async assertMayRestore(caller: Caller, record: RecordRow): Promise<void> {
    if (record.owner === caller.userId || record.restorers.includes(caller.userId)) return;
    await this.deps.audit.append({
      event: 'restore_refused',
      actor: caller.userId,
      volumeId: record.volumeId,
      clientAddress: caller.clientAddress,
      details: { reason: 'not_registered' },
    });
    await this.deps.alerts.raise({
      kind: 'unauthorized_restorer',
      userId: caller.userId,
      volumeId: record.volumeId,
      clientAddress: caller.clientAddress,
      message: {
        code: 'restore_not_registered',
        params: { userId: caller.userId, volumeId: record.volumeId },
      },
      sentence: `${caller.userId} asked for volume ${record.volumeId} without being registered as its restorer (unauthorized use).`,
    });
    throw new DomainError('unauthorized_use', UNAUTHORIZED_USE, 403, { volumeId: record.volumeId });
  }

  /**
   * A registered restorer asking for a revoked or expired record is refused
   * like anyone else: audited, and an alert for administrators and the owner.
   */
  private async refuseUnusable(caller: Caller, record: RecordRow): Promise<void> {
    const why = unusableBecause(record, nowIso(this.deps));
    if (!why) return;
    this.forgetKeys(record.volumeId);
    await this.deps.audit.append({
      event: 'key_not_found',
      actor: caller.userId,
      volumeId: record.volumeId,
      clientAddress: caller.clientAddress || null,
      details: { why: why === 'revoked' ? REVOKED_WHY : EXPIRED_WHY },
    });
    await this.deps.alerts.raise({
      kind: 'key_not_found',
      userId: caller.userId,
      volumeId: record.volumeId,
      clientAddress: caller.clientAddress || null,
      message: {
        code: why === 'revoked' ? 'key_revoked' : 'key_expired',
        params: { userId: caller.userId, volumeId: record.volumeId },
      },
      sentence: `${caller.userId} asked for the key of ${record.volumeId}, but ${why === 'revoked' ? REVOKED_WHY : EXPIRED_WHY}.`,
    });
    this.assertUsable(record);
  }

  /**
   * MS-3: a copy kept here as ciphertext only has no key to release. The
   * restorer is told which site has it; the refusal is audited and alerted
   * like every other.
   */
  private async refuseKeysElsewhere(caller: Caller, record: RecordRow): Promise<void> {
    if (!record.keysAt || record.keysAt === this.deps.siteId) return;
    const keeper = (await this.deps.trustedSiteName(record.keysAt)) ?? record.keysAt;
    const why = `this site keeps only the ciphertext of the volume; its keys are escrowed at ${keeper}`;
    await this.deps.audit.append({
      event: 'key_not_found',
      actor: caller.userId,
      volumeId: record.volumeId,
      clientAddress: caller.clientAddress || null,
      details: { why, keysAt: record.keysAt },
    });
    await this.deps.alerts.raise({
      kind: 'key_not_found',
      userId: caller.userId,
      volumeId: record.volumeId,
      clientAddress: caller.clientAddress || null,
      message: {
        code: 'keys_elsewhere',
        params: { userId: caller.userId, volumeId: record.volumeId, keeper },
      },
      sentence: `${caller.userId} asked for the key of ${record.volumeId}, but ${why}.`,
    });
    throw new DomainError(
      'keys_elsewhere',
      `This site keeps only the ciphertext of volume ${record.volumeId}; its keys are escrowed at ${keeper}.`,
      409,
      { volumeId: record.volumeId, keysAt: record.keysAt, keeper },
    );
  }

  private assertUsable(record: RecordRow): void {
    if (
      record.state === 'revoked' ||
      (record.policy.expiresAt && record.policy.expiresAt <= nowIso(this.deps))
    ) {
      this.forgetKeys(record.volumeId);
    }
    if (record.state === 'revoked') {
      throw new DomainError(
        'record_revoked',
        'An administrator revoked the escrow record of this volume; its key is not released.',
        403,
      );
    }
    if (record.policy.expiresAt && record.policy.expiresAt <= nowIso(this.deps)) {
      throw new DomainError(
        'record_expired',
        `The escrow record of this volume expired at ${record.policy.expiresAt}; its key is not released.`,
        403,
      );
    }
  }

  private async releasedTo(volumeId: string, userId: string): Promise<boolean> {
    return (await this.deps.store.releases.count(volumeId, userId)) > 0;
  }

  private async release(
    userId: string,
    record: RecordRow,
    row: ReleaseRow,
    clientAddress: string | null,
    alreadyStored = false,
    knownGeneration?: GenerationRow,
    approval?: AuditInput,
  ): Promise<KeyRelease> {
    const { store } = this.deps;
    const generation =
      knownGeneration ?? (await store.generations.find(record.volumeId, row.generation))!;
    // The re-wrap happens before, and outside, the conditional burn (RS-3).
    const envelope = await this.rewrap(record.volumeId, parseManifest(generation.manifest), row);
    const released = { ...row, state: 'released' as const, envelope };
    // One decision, one commit: the burn, the release row and its audit
    // entries (and the approval's) survive a crash together or not at all,
    // so a one-time key is never used up with nobody holding it.
    const outcome = await inOneCommit(
      this.deps,
      async (tx): Promise<ReleaseRow | 'released' | 'used_up' | 'had_once'> => {
        const current = await tx.store.releases.find(row.requestId);
        // Someone came first with this request ID (or decided it): their answer stands.
        if (alreadyStored ? current?.state !== 'pending_approval' : current) return current!;
        if (record.policy.kind === 'one-time') {
          const won = await tx.store.records.compareAndSetState(
            record.volumeId,
            'active',
            'burned',
            nowIso(this.deps),
          );
          if (!won) {
            if (alreadyStored)
              await tx.store.releases.update(row.requestId, { state: 'denied', reason: 'used up' });
            return 'used_up';
          }
          await holdPoint('release-burned');
        }
        let stored: boolean;
        if (record.policy.kind === 'once-per-restorer') {
          // Concurrent requests of one restorer get at most one release.
          stored = await tx.store.releases.releaseOnceTo(released, alreadyStored);
        } else if (alreadyStored) {
          await tx.store.releases.update(row.requestId, {
            state: 'released',
            envelope,
            decidedBy: row.decidedBy,
            decidedAt: row.decidedAt,
            reason: row.reason,
          });
          stored = true;
        } else {
          stored = await tx.store.releases.insert(released);
        }
        if (!stored) return (await tx.store.releases.find(row.requestId)) ?? 'had_once';
        if (approval) await this.deps.audit.append(approval, tx);
        await this.deps.audit.append(
          {
            event: 'key_released',
            actor: userId,
            volumeId: record.volumeId,
            clientAddress,
            details: {
              requestId: row.requestId,
              generation: row.generation,
              policy: record.policy.kind,
            },
          },
          tx,
        );
        return 'released';
      },
    );
    if (record.policy.kind === 'one-time') this.forgetKeys(record.volumeId);
    const caller = { userId, roles: [], clientAddress: clientAddress ?? '' };
    if (typeof outcome === 'object') {
      if (alreadyStored) throw this.decidedMeanwhile();
      return this.replay(caller, outcome, record.volumeId);
    }
    if (outcome === 'used_up')
      return this.noKey(caller, record.volumeId, 'the one-time record was already used');
    if (outcome === 'had_once')
      return this.noKey(caller, record.volumeId, `${userId} already received the key once`);
    return {
      state: 'released',
      requestId: row.requestId,
      volumeId: record.volumeId,
      generation: row.generation,
      envelope,
    };
  }

  private async rewrap(
    volumeId: string,
    manifest: ReturnType<typeof parseManifest>,
    row: ReleaseRow,
  ): Promise<string> {
    const needed = manifestEpochs(manifest);
    const envelopes = await this.deps.store.envelopes.of(volumeId);
    // MS-4: a site that keeps a share passes its share on, never a key.
    const shares = await rewrapShareEnvelopes(
      envelopes.filter((e) => needed.includes(e.epoch)),
      this.deps.keys.escrow.privateKey,
      JSON.parse(row.ephemeralJwk) as JsonWebKey,
      {
        purpose: 'release',
        volumeId,
        epochs: [...needed].sort((a, b) => a - b),
        generation: row.generation,
        requestId: row.requestId,
      },
    ).catch((error: unknown) => {
      if (error instanceof KeySharesError) {
        throw new DomainError('keys_missing', error.message, 409);
      }
      throw error;
    });
    if (shares !== undefined) return shares;
    const dataKeys = new Map<number, CryptoKey>();
    let chunkIdKey: CryptoKey | undefined;
    for (const { epoch, envelope } of envelopes) {
      if (!needed.includes(epoch)) continue;
      let opened = this.openedKeys.get(volumeId, epoch, envelope);
      if (!opened) {
        opened = (
          await openEnvelope(
            envelope,
            this.deps.keys.escrow.privateKey,
            { purpose: ['escrow', 'registration'], volumeId },
            { extractable: true },
          )
        ).keys;
        this.openedKeys.set(volumeId, epoch, envelope, opened);
      }
      chunkIdKey ??= opened.chunkIdKey;
      for (const [e, key] of opened.dataKeys) if (needed.includes(e)) dataKeys.set(e, key);
    }
    if (!chunkIdKey || needed.some((e) => !dataKeys.has(e))) {
      throw new DomainError(
        'keys_missing',
        `The site does not hold every key of generation ${row.generation}.`,
        409,
      );
    }
    const keys: VolumeKeys = { volumeId, chunkIdKey, dataKeys };
    return sealEnvelope(keys, JSON.parse(row.ephemeralJwk) as JsonWebKey, {
      purpose: 'release',
      generation: row.generation,
      requestId: row.requestId,
    });
  }

  private async replay(caller: Caller, earlier: ReleaseRow, volumeId: string): Promise<KeyRelease> {
    if (earlier.userId !== caller.userId || earlier.volumeId !== volumeId) {
      await this.deps.audit.append({
        event: 'replayed_request',
        actor: caller.userId,
        volumeId,
        clientAddress: caller.clientAddress,
        details: { requestId: earlier.requestId, owner: earlier.userId },
      });
      await this.deps.alerts.raise({
        kind: 'replayed_request',
        userId: caller.userId,
        volumeId,
        clientAddress: caller.clientAddress,
        message: {
          code: 'replayed_request',
          params: { userId: caller.userId, requestId: `${earlier.requestId.slice(0, 12)}…` },
        },
        sentence: `${caller.userId} presented key-release request ${earlier.requestId.slice(0, 12)}…, which belongs to someone else.`,
      });
      throw new DomainError(
        'release_not_found',
        'There is no key release with this request ID.',
        404,
      );
    }
    const common = {
      requestId: earlier.requestId,
      volumeId: earlier.volumeId,
      generation: earlier.generation,
    };
    if (earlier.state === 'denied')
      return { state: 'denied', ...common, reason: earlier.reason ?? 'denied' };
    // A stored answer is given again only to someone who may still have it:
    // registration first, then the record's state and expiry.
    const record = await this.deps.store.records.find(earlier.volumeId);
    if (!record || !registered(record, caller.userId)) {
      if (earlier.state === 'pending_approval')
        await this.refuseUnregistered(earlier, null, caller.clientAddress || null);
      if (!record) return this.noKey(caller, volumeId, NO_RECORD);
      await this.assertMayRestore(caller, record);
    }
    await this.refuseUnusable(caller, record!);
    if (earlier.state === 'released')
      return { state: 'released', ...common, envelope: earlier.envelope! };
    return { state: 'pending_approval', ...common };
  }

  private async noKey(caller: Caller, volumeId: string, why: string): Promise<never> {
    await this.deps.audit.append({
      event: 'key_not_found',
      actor: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress || null,
      details: { why },
    });
    await this.deps.alerts.raise({
      kind: 'key_not_found',
      userId: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress || null,
      message: { code: noKeyCode(why), params: { userId: caller.userId, volumeId } },
      sentence: `${caller.userId} asked for the key of ${volumeId}, but ${why} (possible reuse or tampering).`,
    });
    // Whether a record exists says nothing new: a stranger asking for a recorded volume is refused as such.
    throw new DomainError('key_not_found', NO_KEY_SENTENCE, 404, {
      volumeId,
      recorded: why !== NO_RECORD,
    });
  }

  private publishDecision(release: ReleaseRow, state: 'released' | 'denied'): void {
    this.deps.events.publish(
      {
        type: 'release',
        requestId: release.requestId,
        volumeId: release.volumeId,
        state,
        at: nowIso(this.deps),
      },
      { kind: 'user', userId: release.userId },
    );
  }
}
