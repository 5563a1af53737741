import type { RecordState } from '../../../../src/core/contract';
import type {
  ChunkRow,
  DeviceKeyRow,
  EscrowStore,
  GenerationRow,
  InstructionRow,
  PairHistoryRow,
  PairRow,
  RearmRow,
  RecordRow,
  RecordSearch,
  ReleaseRow,
  TransferRow,
  TransferStatus,
  VolumeRow,
} from '../../domain/escrow/ports';
import {
  copyChunk,
  copyDevice,
  copyGeneration,
  copyInstruction,
  copyPair,
  copyRearm,
  copyRecord,
  copyRelease,
  copyTransfer,
  copyVolume,
  definedFields,
  PAIR_PATCH_FIELDS,
  storeRecord,
} from './memory-escrow-rows';
import type { MemoryUserRepository } from './memory-identity';
import { byKeys, compareText, ConstraintError, containsLike, limitOffset } from './sql-semantics';

/** Counting matches of a restorer DB search stops here, as at the site. */
export const RECORD_COUNT_CAP = 10_000;

/** Rows keyed by two columns, such as (volume ID, chunk ID); each group keeps insertion order. */
class TwoKeyTable<A, B, V> {
  private readonly groups = new Map<A, Map<B, V>>();

  get(a: A, b: B): V | undefined {
    return this.groups.get(a)?.get(b);
  }

  set(a: A, b: B, value: V): void {
    let group = this.groups.get(a);
    if (!group) this.groups.set(a, (group = new Map()));
    group.set(b, value);
  }

  delete(a: A, b: B): void {
    const group = this.groups.get(a);
    group?.delete(b);
    if (group?.size === 0) this.groups.delete(a);
  }

  of(a: A): V[] {
    return [...(this.groups.get(a)?.values() ?? [])];
  }

  all(): V[] {
    return [...this.groups.values()].flatMap((group) => [...group.values()]);
  }
}

interface StoredChunk extends ChunkRow {
  /** When a scrub last confirmed the chunk, as the site records it; no read of the port returns it. */
  readonly verifiedAt: string | null;
}

const SORT_KEYS: Record<RecordSearch['sort'], (r: RecordRow) => string> = {
  volumeId: (r) => r.volumeId,
  owner: (r) => r.owner,
  state: (r) => r.state,
  policy: (r) => r.policy.kind,
  updatedAt: (r) => r.updatedAt,
};

/**
 * The escrow store in memory, for unit tests and the offline demo. It keeps
 * the SQLite store's uniqueness rules, orders and filters; every method does
 * its reads and writes without awaiting in between, so what is atomic at the
 * site (compare-and-set, first writer wins, once-per-restorer) is atomic here.
 * Where the SQLite store falls short of the port (the known discrepancies in
 * test/repositories/repositories.test.ts), this one keeps the port's word.
 */
export class MemoryEscrowStore implements EscrowStore {
  private readonly devices = new Map<string, DeviceKeyRow>();
  private readonly volumes = new Map<string, VolumeRow>();
  private readonly records = new Map<string, RecordRow>();
  private readonly envelopes = new TwoKeyTable<
    string,
    number,
    { epoch: number; envelope: string; at: string }
  >();
  private readonly generations = new TwoKeyTable<string, number, GenerationRow>();
  private readonly chunks = new TwoKeyTable<string, string, StoredChunk>();
  private readonly pairs = new Map<string, PairRow>();
  private readonly history: { readonly pairId: string; readonly entry: PairHistoryRow }[] = [];
  private readonly instructions = new Map<string, InstructionRow>();
  private readonly samples: {
    pairId: string;
    at: string;
    lagSeconds: number | null;
    bytesPerSecond: number | null;
  }[] = [];
  private readonly transfers = new TwoKeyTable<string, number, TransferRow>();
  private readonly releases = new Map<string, ReleaseRow>();
  private readonly rearms = new Map<string, RearmRow>();
  private readonly imports = new Map<string, { volumeId: string; by: string; at: string }>();
  private receiptCounter = 0n;

  /** `users` answers whether a device's user exists, as the site's foreign key does. */
  constructor(private readonly users: Pick<MemoryUserRepository, 'has'>) {}

  async addDevice(device: DeviceKeyRow): Promise<void> {
    if (this.devices.has(device.fingerprint)) return;
    if (!this.users.has(device.userId)) throw new ConstraintError('FOREIGN KEY constraint failed');
    this.devices.set(device.fingerprint, copyDevice(device));
  }

  async findDevice(fingerprint: string): Promise<DeviceKeyRow | undefined> {
    const row = this.devices.get(fingerprint);
    return row && copyDevice(row);
  }

  async devicesOf(userId: string): Promise<DeviceKeyRow[]> {
    return [...this.devices.values()]
      .filter((d) => d.userId === userId)
      .sort(byKeys({ of: (d) => d.registeredAt }))
      .map(copyDevice);
  }

  async findVolume(volumeId: string): Promise<VolumeRow | undefined> {
    const row = this.volumes.get(volumeId);
    return row && copyVolume(row);
  }

  async insertVolumeIfAbsent(volume: VolumeRow): Promise<VolumeRow> {
    const existing = this.volumes.get(volume.volumeId);
    if (existing) return copyVolume(existing);
    for (const other of this.volumes.values()) {
      if (other.pairId === volume.pairId)
        throw new ConstraintError('UNIQUE constraint failed: volumes.pair_id');
    }
    const row = copyVolume(volume);
    this.volumes.set(row.volumeId, row);
    return copyVolume(row);
  }

  async updateVolume(
    volumeId: string,
    patch: Partial<Pick<VolumeRow, 'owner' | 'state' | 'claimExpiresAt'>>,
  ): Promise<void> {
    const row = this.volumes.get(volumeId);
    if (!row) return;
    this.volumes.set(volumeId, {
      ...row,
      ...definedFields<VolumeRow>(patch, ['owner', 'state', 'claimExpiresAt']),
    });
  }

  async deleteVolume(volumeId: string): Promise<void> {
    this.volumes.delete(volumeId);
  }

  async expiredClaims(now: string): Promise<VolumeRow[]> {
    return [...this.volumes.values()]
      .filter(
        (v) =>
          v.state === 'claimed' &&
          v.claimExpiresAt !== null &&
          compareText(v.claimExpiresAt, now) < 0,
      )
      .map(copyVolume);
  }

  async findRecord(volumeId: string): Promise<RecordRow | undefined> {
    const row = this.records.get(volumeId);
    return row && copyRecord(row);
  }

  async upsertRecord(record: RecordRow): Promise<void> {
    // One row per (volume, restorer) at the site: a repeated restorer fails the whole upsert.
    if (new Set(record.restorers).size !== record.restorers.length)
      throw new ConstraintError(
        'UNIQUE constraint failed: record_restorers.volume_id, record_restorers.user_id',
      );
    const existing = this.records.get(record.volumeId);
    this.records.set(
      record.volumeId,
      storeRecord(record, existing ? existing.createdAt : record.createdAt),
    );
  }

  async compareAndSetRecordState(
    volumeId: string,
    from: RecordState,
    to: RecordState,
    at: string,
  ): Promise<boolean> {
    const row = this.records.get(volumeId);
    if (!row || row.state !== from) return false;
    this.records.set(volumeId, { ...row, state: to, updatedAt: at });
    return true;
  }

  async recordsOwnedBy(owner: string): Promise<RecordRow[]> {
    return this.recordsWhere((r) => r.owner === owner);
  }

  async recordsNaming(userId: string): Promise<RecordRow[]> {
    return this.recordsWhere((r) => r.owner === userId || r.restorers.includes(userId));
  }

  async addEnvelope(volumeId: string, epoch: number, envelope: string, at: string): Promise<void> {
    // The first envelope of an epoch stays.
    if (!this.envelopes.get(volumeId, epoch))
      this.envelopes.set(volumeId, epoch, { epoch, envelope, at });
  }

  async envelopesOf(volumeId: string): Promise<{ epoch: number; envelope: string }[]> {
    return this.envelopes
      .of(volumeId)
      .sort(byKeys({ of: (e) => e.epoch }))
      .map(({ epoch, envelope }) => ({ epoch, envelope }));
  }

  async generationsOf(volumeId: string): Promise<GenerationRow[]> {
    return this.generations
      .of(volumeId)
      .sort(byKeys({ of: (g) => g.generation }))
      .map(copyGeneration);
  }

  async findGeneration(volumeId: string, generation: number): Promise<GenerationRow | undefined> {
    const row = this.generations.get(volumeId, generation);
    return row && copyGeneration(row);
  }

  async latestGeneration(volumeId: string): Promise<GenerationRow | undefined> {
    return (await this.generationsOf(volumeId)).at(-1);
  }

  async insertGeneration(generation: GenerationRow): Promise<void> {
    if (this.generations.get(generation.volumeId, generation.generation))
      throw new ConstraintError(
        'UNIQUE constraint failed: generations.volume_id, generations.generation',
      );
    this.generations.set(generation.volumeId, generation.generation, copyGeneration(generation));
  }

  async findChunk(volumeId: string, chunkId: string): Promise<ChunkRow | undefined> {
    const row = this.chunks.get(volumeId, chunkId);
    return row && copyChunk(row);
  }

  async insertChunkIfAbsent(chunk: ChunkRow): Promise<void> {
    if (this.chunks.get(chunk.volumeId, chunk.chunkId)) return;
    this.chunks.set(chunk.volumeId, chunk.chunkId, { ...copyChunk(chunk), verifiedAt: null });
  }

  async chunksOf(volumeId: string): Promise<ChunkRow[]> {
    // In chunk ID order, as the site reads them through its (volume, chunk) key.
    return this.chunks
      .of(volumeId)
      .sort(byKeys({ of: (c) => c.chunkId }))
      .map(copyChunk);
  }

  async markChunksVerified(
    volumeId: string,
    chunkIds: readonly string[],
    at: string,
  ): Promise<void> {
    for (const chunkId of chunkIds) {
      const row = this.chunks.get(volumeId, chunkId);
      if (row) this.chunks.set(volumeId, chunkId, { ...row, verifiedAt: at });
    }
  }

  async deleteChunks(volumeId: string, chunkIds: readonly string[]): Promise<void> {
    for (const chunkId of chunkIds) this.chunks.delete(volumeId, chunkId);
  }

  async findPair(pairId: string): Promise<PairRow | undefined> {
    const row = this.pairs.get(pairId);
    return row && copyPair(row);
  }

  async findPairOfVolume(volumeId: string): Promise<PairRow | undefined> {
    for (const pair of this.pairs.values()) if (pair.volumeId === volumeId) return copyPair(pair);
    return undefined;
  }

  async insertPair(pair: PairRow): Promise<void> {
    if (this.pairs.has(pair.pairId))
      throw new ConstraintError('UNIQUE constraint failed: pairs.pair_id');
    for (const other of this.pairs.values()) {
      if (other.volumeId === pair.volumeId)
        throw new ConstraintError('UNIQUE constraint failed: pairs.volume_id');
    }
    this.pairs.set(pair.pairId, copyPair(pair));
  }

  async noteTransferReceived(pairId: string, seq: number, at: string): Promise<void> {
    const row = this.pairs.get(pairId);
    if (row)
      this.pairs.set(pairId, {
        ...row,
        seqReceived: Math.max(row.seqReceived, seq),
        lastTransferAt: at,
      });
  }

  async updatePair(
    pairId: string,
    patch: Partial<Omit<PairRow, 'pairId' | 'volumeId' | 'createdAt'>>,
  ): Promise<void> {
    const row = this.pairs.get(pairId);
    if (row)
      this.pairs.set(pairId, { ...row, ...definedFields<PairRow>(patch, PAIR_PATCH_FIELDS) });
  }

  async listPairs(owner?: string): Promise<PairRow[]> {
    return [...this.pairs.values()]
      .filter((p) => !owner || this.volumes.get(p.volumeId)?.owner === owner)
      .sort(byKeys({ of: (p) => p.createdAt }))
      .map(copyPair);
  }

  async addPairHistory(pairId: string, entry: PairHistoryRow): Promise<void> {
    this.history.push({
      pairId,
      entry: { at: entry.at, from: entry.from, to: entry.to, reason: entry.reason },
    });
  }

  async pairHistory(pairId: string): Promise<PairHistoryRow[]> {
    return this.history.filter((h) => h.pairId === pairId).map((h) => ({ ...h.entry }));
  }

  async insertInstruction(instruction: InstructionRow): Promise<void> {
    if (this.instructions.has(instruction.id))
      throw new ConstraintError('UNIQUE constraint failed: pair_instructions.id');
    this.instructions.set(instruction.id, copyInstruction(instruction));
  }

  async instructionsOf(
    pairId: string,
    states: readonly InstructionRow['state'][],
  ): Promise<InstructionRow[]> {
    return [...this.instructions.values()]
      .filter((i) => i.pairId === pairId && states.includes(i.state))
      .sort(byKeys({ of: (i) => i.requestedAt }))
      .map(copyInstruction);
  }

  async findInstruction(id: string): Promise<InstructionRow | undefined> {
    const row = this.instructions.get(id);
    return row && copyInstruction(row);
  }

  async updateInstruction(
    id: string,
    patch: Partial<Pick<InstructionRow, 'state' | 'acknowledgedAt'>>,
  ): Promise<void> {
    const row = this.instructions.get(id);
    if (row)
      this.instructions.set(id, {
        ...row,
        ...definedFields<InstructionRow>(patch, ['state', 'acknowledgedAt']),
      });
  }

  async addPairSample(
    pairId: string,
    at: string,
    lagSeconds: number | null,
    bytesPerSecond: number | null,
  ): Promise<void> {
    this.samples.push({ pairId, at, lagSeconds, bytesPerSecond });
  }

  async pairSamples(
    pairId: string,
    since: string,
  ): Promise<{ at: string; lagSeconds: number | null; bytesPerSecond: number | null }[]> {
    return this.samples
      .filter((s) => s.pairId === pairId && compareText(s.at, since) >= 0)
      .sort(byKeys({ of: (s) => s.at }))
      .map(({ at, lagSeconds, bytesPerSecond }) => ({ at, lagSeconds, bytesPerSecond }));
  }

  async oldestBufferedAt(pairId: string, aboveSeq: number): Promise<string | undefined> {
    // Transfers beyond the missing one at aboveSeq + 1: their wait is the gap's age.
    let oldest: string | undefined;
    for (const t of this.transfers.of(pairId)) {
      if (t.status !== 'received' || t.seq <= aboveSeq + 1) continue;
      if (oldest === undefined || compareText(t.receivedAt, oldest) < 0) oldest = t.receivedAt;
    }
    return oldest;
  }

  async envelopeTimes(volumeId: string): Promise<{ epoch: number; at: string }[]> {
    return this.envelopes
      .of(volumeId)
      .sort(byKeys({ of: (e) => e.epoch }))
      .map(({ epoch, at }) => ({ epoch, at }));
  }

  /** Memory has no crash to survive: the writes simply happen in order. */
  atomically<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }

  async findTransfer(pairId: string, seq: number): Promise<TransferRow | undefined> {
    const row = this.transfers.get(pairId, seq);
    return row && copyTransfer(row);
  }

  async insertTransfer(transfer: TransferRow): Promise<boolean> {
    if (this.transfers.get(transfer.pairId, transfer.seq)) return false;
    this.transfers.set(transfer.pairId, transfer.seq, copyTransfer(transfer));
    return true;
  }

  async settleTransfer(
    pairId: string,
    seq: number,
    status: TransferStatus,
    outcome: string,
    at: string,
  ): Promise<void> {
    const row = this.transfers.get(pairId, seq);
    // The payload of a settled transfer is no longer needed: its effect is stored.
    if (row)
      this.transfers.set(pairId, seq, { ...row, status, outcome, appliedAt: at, payload: null });
  }

  async bufferedTransfers(pairId: string, aboveSeq: number): Promise<TransferRow[]> {
    return this.buffered(pairId, aboveSeq)
      .sort(byKeys({ of: (t) => t.seq }))
      .map(copyTransfer);
  }

  async dropBufferedTransfers(pairId: string, aboveSeq: number): Promise<void> {
    for (const t of this.buffered(pairId, aboveSeq)) this.transfers.delete(pairId, t.seq);
  }

  async findRelease(requestId: string): Promise<ReleaseRow | undefined> {
    const row = this.releases.get(requestId);
    return row && copyRelease(row);
  }

  async insertRelease(release: ReleaseRow): Promise<boolean> {
    if (this.releases.has(release.requestId)) return false;
    this.releases.set(release.requestId, copyRelease(release));
    return true;
  }

  async updateRelease(
    requestId: string,
    patch: Partial<Pick<ReleaseRow, 'state' | 'envelope' | 'reason' | 'decidedBy' | 'decidedAt'>>,
  ): Promise<void> {
    const row = this.releases.get(requestId);
    if (row)
      this.releases.set(requestId, {
        ...row,
        ...definedFields<ReleaseRow>(patch, [
          'state',
          'envelope',
          'reason',
          'decidedBy',
          'decidedAt',
        ]),
      });
  }

  async countReleases(volumeId: string, userId?: string): Promise<number> {
    let count = 0;
    for (const r of this.releases.values()) {
      if (r.volumeId === volumeId && r.state === 'released' && (!userId || r.userId === userId))
        count++;
    }
    return count;
  }

  async releaseOnceTo(release: ReleaseRow, pendingExists: boolean): Promise<boolean> {
    for (const r of this.releases.values()) {
      if (r.volumeId === release.volumeId && r.userId === release.userId && r.state === 'released')
        return false;
    }
    if (pendingExists) {
      const pending = this.releases.get(release.requestId);
      if (pending)
        this.releases.set(release.requestId, {
          ...pending,
          state: 'released',
          envelope: release.envelope,
          decidedBy: release.decidedBy,
          decidedAt: release.decidedAt,
          reason: release.reason,
        });
    } else {
      if (this.releases.has(release.requestId))
        throw new ConstraintError('UNIQUE constraint failed: releases.request_id');
      this.releases.set(release.requestId, copyRelease(release));
    }
    return true;
  }

  async pendingReleases(): Promise<ReleaseRow[]> {
    return [...this.releases.values()]
      .filter((r) => r.state === 'pending_approval')
      .sort(byKeys({ of: (r) => r.createdAt }))
      .map(copyRelease);
  }

  async hasPendingRelease(volumeId: string, userId: string): Promise<boolean> {
    for (const r of this.releases.values()) {
      if (r.volumeId === volumeId && r.userId === userId && r.state === 'pending_approval')
        return true;
    }
    return false;
  }

  async searchRecords(
    search: RecordSearch,
  ): Promise<{ records: RecordRow[]; total: number; totalIsCapped: boolean }> {
    const { q } = search;
    const matching: RecordRow[] = [];
    for (const row of this.records.values()) {
      if (search.state && row.state !== search.state) continue;
      if (search.policy && row.policy.kind !== search.policy) continue;
      if (search.owner && row.owner !== search.owner) continue;
      // A restorer is a whole user ID, case and all, as an owner is.
      if (search.restorer && !row.restorers.includes(search.restorer)) continue;
      // ES-1: volume ID, owner or one of the restorers holds the text.
      if (
        q &&
        !containsLike(row.volumeId, q) &&
        !containsLike(row.owner, q) &&
        !row.restorers.some((r) => containsLike(r, q))
      )
        continue;
      matching.push(row);
    }
    matching.sort(
      byKeys(
        { of: SORT_KEYS[search.sort], desc: search.order === 'desc' },
        { of: (r) => r.volumeId },
      ),
    );
    // The same capped count on every page of a search, the last one included.
    return {
      records: limitOffset(matching, search.pageSize, (search.page - 1) * search.pageSize).map(
        copyRecord,
      ),
      total: Math.min(matching.length, RECORD_COUNT_CAP),
      totalIsCapped: matching.length > RECORD_COUNT_CAP,
    };
  }

  async statistics(since: string) {
    const recordsByState: Record<RecordState, number> = { active: 0, burned: 0, revoked: 0 };
    for (const record of this.records.values()) recordsByState[record.state] += 1;
    const perDay = new Map<string, number>();
    for (const chunk of this.chunks.all()) {
      if (chunk.storedAt < since) continue;
      const day = chunk.storedAt.slice(0, 10);
      perDay.set(day, (perDay.get(day) ?? 0) + chunk.size);
    }
    return {
      volumes: this.volumes.size,
      recordsByState,
      bytesPerDay: [...perDay]
        .sort(([a], [b]) => compareText(a, b))
        .map(([day, bytes]) => ({ day, bytes })),
    };
  }

  async releasesOf(volumeId: string): Promise<ReleaseRow[]> {
    return [...this.releases.values()]
      .filter((r) => r.volumeId === volumeId)
      .sort(byKeys({ of: (r) => r.createdAt, desc: true }))
      .map(copyRelease);
  }

  async releasePageOf(
    volumeId: string,
    before: { readonly at: string; readonly requestId: string } | null,
    limit: number,
  ): Promise<ReleaseRow[]> {
    const older = (r: ReleaseRow) =>
      !before ||
      compareText(r.createdAt, before.at) < 0 ||
      (r.createdAt === before.at && compareText(r.requestId, before.requestId) < 0);
    const rows = [...this.releases.values()]
      .filter((r) => r.volumeId === volumeId && older(r))
      .sort(byKeys({ of: (r) => r.createdAt, desc: true }, { of: (r) => r.requestId, desc: true }));
    return limitOffset(rows, limit, 0).map(copyRelease);
  }

  async insertRearm(rearm: RearmRow): Promise<void> {
    if (this.rearms.has(rearm.id))
      throw new ConstraintError('UNIQUE constraint failed: rearm_requests.id');
    this.rearms.set(rearm.id, copyRearm(rearm));
  }

  async findRearm(id: string): Promise<RearmRow | undefined> {
    const row = this.rearms.get(id);
    return row && copyRearm(row);
  }

  async pendingRearms(): Promise<RearmRow[]> {
    return [...this.rearms.values()]
      .filter((r) => r.state === 'pending')
      .sort(byKeys({ of: (r) => r.createdAt }))
      .map(copyRearm);
  }

  async decideRearm(
    id: string,
    patch: Pick<RearmRow, 'state' | 'decidedBy' | 'decisionReason' | 'decidedAt'>,
  ): Promise<void> {
    const row = this.rearms.get(id);
    if (row)
      this.rearms.set(id, {
        ...row,
        state: patch.state,
        decidedBy: patch.decidedBy,
        decisionReason: patch.decisionReason,
        decidedAt: patch.decidedAt,
      });
  }

  async isImported(registrationId: string): Promise<boolean> {
    return this.imports.has(registrationId);
  }

  async recordImport(
    registrationId: string,
    volumeId: string,
    by: string,
    at: string,
  ): Promise<boolean> {
    if (this.imports.has(registrationId)) return false;
    this.imports.set(registrationId, { volumeId, by, at });
    return true;
  }

  async nextReceiptCounter(): Promise<string> {
    this.receiptCounter += 1n;
    return this.receiptCounter.toString();
  }

  private recordsWhere(test: (r: RecordRow) => boolean): RecordRow[] {
    return [...this.records.values()]
      .filter(test)
      .sort(byKeys({ of: (r) => r.volumeId }))
      .map(copyRecord);
  }

  private buffered(pairId: string, aboveSeq: number): TransferRow[] {
    return this.transfers.of(pairId).filter((t) => t.seq > aboveSeq && t.status === 'received');
  }
}
