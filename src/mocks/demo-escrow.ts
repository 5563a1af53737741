import type {
  Approval,
  EscrowRecord,
  ManualRegistrationRequest,
  RecordDetail,
  RecordPage,
  RecordQuery,
  ServerEvent,
} from '@/core/contract';
import { fromBase64Url, randomBytes, toHex } from '@/core/crypto/bytes';
import { canonicalJson, type JsonValue } from '@/core/crypto/canonical-json';
import {
  generateDeviceKeyPair,
  importSigningPublicKeySpki,
  verifyBytes,
} from '@/core/crypto/device-key';
import { indexedSize, manifestHash } from '@/core/crypto/manifest';
import { restorerListHash, signReceipt, type Receipt } from '@/core/crypto/receipt';
import type { RegistrationFile } from '@/core/crypto/registration';
import type { DemoUser } from './demo-site';
import { EscrowRefusal } from './escrow-refusal';

/** Counts stop here, as the site's do (ES-1: "more than 10 000"). */
export const DEMO_RECORD_COUNT_CAP = 10_000;

interface DemoRecordEntry {
  record: EscrowRecord;
  generations: RecordDetail['generations'];
  releases: RecordDetail['releases'];
}

export interface DemoEscrowHost {
  readonly siteId: string;
  users(): ReadonlyMap<string, DemoUser>;
  publish(event: ServerEvent): void;
}

const REGISTERED_TO_ANOTHER =
  'This volume is registered to another operator: it cannot be registered again.';

/**
 * The restorer DB of the demo site (ES-1..ES-3) with the site's rules and
 * refusals: searched and paged as the site does, changes that need a
 * reason, re-arms and key releases that wait for another administrator.
 */
export class DemoEscrow {
  private readonly entries = new Map<string, DemoRecordEntry>();
  private approvalList: Approval[] = [];
  private readonly imported = new Set<string>();
  private receiptCounter = 0;
  private signingKey: Promise<CryptoKeyPair> | undefined;

  constructor(private readonly host: DemoEscrowHost) {}

  reset(): void {
    this.entries.clear();
    this.approvalList = [];
    this.imported.clear();
    this.receiptCounter = 0;
  }

  /** Puts a record in place, as a finished backup would have (tests and demo data). */
  add(
    record: Partial<EscrowRecord> & Pick<EscrowRecord, 'volumeId' | 'owner'>,
    extra: Partial<Omit<DemoRecordEntry, 'record'>> = {},
  ): EscrowRecord {
    const at = record.createdAt ?? '2026-11-01T09:00:00.000Z';
    const full: EscrowRecord = {
      restorers: [record.owner],
      policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
      state: 'active',
      generations: extra.generations?.length ?? 0,
      latestGeneration: extra.generations?.at(-1)?.generation ?? 0,
      bytes: extra.generations?.at(-1)?.size ?? 0,
      releases: extra.releases?.length ?? 0,
      createdAt: at,
      updatedAt: at,
      ...record,
    };
    this.entries.set(full.volumeId, {
      record: full,
      generations: extra.generations ?? [],
      releases: extra.releases ?? [],
    });
    return full;
  }

  /** A key release waiting for approval (BK-5), as a restorer's request leaves it. */
  addPendingRelease(approval: Omit<Approval, 'id' | 'kind'> & { requestId: string }): Approval {
    const { requestId, ...rest } = approval;
    const entry: Approval = { ...rest, id: `release:${requestId}`, kind: 'key_release' };
    this.approvalList.push(entry);
    this.host.publish({
      type: 'approval',
      kind: 'key_release',
      requestId,
      volumeId: entry.volumeId,
      userId: entry.requestedBy,
      at: entry.requestedAt,
    });
    return entry;
  }

  record(volumeId: string): EscrowRecord | undefined {
    return this.entries.get(volumeId)?.record;
  }

  search(query: RecordQuery): RecordPage {
    const q = query.q?.toLowerCase();
    const matches = [...this.entries.values()]
      .map((e) => e.record)
      .filter(
        (r) =>
          (!query.state || r.state === query.state) &&
          (!query.policy || r.policy.kind === query.policy) &&
          (!query.owner || r.owner === query.owner) &&
          (!query.restorer || r.restorers.includes(query.restorer)) &&
          (!q ||
            r.volumeId.toLowerCase().includes(q) ||
            r.owner.toLowerCase().includes(q) ||
            r.restorers.some((p) => p.toLowerCase().includes(q))),
      );
    const key = (r: EscrowRecord): string =>
      query.sort === 'policy' ? r.policy.kind : String(r[query.sort]);
    const direction = query.order === 'asc' ? 1 : -1;
    matches.sort(
      (a, b) => direction * key(a).localeCompare(key(b)) || a.volumeId.localeCompare(b.volumeId),
    );
    const start = (query.page - 1) * query.pageSize;
    return {
      records: matches.slice(start, start + query.pageSize),
      total: Math.min(matches.length, DEMO_RECORD_COUNT_CAP),
      totalIsCapped: matches.length > DEMO_RECORD_COUNT_CAP,
    };
  }

  detail(volumeId: string): RecordDetail {
    const entry = this.require(volumeId);
    return { record: entry.record, generations: entry.generations, releases: entry.releases };
  }

  changeRestorers(volumeId: string, add: readonly string[], remove: readonly string[]) {
    const entry = this.require(volumeId);
    if (remove.includes(entry.record.owner)) {
      throw new EscrowRefusal(
        'owner_is_restorer',
        'The owner of a volume is always one of its restorers and cannot be removed.',
        400,
      );
    }
    this.assertUsers(add);
    const restorers = [
      ...new Set([...entry.record.restorers.filter((r) => !remove.includes(r)), ...add]),
    ].sort();
    return this.update(entry, { restorers });
  }

  setExpiry(volumeId: string, expiresAt: string | null): EscrowRecord {
    const entry = this.require(volumeId);
    return this.update(entry, { policy: { ...entry.record.policy, expiresAt } });
  }

  revoke(volumeId: string): EscrowRecord {
    const entry = this.require(volumeId);
    if (entry.record.state === 'revoked')
      throw new EscrowRefusal('already_revoked', 'This record is already revoked.', 409);
    return this.update(entry, { state: 'revoked' });
  }

  transfer(volumeId: string, newOwner: string): EscrowRecord {
    const entry = this.require(volumeId);
    const user = this.host.users().get(newOwner);
    if (!user || user.disabled || !user.roles.includes('operator'))
      throw new EscrowRefusal(
        'invalid_owner',
        `"${newOwner}" is not an active backup operator.`,
        400,
      );
    if (newOwner === entry.record.owner)
      throw new EscrowRefusal('invalid_owner', `${newOwner} already owns this volume.`, 400);
    return this.update(entry, {
      owner: newOwner,
      restorers: [...new Set([...entry.record.restorers, newOwner])].sort(),
    });
  }

  requestRearm(admin: string, volumeId: string, reason: string): Approval {
    const entry = this.require(volumeId);
    if (entry.record.state !== 'burned')
      throw new EscrowRefusal(
        'not_burned',
        'Only a burned (used one-time) record can be re-armed.',
        409,
      );
    if (this.approvalList.some((a) => a.kind === 'rearm' && a.volumeId === volumeId))
      throw new EscrowRefusal(
        'rearm_pending',
        'A re-arm of this record already waits for approval.',
        409,
      );
    const requestId = globalThis.crypto.randomUUID();
    const at = new Date().toISOString();
    const approval: Approval = {
      id: `rearm:${requestId}`,
      kind: 'rearm',
      volumeId,
      requestedBy: admin,
      requestedAt: at,
      generation: null,
      reason,
    };
    this.approvalList.push(approval);
    this.host.publish({ type: 'approval', kind: 'rearm', requestId, volumeId, userId: admin, at });
    return approval;
  }

  approvals(): Approval[] {
    return [...this.approvalList].sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  }

  decide(admin: string, approvalId: string, approve: boolean, reason: string) {
    const approval = this.approvalList.find((a) => a.id === approvalId);
    if (!approval)
      throw new EscrowRefusal(
        'approval_not_found',
        'There is no pending approval with this ID.',
        404,
      );
    if (approval.requestedBy === admin) {
      throw new EscrowRefusal(
        'self_approval',
        'Nobody approves their own request: another administrator must decide.',
        403,
      );
    }
    this.approvalList = this.approvalList.filter((a) => a !== approval);
    const entry = this.entries.get(approval.volumeId);
    if (entry && approval.kind === 'rearm' && approve) this.update(entry, { state: 'active' });
    if (entry && approval.kind === 'key_release') {
      entry.releases.push({
        requestId: approval.id.slice('release:'.length),
        userId: approval.requestedBy,
        generation: approval.generation ?? 1,
        state: approve ? 'released' : 'denied',
        createdAt: approval.requestedAt,
        decidedBy: admin,
        reason,
      });
    }
    return { id: approvalId, kind: approval.kind, state: approve ? 'approved' : 'denied' } as const;
  }

  registerManually(request: ManualRegistrationRequest): EscrowRecord {
    const owner = this.host.users().get(request.owner);
    if (!owner || owner.disabled || !owner.roles.includes('operator'))
      throw new EscrowRefusal(
        'invalid_owner',
        `"${request.owner}" is not an active backup operator.`,
        400,
      );
    this.assertUsers(request.restorers);
    const existing = this.entries.get(request.volumeId);
    if (existing && existing.record.owner !== request.owner)
      throw new EscrowRefusal('registered_to_another_operator', REGISTERED_TO_ANOTHER, 409);
    if (existing)
      throw new EscrowRefusal(
        'already_registered',
        'This volume already has an escrow record; change it instead.',
        409,
      );
    const at = new Date().toISOString();
    return this.add({
      volumeId: request.volumeId,
      owner: request.owner,
      restorers: [...new Set([...request.restorers, request.owner])].sort(),
      policy: request.policy,
      createdAt: at,
      updatedAt: at,
    });
  }

  /** BK-9: the checks the site makes that need no escrow key (site, owner, signature, repeat). */
  async importRegistration(
    file: RegistrationFile,
  ): Promise<{ record: EscrowRecord; receipt: Receipt }> {
    const refuse = (why: string) =>
      new EscrowRefusal(
        'invalid_registration',
        `The registration file cannot be imported: ${why}`,
        400,
      );
    if (file.siteId !== this.host.siteId)
      throw refuse(`it was made for site ${file.siteId}, not for this site (${this.host.siteId}).`);
    if (!file.restorers.includes(file.owner)) throw refuse('its owner is not among its restorers.');
    const { signature, ...signed } = file;
    let deviceKey: CryptoKey;
    try {
      deviceKey = await importSigningPublicKeySpki(fromBase64Url(file.devicePublicKey));
    } catch {
      throw refuse('its device public key is not a P-256 key.');
    }
    const valid = await verifyBytes(
      deviceKey,
      fromBase64Url(signature),
      canonicalJson(signed as unknown as JsonValue),
    );
    if (!valid) throw refuse('the signature of the registration file does not verify.');
    if (this.imported.has(file.registrationId))
      throw new EscrowRefusal(
        'already_imported',
        'This registration file was already imported.',
        409,
      );
    const existing = this.entries.get(file.volumeId);
    if (existing && existing.record.owner !== file.owner)
      throw new EscrowRefusal('registered_to_another_operator', REGISTERED_TO_ANOTHER, 409);
    this.imported.add(file.registrationId);
    const at = new Date().toISOString();
    const hash = await manifestHash(file.manifest);
    const receipt = await this.signReceipt({
      volumeId: file.volumeId,
      generation: file.manifest.index.generation,
      manifestHash: hash,
      owner: file.owner,
      restorerListHash: await restorerListHash(file.restorers),
      policy: file.policy,
      counter: String(++this.receiptCounter),
      issuedAt: at,
      siteId: this.host.siteId,
      deviceKeyFingerprint: file.manifest.index.deviceKeyFingerprint,
      auditChainHead: toHex(randomBytes(32)),
    });
    const record = this.add(
      {
        volumeId: file.volumeId,
        owner: file.owner,
        restorers: [...file.restorers],
        policy: file.policy,
        createdAt: at,
        updatedAt: at,
      },
      {
        generations: [
          {
            generation: file.manifest.index.generation,
            manifestHash: hash,
            size: indexedSize(file.manifest.index),
            chunks: file.manifest.index.chunks.length,
            committedAt: at,
            receipt,
          },
        ],
      },
    );
    return { record, receipt };
  }

  /** Receipts of the demo site are signed with its own key, made on first use (BK-10). */
  private async signReceipt(statement: Parameters<typeof signReceipt>[0]): Promise<Receipt> {
    this.signingKey ??= generateDeviceKeyPair();
    return signReceipt(statement, (await this.signingKey).privateKey);
  }

  private update(entry: DemoRecordEntry, change: Partial<EscrowRecord>): EscrowRecord {
    entry.record = { ...entry.record, ...change, updatedAt: new Date().toISOString() };
    return entry.record;
  }

  private require(volumeId: string): DemoRecordEntry {
    const entry = this.entries.get(volumeId);
    if (!entry)
      throw new EscrowRefusal('volume_not_found', `The site has no volume ${volumeId}.`, 404);
    return entry;
  }

  private assertUsers(userIds: readonly string[]): void {
    for (const userId of userIds) {
      const user = this.host.users().get(userId);
      if (!user || user.disabled)
        throw new EscrowRefusal(
          'unknown_restorer',
          `There is no active user named "${userId}" to name as a restorer.`,
          400,
        );
    }
  }
}
