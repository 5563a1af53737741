import type {
  Approval,
  AuditEventName,
  EscrowRecord,
  ManualRegistrationRequest,
  RecordDetail,
  RecordFilter,
  RecordQuery,
  SiteSummary,
} from '../../../../src/core/contract';
import { CustodianCryptoError } from '../../../../src/core/crypto/errors';
import { exportPublicKeySpki } from '../../../../src/core/crypto/device-key';
import { indexedSize, manifestHash, serializeManifest } from '../../../../src/core/crypto/manifest';
import { fromUtf8, toBase64Url } from '../../../../src/core/crypto/bytes';
import { restorerListHash, signReceipt, type Receipt } from '../../../../src/core/crypto/receipt';
import {
  openRegistrationFile,
  type RegistrationFile,
} from '../../../../src/core/crypto/registration';
import { DomainError } from '../errors';
import { inOneCommit, nowIso, type Caller, type EscrowDeps } from './context';
import { holdPoint } from './hold-points';
import type { EscrowTransaction, RecordRow } from './ports';
import type { ReleaseService } from './release';
import { notFound, REGISTERED_TO_ANOTHER, type VolumeService } from './volumes';

const EXPORT_PAGE = 500;
/** Records read at a time when looking for expiries to tell of. */
const EXPIRY_NOTICE_BATCH = 100;

/**
 * The restorer DB as administrators run it (ES-1..ES-3): search, changes
 * that each carry a reason and are audited and told to the owner, re-arming
 * that waits for a second administrator, and registration by hand or from
 * an offline registration file (BK-9).
 */
export class RecordAdminService {
  constructor(
    private readonly deps: EscrowDeps,
    private readonly volumes: VolumeService,
    private readonly releases: ReleaseService,
  ) {}

  async list(
    query: RecordQuery,
  ): Promise<{ records: EscrowRecord[]; total: number; totalIsCapped: boolean }> {
    const { expiringWithin, ...rest } = query;
    const { records, total, totalIsCapped } = await this.deps.store.records.search({
      ...rest,
      ...(expiringWithin ? { expiresBetween: this.expiryWindow(expiringWithin) } : {}),
    });
    return {
      records: await Promise.all(records.map((r) => this.volumes.describe(r))),
      total,
      totalIsCapped,
    };
  }

  /** From now to `days` days from now, as the records' expiry instants compare. */
  private expiryWindow(days: number): { from: string; to: string } {
    const now = this.deps.clock.now().getTime();
    return {
      from: new Date(now).toISOString(),
      to: new Date(now + days * 86_400_000).toISOString(),
    };
  }

  /** Every record matching `filter`, for an export, read a page at a time. */
  async all(filter: RecordFilter): Promise<EscrowRecord[]> {
    const records: EscrowRecord[] = [];
    for (let page = 1; ; page++) {
      const found = await this.list({ ...filter, page, pageSize: EXPORT_PAGE });
      records.push(...found.records);
      if (found.records.length < EXPORT_PAGE) return records;
    }
  }

  /** The dashboard's figures: volumes, records by state, pending approvals, bytes per day. */
  async summary(days = 14): Promise<SiteSummary> {
    const since = new Date(this.deps.clock.now().getTime() - (days - 1) * 86_400_000)
      .toISOString()
      .slice(0, 10);
    const stats = await this.deps.store.statistics.since(`${since}T00:00:00.000Z`);
    const perDay = new Map(stats.bytesPerDay.map((d) => [d.day, d.bytes]));
    const bytesPerDay = Array.from({ length: days }, (_, i) => {
      const day = new Date(Date.parse(`${since}T00:00:00.000Z`) + i * 86_400_000)
        .toISOString()
        .slice(0, 10);
      return { day, bytes: perDay.get(day) ?? 0 };
    });
    return {
      volumes: stats.volumes,
      recordsByState: stats.recordsByState,
      pendingApprovals: (await this.approvals()).length,
      bytesPerDay,
    };
  }

  async detail(volumeId: string): Promise<RecordDetail> {
    const record = await this.requireRecord(volumeId);
    const generations = await this.deps.store.generations.of(volumeId);
    const releases = await this.deps.store.releases.of(volumeId);
    return {
      record: await this.volumes.describe(record),
      generations: generations.map((g) => ({
        generation: g.generation,
        manifestHash: g.manifestHash,
        size: g.size,
        chunks: g.chunks,
        committedAt: g.committedAt,
        receipt: JSON.parse(g.receipt) as Receipt,
      })),
      releases: releases.map((r) => ({
        requestId: r.requestId,
        userId: r.userId,
        generation: r.generation,
        state: r.state,
        createdAt: r.createdAt,
        decidedBy: r.decidedBy,
        reason: r.reason,
      })),
    };
  }

  /**
   * The one notice before an expiry (004): for each record not revoked that
   * expires within `days` days and was not told of for this expiry yet, an
   * alert to the administrators (mailed when mail is set up) and an audit
   * entry; the owner sees the date coming in their list of volumes. The record is marked noticed first, by a
   * conditional update, so one expiry gets one notice, whichever instance
   * of the site looks; a new expiry date gets a notice of its own.
   */
  async noticeExpiring(days: number): Promise<number> {
    const { from, to } = this.expiryWindow(days);
    const now = Date.parse(from);
    let sent = 0;
    for (;;) {
      const due = await this.deps.store.records.expiringUnnoticed(from, to, EXPIRY_NOTICE_BATCH);
      for (const record of due) {
        const expiresAt = record.policy.expiresAt;
        if (!expiresAt) continue;
        if (!(await this.deps.store.records.markExpiryNoticed(record.volumeId, expiresAt)))
          continue;
        sent++;
        const daysLeft = Math.max(1, Math.ceil((Date.parse(expiresAt) - now) / 86_400_000));
        const { volumeId, owner } = record;
        await this.deps.audit.append({
          event: 'expiry_noticed',
          actor: null,
          volumeId,
          details: { owner, expiresAt, days: daysLeft },
        });
        await this.deps.alerts.raise({
          kind: 'record_expiring',
          userId: owner,
          volumeId,
          clientAddress: null,
          sentence: `The escrow record of ${volumeId} (owner ${owner}) expires on ${expiresAt}, in ${daysLeft} days; after that no key of it is released.`,
          message: {
            code: 'record_expiring',
            params: { volumeId, owner, expiresAt, days: daysLeft },
          },
        });
      }
      if (due.length < EXPIRY_NOTICE_BATCH) return sent;
    }
  }

  async setExpiry(
    admin: Caller,
    volumeId: string,
    expiresAt: string | null,
    reason: string,
  ): Promise<EscrowRecord> {
    const record = await this.requireRecord(volumeId);
    return this.change(
      admin,
      record,
      'expiry_changed',
      reason,
      { expiresAt },
      {
        ...record,
        policy: { ...record.policy, expiresAt },
        expiryCeiling: expiresAt,
      },
    );
  }

  async revoke(admin: Caller, volumeId: string, reason: string): Promise<EscrowRecord> {
    const record = await this.requireRecord(volumeId);
    if (record.state === 'revoked')
      throw new DomainError('already_revoked', 'This record is already revoked.', 409);
    return this.change(
      admin,
      record,
      'record_revoked',
      reason,
      { from: record.state },
      { ...record, state: 'revoked' },
    );
  }

  /**
   * ES-2: the new owner takes the volume over. The former owner loses every
   * right to it (restore, chunk reads, backups) unless the administrator
   * chose, in this request, to keep them as a restorer; either way the audit
   * entry says which. Their key releases still awaiting approval are denied,
   * or a later approval would hand them the keys anyway.
   */
  async transferOwnership(
    admin: Caller,
    volumeId: string,
    newOwner: string,
    reason: string,
    keepFormerOwnerAsRestorer = false,
  ): Promise<EscrowRecord> {
    const record = await this.requireRecord(volumeId);
    const user = await this.deps.users.find(newOwner);
    if (!user || user.disabled || !user.roles.includes('operator')) {
      throw new DomainError(
        'invalid_owner',
        `"${newOwner}" is not an active backup operator.`,
        400,
      );
    }
    if (newOwner === record.owner)
      throw new DomainError('invalid_owner', `${newOwner} already owns this volume.`, 400);
    const formerOwner = record.owner;
    const restorers = record.restorers.filter(
      (r) => keepFormerOwnerAsRestorer || r !== formerOwner,
    );
    const updated = await this.change(
      admin,
      record,
      'ownership_transferred',
      reason,
      {
        from: formerOwner,
        to: newOwner,
        formerOwner: keepFormerOwnerAsRestorer ? 'kept_as_restorer' : 'removed',
      },
      {
        ...record,
        owner: newOwner,
        restorers: [...new Set([...restorers, newOwner])].sort(),
      },
    );
    await this.deps.store.volumes.update(volumeId, { owner: newOwner });
    if (!keepFormerOwnerAsRestorer) {
      await this.denyPendingReleases(
        admin,
        volumeId,
        formerOwner,
        `ownership transferred to ${newOwner}: ${reason}`,
      );
    }
    this.notify(newOwner, volumeId, 'ownership_transferred', admin.userId, reason);
    return updated;
  }

  private async denyPendingReleases(
    admin: Caller,
    volumeId: string,
    userId: string,
    reason: string,
  ): Promise<void> {
    const pending = (await this.releases.pendingApprovals()).filter(
      (r) => r.volumeId === volumeId && r.userId === userId,
    );
    for (const release of pending) {
      const at = nowIso(this.deps);
      await this.deps.audit.append({
        event: 'key_release_denied',
        actor: admin.userId,
        volumeId,
        clientAddress: admin.clientAddress,
        details: { requestId: release.requestId, requester: userId, reason },
      });
      await this.deps.store.releases.update(release.requestId, {
        state: 'denied',
        decidedBy: admin.userId,
        decidedAt: at,
        reason,
      });
      this.deps.events.publish(
        { type: 'release', requestId: release.requestId, volumeId, state: 'denied', at },
        { kind: 'user', userId },
      );
    }
  }

  /** ES-2: a burned record comes back only when a second administrator agrees. */
  async requestRearm(admin: Caller, volumeId: string, reason: string): Promise<Approval> {
    const record = await this.requireRecord(volumeId);
    if (record.state !== 'burned') {
      throw new DomainError(
        'not_burned',
        'Only a burned (used one-time) record can be re-armed.',
        409,
      );
    }
    if ((await this.deps.store.rearms.pending()).some((r) => r.volumeId === volumeId)) {
      throw new DomainError(
        'rearm_pending',
        'A re-arm of this record already waits for approval.',
        409,
      );
    }
    const id = globalThis.crypto.randomUUID();
    const at = nowIso(this.deps);
    await this.deps.audit.append({
      event: 'rearm_requested',
      actor: admin.userId,
      volumeId,
      clientAddress: admin.clientAddress,
      details: { id, reason },
    });
    await this.deps.store.rearms.insert({
      id,
      volumeId,
      requestedBy: admin.userId,
      reason,
      state: 'pending',
      decidedBy: null,
      decisionReason: null,
      createdAt: at,
      decidedAt: null,
    });
    this.deps.events.publish(
      { type: 'approval', kind: 'rearm', requestId: id, volumeId, userId: admin.userId, at },
      { kind: 'admins' },
    );
    return {
      id: `rearm:${id}`,
      kind: 'rearm',
      volumeId,
      requestedBy: admin.userId,
      requestedAt: at,
      generation: null,
      reason,
    };
  }

  async approvals(): Promise<Approval[]> {
    const releases = await this.releases.pendingApprovals();
    const rearms = await this.deps.store.rearms.pending();
    return [
      ...releases.map((r) => ({
        id: `release:${r.requestId}`,
        kind: 'key_release' as const,
        volumeId: r.volumeId,
        requestedBy: r.userId,
        requestedAt: r.createdAt,
        generation: r.generation,
        reason: null,
      })),
      ...rearms.map((r) => ({
        id: `rearm:${r.id}`,
        kind: 'rearm' as const,
        volumeId: r.volumeId,
        requestedBy: r.requestedBy,
        requestedAt: r.createdAt,
        generation: null,
        reason: r.reason,
      })),
    ].sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  }

  async decide(admin: Caller, approvalId: string, approve: boolean, reason: string) {
    const [kind, id] = splitApprovalId(approvalId);
    if (kind === 'release') {
      const answer = await this.releases.decide(admin, id, approve, reason);
      return {
        id: approvalId,
        kind: 'key_release' as const,
        state: answer.state === 'released' ? ('approved' as const) : ('denied' as const),
      };
    }
    const rearm = await this.deps.store.rearms.find(id);
    if (!rearm || rearm.state !== 'pending')
      throw new DomainError('approval_not_found', 'There is no pending re-arm with this ID.', 404);
    if (rearm.requestedBy === admin.userId) {
      throw new DomainError(
        'self_approval',
        'Nobody approves their own request: another administrator must decide.',
        403,
      );
    }
    const decided = {
      decidedBy: admin.userId,
      decisionReason: reason,
      decidedAt: nowIso(this.deps),
    };
    await this.deps.audit.append({
      event: approve ? 'rearm_approved' : 'rearm_denied',
      actor: admin.userId,
      volumeId: rearm.volumeId,
      clientAddress: admin.clientAddress,
      details: { id, requestedBy: rearm.requestedBy, reason },
    });
    if (approve) {
      const rearmed = await this.deps.store.records.compareAndSetState(
        rearm.volumeId,
        'burned',
        'active',
        decided.decidedAt,
      );
      this.releases.forgetKeys(rearm.volumeId);
      if (!rearmed)
        throw new DomainError(
          'not_burned',
          'The record is no longer burned; nothing to re-arm.',
          409,
        );
      const record = await this.requireRecord(rearm.volumeId);
      this.notify(record.owner, rearm.volumeId, 'record_rearmed', admin.userId, reason);
    }
    await this.deps.store.rearms.decide(id, { state: approve ? 'approved' : 'denied', ...decided });
    return {
      id: approvalId,
      kind: 'rearm' as const,
      state: approve ? ('approved' as const) : ('denied' as const),
    };
  }

  /** ES-3: reserves a volume ID for an owner and its restorers before any backup. */
  async registerManually(admin: Caller, request: ManualRegistrationRequest): Promise<EscrowRecord> {
    const owner = await this.deps.users.find(request.owner);
    if (!owner || owner.disabled || !owner.roles.includes('operator')) {
      throw new DomainError(
        'invalid_owner',
        `"${request.owner}" is not an active backup operator.`,
        400,
      );
    }
    await this.volumes.assertUsersExist(request.restorers);
    const at = nowIso(this.deps);
    const volume = await this.deps.store.volumes.insertIfAbsent({
      volumeId: request.volumeId,
      owner: request.owner,
      state: 'registered',
      pairId: globalThis.crypto.randomUUID(),
      claimExpiresAt: null,
      createdAt: at,
    });
    if (volume.owner !== request.owner) {
      throw new DomainError('registered_to_another_operator', REGISTERED_TO_ANOTHER, 409, {
        owner: volume.owner,
      });
    }
    if (await this.deps.store.records.find(request.volumeId)) {
      throw new DomainError(
        'already_registered',
        'This volume already has an escrow record; change it instead.',
        409,
      );
    }
    await this.deps.store.volumes.update(request.volumeId, {
      state: 'registered',
      claimExpiresAt: null,
    });
    const record: RecordRow = {
      volumeId: request.volumeId,
      owner: request.owner,
      restorers: [...new Set([...request.restorers, request.owner])].sort(),
      policy: request.policy,
      state: 'active',
      createdAt: at,
      updatedAt: at,
      // The administrator chose this expiry: the owner may bring it forward, not past it.
      expiryCeiling: request.policy.expiresAt,
    };
    await this.deps.audit.append({
      event: 'record_registered_manually',
      actor: admin.userId,
      volumeId: request.volumeId,
      clientAddress: admin.clientAddress,
      details: {
        owner: request.owner,
        restorers: [...record.restorers],
        policy: request.policy.kind,
        reason: request.reason,
      },
    });
    await this.deps.store.records.upsert(record);
    this.notify(request.owner, request.volumeId, 'record_registered', admin.userId, request.reason);
    return this.volumes.describe(record);
  }

  /**
   * BK-9: an offline registration file, verified, owner-checked, imported
   * once. Everything the import records (the file marked imported, the
   * device key, the volume, its envelopes, record and generation, the audit
   * entry and the receipt's counter) commits together: a crash in between
   * leaves the file importable again, never half imported.
   */
  async importRegistration(
    admin: Caller,
    file: RegistrationFile,
    reason: string,
  ): Promise<{ record: EscrowRecord; receipt: Receipt }> {
    const opened = await this.openRegistration(file);
    await this.checkImportable(admin, file, opened.deviceKeyFingerprint);
    const { volumeId, owner } = file;
    const restorers = [...new Set([...file.restorers, owner])].sort();
    const at = nowIso(this.deps);
    const record: RecordRow = {
      volumeId,
      owner,
      restorers,
      policy: file.policy,
      state: 'active',
      createdAt: at,
      updatedAt: at,
    };
    const receipt = await inOneCommit(this.deps, async (tx) => {
      if (!(await tx.store.imports.insert(file.registrationId, volumeId, admin.userId, at))) {
        throw alreadyImported(file.registrationId);
      }
      await this.addSigningDevice(tx, owner, opened, at);
      await tx.store.volumes.insertIfAbsent({
        volumeId,
        owner,
        state: 'registered',
        pairId: globalThis.crypto.randomUUID(),
        claimExpiresAt: null,
        createdAt: at,
      });
      await tx.store.volumes.update(volumeId, { state: 'registered', claimExpiresAt: null });
      for (const epoch of opened.keysContext.epochs)
        await tx.store.envelopes.add(volumeId, epoch, file.keys, at);
      await tx.store.records.upsert(record);
      const entry = await this.deps.audit.append(
        {
          event: 'registration_imported',
          actor: admin.userId,
          volumeId,
          clientAddress: admin.clientAddress,
          details: {
            registrationId: file.registrationId,
            owner,
            restorers,
            generation: file.manifest.index.generation,
            reason,
          },
        },
        tx,
      );
      await holdPoint('registration-audited');
      return this.storeImportedGeneration(tx, file, restorers, entry.mac, at);
    });
    this.notify(owner, volumeId, 'registration_imported', admin.userId, reason);
    return { record: await this.volumes.describe(record), receipt };
  }

  /** The file opened with the site's escrow key; a file that does not open is refused. */
  private async openRegistration(file: RegistrationFile) {
    try {
      return await openRegistrationFile(file, this.deps.siteId, this.deps.keys.escrow.privateKey);
    } catch (error) {
      if (error instanceof CustodianCryptoError) {
        throw new DomainError(
          'invalid_registration',
          `The registration file cannot be imported: ${error.message}`,
          400,
        );
      }
      throw error;
    }
  }

  /**
   * Refuses a file imported before, one naming someone who is not an active
   * operator, one for another operator's volume or a volume that already has
   * generations, and one signed by another user's device key.
   */
  private async checkImportable(
    admin: Caller,
    file: RegistrationFile,
    deviceFingerprint: string,
  ): Promise<void> {
    const { store } = this.deps;
    const { volumeId, owner } = file;
    if (await store.imports.has(file.registrationId)) throw alreadyImported(file.registrationId);
    const ownerUser = await this.deps.users.find(owner);
    if (!ownerUser || ownerUser.disabled || !ownerUser.roles.includes('operator')) {
      throw new DomainError(
        'invalid_owner',
        `The file names "${owner}", who is not an active backup operator here.`,
        400,
      );
    }
    const existing = await store.volumes.find(volumeId);
    if (existing && existing.owner !== owner) {
      await this.volumes.assertOwner(
        { userId: owner, roles: ['operator'], clientAddress: admin.clientAddress },
        existing,
        'register (by file)',
      );
    }
    if (await store.generations.latest(volumeId)) {
      throw new DomainError(
        'already_registered',
        'This volume already has generations at the site; the file is not needed.',
        409,
      );
    }
    const device = await store.devices.find(deviceFingerprint);
    if (device && device.userId !== owner) {
      throw new DomainError(
        'invalid_registration',
        'The file is signed by a device key of another user.',
        400,
      );
    }
  }

  /** The device key that signed the file becomes the owner's, as the administrator vouches for it. */
  private async addSigningDevice(
    tx: EscrowTransaction,
    owner: string,
    opened: { devicePublicKey: CryptoKey; deviceKeyFingerprint: string },
    at: string,
  ): Promise<void> {
    const { devicePublicKey, deviceKeyFingerprint: fingerprint } = opened;
    if (await tx.store.devices.find(fingerprint)) return;
    const jwk = await globalThis.crypto.subtle.exportKey('jwk', devicePublicKey);
    await tx.store.devices.add({
      fingerprint,
      userId: owner,
      publicJwk: JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }),
      spki: toBase64Url(await exportPublicKeySpki(devicePublicKey)),
      label: 'registered by file import',
      registeredAt: at,
    });
  }

  /** The file's generation with the receipt the site signs for it, after its audit entry. */
  private async storeImportedGeneration(
    tx: EscrowTransaction,
    file: RegistrationFile,
    restorers: readonly string[],
    auditChainHead: string,
    at: string,
  ): Promise<Receipt> {
    const { volumeId, owner, manifest } = file;
    const hash = await manifestHash(manifest);
    const receipt = await signReceipt(
      {
        volumeId,
        generation: manifest.index.generation,
        manifestHash: hash,
        owner,
        restorerListHash: await restorerListHash(restorers),
        policy: file.policy,
        counter: await tx.store.generations.nextReceiptCounter(),
        issuedAt: at,
        siteId: this.deps.siteId,
        deviceKeyFingerprint: manifest.index.deviceKeyFingerprint,
        auditChainHead,
      },
      this.deps.keys.signing.privateKey,
    );
    await tx.store.generations.insert({
      volumeId,
      generation: manifest.index.generation,
      manifest: fromUtf8(serializeManifest(manifest)),
      manifestHash: hash,
      size: indexedSize(manifest.index),
      chunks: manifest.index.chunks.length,
      deviceFingerprint: manifest.index.deviceKeyFingerprint,
      receipt: JSON.stringify(receipt),
      committedAt: at,
    });
    return receipt;
  }

  private async change(
    admin: Caller,
    record: RecordRow,
    event: AuditEventName,
    reason: string,
    details: Record<string, string | null>,
    updated: RecordRow,
  ): Promise<EscrowRecord> {
    await this.deps.audit.append({
      event,
      actor: admin.userId,
      volumeId: record.volumeId,
      clientAddress: admin.clientAddress,
      details: { ...details, reason },
    });
    const stored = { ...updated, updatedAt: nowIso(this.deps) };
    await this.deps.store.records.upsert(stored);
    this.releases.forgetKeys(record.volumeId);
    this.notify(record.owner, record.volumeId, event, admin.userId, reason);
    return this.volumes.describe(stored);
  }

  /** ES-2: the owner hears of every change to their record. */
  private notify(
    owner: string,
    volumeId: string,
    change: string,
    by: string,
    reason: string,
  ): void {
    this.deps.events.publish(
      { type: 'record', volumeId, change, by, reason, at: nowIso(this.deps) },
      { kind: 'user', userId: owner },
    );
  }

  private async requireRecord(volumeId: string): Promise<RecordRow> {
    const record = await this.deps.store.records.find(volumeId);
    if (!record) throw notFound(volumeId);
    return record;
  }
}

function splitApprovalId(approvalId: string): ['release' | 'rearm', string] {
  const match = /^(release|rearm):([A-Za-z0-9_-]{1,128})$/.exec(approvalId);
  if (!match)
    throw new DomainError('approval_not_found', 'There is no pending approval with this ID.', 404);
  return [match[1] as 'release' | 'rearm', match[2]!];
}

function alreadyImported(registrationId: string): DomainError {
  return new DomainError('already_imported', 'This registration file was already imported.', 409, {
    registrationId,
  });
}
