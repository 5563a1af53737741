import { sql, type Kysely, type Selectable } from 'kysely';
import type { RecordState } from '../../../src/core/contract';
import type { ReleasePolicy } from '../../../src/core/crypto/release-policy';
import type {
  ChunkRow,
  DeviceKeyRow,
  EscrowStore,
  EscrowTransaction,
  GenerationRow,
  InstructionRow,
  PairHistoryRow,
  PairRow,
  RearmRow,
  RecordRow,
  RecordSearch,
  ReleaseRow,
  ReleaseState,
  TransferRow,
  TransferStatus,
  VolumeRow,
  VolumeState,
} from '../domain/escrow/ports';
import type {
  Database,
  EscrowRecordsTable,
  GenerationsTable,
  PairInstructionsTable,
  PairsTable,
  RearmRequestsTable,
  ReleasesTable,
  TransfersTable,
  VolumesTable,
} from './schema';
import { SqliteAuditRepository } from './sqlite-audit';
import { transact } from './transactions';

const toVolume = (r: Selectable<VolumesTable>): VolumeRow => ({
  volumeId: r.volume_id,
  owner: r.owner,
  state: r.state as VolumeState,
  pairId: r.pair_id,
  claimExpiresAt: r.claim_expires_at,
  createdAt: r.created_at,
});

const toRecord = (r: Selectable<EscrowRecordsTable>): RecordRow => ({
  volumeId: r.volume_id,
  owner: r.owner,
  restorers: JSON.parse(r.restorers) as string[],
  policy: {
    kind: r.policy_kind as ReleasePolicy['kind'],
    approvalRequired: r.approval_required === 1,
    expiresAt: r.expires_at,
  },
  state: r.state as RecordState,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toGeneration = (r: Selectable<GenerationsTable>): GenerationRow => ({
  volumeId: r.volume_id,
  generation: r.generation,
  manifest: r.manifest,
  manifestHash: r.manifest_hash,
  size: r.size,
  chunks: r.chunks,
  deviceFingerprint: r.device_fingerprint,
  receipt: r.receipt,
  committedAt: r.committed_at,
});

const toPair = (r: Selectable<PairsTable>): PairRow => ({
  pairId: r.pair_id,
  volumeId: r.volume_id,
  state: r.state,
  seqApplied: r.seq_applied,
  seqReceived: r.seq_received,
  bytes: r.bytes,
  chunksReceived: r.chunks_received,
  lastTransferAt: r.last_transfer_at,
  lastError: r.last_error,
  createdAt: r.created_at,
  unhealthyReason: r.unhealthy_reason,
  stateSince: r.state_since,
  cutSeq: r.cut_seq,
  lastHeartbeatAt: r.last_heartbeat_at,
  heartbeat: r.heartbeat,
  rotationEveryBytes: r.rotation_every_bytes,
  rotationEveryMs: r.rotation_every_ms,
});

const toTransfer = (r: Selectable<TransfersTable>): TransferRow => ({
  pairId: r.pair_id,
  seq: r.seq,
  kind: r.kind,
  bodySha256: r.body_sha256,
  header: r.header,
  payload: r.payload ? new Uint8Array(r.payload) : null,
  status: r.status as TransferStatus,
  outcome: r.outcome,
  receivedAt: r.received_at,
  appliedAt: r.applied_at,
});

const toRearm = (r: Selectable<RearmRequestsTable>): RearmRow => ({
  id: r.id,
  volumeId: r.volume_id,
  requestedBy: r.requested_by,
  reason: r.reason,
  state: r.state as RearmRow['state'],
  decidedBy: r.decided_by,
  decisionReason: r.decision_reason,
  createdAt: r.created_at,
  decidedAt: r.decided_at,
});

const toInstruction = (r: Selectable<PairInstructionsTable>): InstructionRow => ({
  id: r.id,
  pairId: r.pair_id,
  action: r.action,
  requestedBy: r.requested_by,
  requestedAt: r.requested_at,
  reason: r.reason,
  state: r.state as InstructionRow['state'],
  acknowledgedAt: r.acknowledged_at,
});

const toRelease = (r: Selectable<ReleasesTable>): ReleaseRow => ({
  requestId: r.request_id,
  userId: r.user_id,
  volumeId: r.volume_id,
  generation: r.generation,
  ephemeralJwk: r.ephemeral_jwk,
  state: r.state as ReleaseState,
  envelope: r.envelope,
  reason: r.reason,
  decidedBy: r.decided_by,
  createdAt: r.created_at,
  decidedAt: r.decided_at,
});

function releaseValues(r: ReleaseRow) {
  return {
    request_id: r.requestId,
    user_id: r.userId,
    volume_id: r.volumeId,
    generation: r.generation,
    ephemeral_jwk: r.ephemeralJwk,
    state: r.state,
    envelope: r.envelope,
    reason: r.reason,
    decided_by: r.decidedBy,
    created_at: r.createdAt,
    decided_at: r.decidedAt,
  };
}

/** Counting matches of a restorer DB search stops here. */
export const RECORD_COUNT_CAP = 10_000;

/** The escrow store on the site's SQLite database. */
export class SqliteEscrowStore implements EscrowStore {
  /** `db` may be an open transaction: the store then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  atomically<T>(work: (tx: EscrowTransaction) => Promise<T>): Promise<T> {
    return transact(this.db, (trx) =>
      work({ store: new SqliteEscrowStore(trx), audit: new SqliteAuditRepository(trx) }),
    );
  }

  async addDevice(d: DeviceKeyRow): Promise<void> {
    await this.db
      .insertInto('device_keys')
      .values({
        fingerprint: d.fingerprint,
        user_id: d.userId,
        public_jwk: d.publicJwk,
        spki: d.spki,
        label: d.label,
        registered_at: d.registeredAt,
      })
      .onConflict((oc) => oc.column('fingerprint').doNothing())
      .execute();
  }

  async findDevice(fingerprint: string): Promise<DeviceKeyRow | undefined> {
    const r = await this.db
      .selectFrom('device_keys')
      .selectAll()
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
    return (
      r && {
        fingerprint: r.fingerprint,
        userId: r.user_id,
        publicJwk: r.public_jwk,
        spki: r.spki,
        label: r.label,
        registeredAt: r.registered_at,
      }
    );
  }

  async devicesOf(userId: string): Promise<DeviceKeyRow[]> {
    const rows = await this.db
      .selectFrom('device_keys')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('registered_at')
      .execute();
    return rows.map((r) => ({
      fingerprint: r.fingerprint,
      userId: r.user_id,
      publicJwk: r.public_jwk,
      spki: r.spki,
      label: r.label,
      registeredAt: r.registered_at,
    }));
  }

  async findVolume(volumeId: string): Promise<VolumeRow | undefined> {
    const r = await this.db
      .selectFrom('volumes')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .executeTakeFirst();
    return r && toVolume(r);
  }

  async insertVolumeIfAbsent(v: VolumeRow): Promise<VolumeRow> {
    // One transaction: the row read back is the row the insert left (BK-3).
    return transact(this.db, async (trx) => {
      await trx
        .insertInto('volumes')
        .values({
          volume_id: v.volumeId,
          owner: v.owner,
          state: v.state,
          pair_id: v.pairId,
          claim_expires_at: v.claimExpiresAt,
          created_at: v.createdAt,
        })
        .onConflict((oc) => oc.column('volume_id').doNothing())
        .execute();
      const row = await trx
        .selectFrom('volumes')
        .selectAll()
        .where('volume_id', '=', v.volumeId)
        .executeTakeFirstOrThrow();
      return toVolume(row);
    });
  }

  async updateVolume(
    volumeId: string,
    patch: Partial<Pick<VolumeRow, 'owner' | 'state' | 'claimExpiresAt'>>,
  ): Promise<void> {
    const set: Partial<VolumesTable> = {};
    if (patch.owner !== undefined) set.owner = patch.owner;
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.claimExpiresAt !== undefined) set.claim_expires_at = patch.claimExpiresAt;
    if (Object.keys(set).length)
      await this.db.updateTable('volumes').set(set).where('volume_id', '=', volumeId).execute();
  }

  async deleteVolume(volumeId: string): Promise<void> {
    await this.db.deleteFrom('volumes').where('volume_id', '=', volumeId).execute();
  }

  async expiredClaims(now: string): Promise<VolumeRow[]> {
    const rows = await this.db
      .selectFrom('volumes')
      .selectAll()
      .where('state', '=', 'claimed')
      .where('claim_expires_at', '<', now)
      .execute();
    return rows.map(toVolume);
  }

  async findRecord(volumeId: string): Promise<RecordRow | undefined> {
    const r = await this.db
      .selectFrom('escrow_records')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .executeTakeFirst();
    return r && toRecord(r);
  }

  async upsertRecord(rec: RecordRow): Promise<void> {
    const values = {
      volume_id: rec.volumeId,
      owner: rec.owner,
      restorers: JSON.stringify(rec.restorers),
      policy_kind: rec.policy.kind,
      approval_required: rec.policy.approvalRequired ? 1 : 0,
      expires_at: rec.policy.expiresAt,
      state: rec.state,
      created_at: rec.createdAt,
      updated_at: rec.updatedAt,
    };
    await transact(this.db, async (trx) => {
      await trx
        .insertInto('escrow_records')
        .values(values)
        .onConflict((oc) =>
          oc.column('volume_id').doUpdateSet({ ...values, created_at: sql`created_at` }),
        )
        .execute();
      await trx.deleteFrom('record_restorers').where('volume_id', '=', rec.volumeId).execute();
      if (rec.restorers.length) {
        await trx
          .insertInto('record_restorers')
          .values(rec.restorers.map((userId) => ({ volume_id: rec.volumeId, user_id: userId })))
          .execute();
      }
    });
  }

  async compareAndSetRecordState(
    volumeId: string,
    from: RecordState,
    to: RecordState,
    at: string,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('escrow_records')
      .set({ state: to, updated_at: at })
      .where('volume_id', '=', volumeId)
      .where('state', '=', from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async recordsOwnedBy(owner: string): Promise<RecordRow[]> {
    const rows = await this.db
      .selectFrom('escrow_records')
      .selectAll()
      .where('owner', '=', owner)
      .orderBy('volume_id')
      .execute();
    return rows.map(toRecord);
  }

  async recordsNaming(userId: string): Promise<RecordRow[]> {
    const rows = await this.db
      .selectFrom('escrow_records')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('owner', '=', userId),
          eb(
            'volume_id',
            'in',
            eb.selectFrom('record_restorers').select('volume_id').where('user_id', '=', userId),
          ),
        ]),
      )
      .orderBy('volume_id')
      .execute();
    return rows.map(toRecord);
  }

  async addEnvelope(volumeId: string, epoch: number, envelope: string, at: string): Promise<void> {
    await this.db
      .insertInto('escrow_envelopes')
      .values({ volume_id: volumeId, epoch, envelope, created_at: at })
      .onConflict((oc) => oc.columns(['volume_id', 'epoch']).doNothing())
      .execute();
  }

  async envelopesOf(volumeId: string): Promise<{ epoch: number; envelope: string }[]> {
    return this.db
      .selectFrom('escrow_envelopes')
      .select(['epoch', 'envelope'])
      .where('volume_id', '=', volumeId)
      .orderBy('epoch')
      .execute();
  }

  async generationsOf(volumeId: string): Promise<GenerationRow[]> {
    const rows = await this.db
      .selectFrom('generations')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .orderBy('generation')
      .execute();
    return rows.map(toGeneration);
  }

  async findGeneration(volumeId: string, generation: number): Promise<GenerationRow | undefined> {
    const r = await this.db
      .selectFrom('generations')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .where('generation', '=', generation)
      .executeTakeFirst();
    return r && toGeneration(r);
  }

  async latestGeneration(volumeId: string): Promise<GenerationRow | undefined> {
    const r = await this.db
      .selectFrom('generations')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .orderBy('generation', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r && toGeneration(r);
  }

  async insertGeneration(g: GenerationRow): Promise<void> {
    await this.db
      .insertInto('generations')
      .values({
        volume_id: g.volumeId,
        generation: g.generation,
        manifest: g.manifest,
        manifest_hash: g.manifestHash,
        size: g.size,
        chunks: g.chunks,
        device_fingerprint: g.deviceFingerprint,
        receipt: g.receipt,
        committed_at: g.committedAt,
      })
      .execute();
  }

  async findChunk(volumeId: string, chunkId: string): Promise<ChunkRow | undefined> {
    const r = await this.db
      .selectFrom('chunks')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .where('chunk_id', '=', chunkId)
      .executeTakeFirst();
    return (
      r && {
        volumeId: r.volume_id,
        chunkId: r.chunk_id,
        ciphertextSha256: r.ciphertext_sha256,
        size: r.size,
        storedAt: r.stored_at,
      }
    );
  }

  async insertChunkIfAbsent(c: ChunkRow): Promise<void> {
    await this.db
      .insertInto('chunks')
      .values({
        volume_id: c.volumeId,
        chunk_id: c.chunkId,
        ciphertext_sha256: c.ciphertextSha256,
        size: c.size,
        stored_at: c.storedAt,
        verified_at: null,
      })
      .onConflict((oc) => oc.columns(['volume_id', 'chunk_id']).doNothing())
      .execute();
  }

  async chunksOf(volumeId: string): Promise<ChunkRow[]> {
    const rows = await this.db
      .selectFrom('chunks')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .execute();
    return rows.map((r) => ({
      volumeId: r.volume_id,
      chunkId: r.chunk_id,
      ciphertextSha256: r.ciphertext_sha256,
      size: r.size,
      storedAt: r.stored_at,
    }));
  }

  async markChunksVerified(
    volumeId: string,
    chunkIds: readonly string[],
    at: string,
  ): Promise<void> {
    for (let i = 0; i < chunkIds.length; i += 500) {
      await this.db
        .updateTable('chunks')
        .set({ verified_at: at })
        .where('volume_id', '=', volumeId)
        .where('chunk_id', 'in', chunkIds.slice(i, i + 500))
        .execute();
    }
  }

  async deleteChunks(volumeId: string, chunkIds: readonly string[]): Promise<void> {
    for (let i = 0; i < chunkIds.length; i += 500) {
      await this.db
        .deleteFrom('chunks')
        .where('volume_id', '=', volumeId)
        .where('chunk_id', 'in', chunkIds.slice(i, i + 500))
        .execute();
    }
  }

  async findPair(pairId: string): Promise<PairRow | undefined> {
    const r = await this.db
      .selectFrom('pairs')
      .selectAll()
      .where('pair_id', '=', pairId)
      .executeTakeFirst();
    return r && toPair(r);
  }

  async findPairOfVolume(volumeId: string): Promise<PairRow | undefined> {
    const r = await this.db
      .selectFrom('pairs')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .executeTakeFirst();
    return r && toPair(r);
  }

  async insertPair(p: PairRow): Promise<void> {
    await this.db
      .insertInto('pairs')
      .values({
        pair_id: p.pairId,
        volume_id: p.volumeId,
        state: p.state,
        seq_applied: p.seqApplied,
        seq_received: p.seqReceived,
        bytes: p.bytes,
        chunks_received: p.chunksReceived,
        last_transfer_at: p.lastTransferAt,
        last_error: p.lastError,
        created_at: p.createdAt,
        unhealthy_reason: p.unhealthyReason,
        state_since: p.stateSince,
        cut_seq: p.cutSeq,
        last_heartbeat_at: p.lastHeartbeatAt,
        heartbeat: p.heartbeat,
        rotation_every_bytes: p.rotationEveryBytes,
        rotation_every_ms: p.rotationEveryMs,
      })
      .execute();
  }

  async noteTransferReceived(pairId: string, seq: number, at: string): Promise<void> {
    await this.db
      .updateTable('pairs')
      .set({ seq_received: sql`max(seq_received, ${seq})`, last_transfer_at: at })
      .where('pair_id', '=', pairId)
      .execute();
  }

  async updatePair(
    pairId: string,
    patch: Partial<Omit<PairRow, 'pairId' | 'volumeId' | 'createdAt'>>,
  ): Promise<void> {
    const set: Partial<PairsTable> = {};
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.seqApplied !== undefined) set.seq_applied = patch.seqApplied;
    if (patch.seqReceived !== undefined) set.seq_received = patch.seqReceived;
    if (patch.bytes !== undefined) set.bytes = patch.bytes;
    if (patch.chunksReceived !== undefined) set.chunks_received = patch.chunksReceived;
    if (patch.lastTransferAt !== undefined) set.last_transfer_at = patch.lastTransferAt;
    if (patch.lastError !== undefined) set.last_error = patch.lastError;
    if (patch.unhealthyReason !== undefined) set.unhealthy_reason = patch.unhealthyReason;
    if (patch.stateSince !== undefined) set.state_since = patch.stateSince;
    if (patch.cutSeq !== undefined) set.cut_seq = patch.cutSeq;
    if (patch.lastHeartbeatAt !== undefined) set.last_heartbeat_at = patch.lastHeartbeatAt;
    if (patch.heartbeat !== undefined) set.heartbeat = patch.heartbeat;
    if (patch.rotationEveryBytes !== undefined) set.rotation_every_bytes = patch.rotationEveryBytes;
    if (patch.rotationEveryMs !== undefined) set.rotation_every_ms = patch.rotationEveryMs;
    if (Object.keys(set).length)
      await this.db.updateTable('pairs').set(set).where('pair_id', '=', pairId).execute();
  }

  async listPairs(owner?: string): Promise<PairRow[]> {
    let q = this.db.selectFrom('pairs').selectAll('pairs');
    if (owner)
      q = q
        .innerJoin('volumes', 'volumes.volume_id', 'pairs.volume_id')
        .where('volumes.owner', '=', owner);
    const rows = await q.orderBy('pairs.created_at').execute();
    return rows.map(toPair);
  }

  async addPairHistory(pairId: string, e: PairHistoryRow): Promise<void> {
    await this.db
      .insertInto('pair_history')
      .values({ pair_id: pairId, at: e.at, from_state: e.from, to_state: e.to, reason: e.reason })
      .execute();
  }

  async pairHistory(pairId: string): Promise<PairHistoryRow[]> {
    const rows = await this.db
      .selectFrom('pair_history')
      .selectAll()
      .where('pair_id', '=', pairId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ at: r.at, from: r.from_state, to: r.to_state, reason: r.reason }));
  }

  async insertInstruction(i: InstructionRow): Promise<void> {
    await this.db
      .insertInto('pair_instructions')
      .values({
        id: i.id,
        pair_id: i.pairId,
        action: i.action,
        requested_by: i.requestedBy,
        requested_at: i.requestedAt,
        reason: i.reason,
        state: i.state,
        acknowledged_at: i.acknowledgedAt,
      })
      .execute();
  }

  async instructionsOf(
    pairId: string,
    states: readonly InstructionRow['state'][],
  ): Promise<InstructionRow[]> {
    if (states.length === 0) return [];
    const rows = await this.db
      .selectFrom('pair_instructions')
      .selectAll()
      .where('pair_id', '=', pairId)
      .where('state', 'in', [...states])
      .orderBy('requested_at')
      .execute();
    return rows.map(toInstruction);
  }

  async findInstruction(id: string): Promise<InstructionRow | undefined> {
    const r = await this.db
      .selectFrom('pair_instructions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return r && toInstruction(r);
  }

  async updateInstruction(
    id: string,
    patch: Partial<Pick<InstructionRow, 'state' | 'acknowledgedAt'>>,
  ): Promise<void> {
    const set: { state?: string; acknowledged_at?: string | null } = {};
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.acknowledgedAt !== undefined) set.acknowledged_at = patch.acknowledgedAt;
    if (Object.keys(set).length)
      await this.db.updateTable('pair_instructions').set(set).where('id', '=', id).execute();
  }

  async addPairSample(
    pairId: string,
    at: string,
    lagSeconds: number | null,
    bytesPerSecond: number | null,
  ): Promise<void> {
    await this.db
      .insertInto('pair_samples')
      .values({ pair_id: pairId, at, lag_seconds: lagSeconds, bytes_per_second: bytesPerSecond })
      .execute();
  }

  async pairSamples(pairId: string, since: string) {
    const rows = await this.db
      .selectFrom('pair_samples')
      .selectAll()
      .where('pair_id', '=', pairId)
      .where('at', '>=', since)
      .orderBy('at')
      .execute();
    return rows.map((r) => ({
      at: r.at,
      lagSeconds: r.lag_seconds,
      bytesPerSecond: r.bytes_per_second,
    }));
  }

  async oldestBufferedAt(pairId: string, aboveSeq: number): Promise<string | undefined> {
    const r = await this.db
      .selectFrom('transfers')
      .select((eb) => eb.fn.min('received_at').as('at'))
      .where('pair_id', '=', pairId)
      // The transfer at aboveSeq + 1 is the one being waited for, not one waiting.
      .where('seq', '>', aboveSeq + 1)
      .where('status', '=', 'received')
      .executeTakeFirst();
    return r?.at ?? undefined;
  }

  async envelopeTimes(volumeId: string): Promise<{ epoch: number; at: string }[]> {
    const rows = await this.db
      .selectFrom('escrow_envelopes')
      .select(['epoch', 'created_at'])
      .where('volume_id', '=', volumeId)
      .orderBy('epoch')
      .execute();
    return rows.map((r) => ({ epoch: r.epoch, at: r.created_at }));
  }

  async findTransfer(pairId: string, seq: number): Promise<TransferRow | undefined> {
    const r = await this.db
      .selectFrom('transfers')
      .selectAll()
      .where('pair_id', '=', pairId)
      .where('seq', '=', seq)
      .executeTakeFirst();
    return r && toTransfer(r);
  }

  async insertTransfer(t: TransferRow): Promise<boolean> {
    const result = await this.db
      .insertInto('transfers')
      .values({
        pair_id: t.pairId,
        seq: t.seq,
        kind: t.kind,
        body_sha256: t.bodySha256,
        header: t.header,
        payload: t.payload,
        status: t.status,
        outcome: t.outcome,
        received_at: t.receivedAt,
        applied_at: t.appliedAt,
      })
      .onConflict((oc) => oc.columns(['pair_id', 'seq']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async settleTransfer(
    pairId: string,
    seq: number,
    status: TransferStatus,
    outcome: string,
    at: string,
  ): Promise<void> {
    await this.db
      .updateTable('transfers')
      // The payload of an applied transfer is no longer needed: its effect is stored.
      .set({ status, outcome, applied_at: at, payload: null })
      .where('pair_id', '=', pairId)
      .where('seq', '=', seq)
      .execute();
  }

  async bufferedTransfers(pairId: string, aboveSeq: number): Promise<TransferRow[]> {
    const rows = await this.db
      .selectFrom('transfers')
      .selectAll()
      .where('pair_id', '=', pairId)
      .where('seq', '>', aboveSeq)
      .where('status', '=', 'received')
      .orderBy('seq')
      .execute();
    return rows.map(toTransfer);
  }

  async dropBufferedTransfers(pairId: string, aboveSeq: number): Promise<void> {
    await this.db
      .deleteFrom('transfers')
      .where('pair_id', '=', pairId)
      .where('seq', '>', aboveSeq)
      .where('status', '=', 'received')
      .execute();
  }

  async findRelease(requestId: string): Promise<ReleaseRow | undefined> {
    const r = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('request_id', '=', requestId)
      .executeTakeFirst();
    return r && toRelease(r);
  }

  async insertRelease(release: ReleaseRow): Promise<boolean> {
    const result = await this.db
      .insertInto('releases')
      .values(releaseValues(release))
      .onConflict((oc) => oc.column('request_id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async updateRelease(
    requestId: string,
    patch: Partial<Pick<ReleaseRow, 'state' | 'envelope' | 'reason' | 'decidedBy' | 'decidedAt'>>,
  ): Promise<void> {
    const set: Partial<ReleasesTable> = {};
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.envelope !== undefined) set.envelope = patch.envelope;
    if (patch.reason !== undefined) set.reason = patch.reason;
    if (patch.decidedBy !== undefined) set.decided_by = patch.decidedBy;
    if (patch.decidedAt !== undefined) set.decided_at = patch.decidedAt;
    if (Object.keys(set).length)
      await this.db.updateTable('releases').set(set).where('request_id', '=', requestId).execute();
  }

  async countReleases(volumeId: string, userId?: string): Promise<number> {
    let q = this.db
      .selectFrom('releases')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('volume_id', '=', volumeId)
      .where('state', '=', 'released');
    if (userId) q = q.where('user_id', '=', userId);
    return Number((await q.executeTakeFirstOrThrow()).n);
  }

  async releaseOnceTo(release: ReleaseRow, pendingExists: boolean): Promise<boolean> {
    return transact(this.db, async (trx) => {
      const prior = await trx
        .selectFrom('releases')
        .select('request_id')
        .where('volume_id', '=', release.volumeId)
        .where('user_id', '=', release.userId)
        .where('state', '=', 'released')
        .executeTakeFirst();
      if (prior) return false;
      if (pendingExists) {
        await trx
          .updateTable('releases')
          .set({
            state: 'released',
            envelope: release.envelope,
            decided_by: release.decidedBy,
            decided_at: release.decidedAt,
            reason: release.reason,
          })
          .where('request_id', '=', release.requestId)
          .execute();
      } else {
        await trx.insertInto('releases').values(releaseValues(release)).execute();
      }
      return true;
    });
  }

  async pendingReleases(): Promise<ReleaseRow[]> {
    const rows = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('state', '=', 'pending_approval')
      .orderBy('created_at')
      .execute();
    return rows.map(toRelease);
  }

  async hasPendingRelease(volumeId: string, userId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('releases')
      .select('request_id')
      .where('volume_id', '=', volumeId)
      .where('user_id', '=', userId)
      .where('state', '=', 'pending_approval')
      .executeTakeFirst();
    return Boolean(r);
  }

  async searchRecords(
    search: RecordSearch,
  ): Promise<{ records: RecordRow[]; total: number; totalIsCapped: boolean }> {
    // One table, no joins: the restorer list is also kept as JSON text on the
    // record, so every filter is a scan that can stop once the page is full
    // (ES-1: a filtered page stays fast with 100 000 records).
    const like = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    let q = this.db.selectFrom('escrow_records');
    if (search.state) q = q.where('state', '=', search.state);
    if (search.policy) q = q.where('policy_kind', '=', search.policy);
    if (search.owner) q = q.where('owner', '=', search.owner);
    // instr() is case-sensitive, like user IDs; the quotes make it the whole ID.
    if (search.restorer)
      q = q.where(sql<boolean>`instr(restorers, ${JSON.stringify(search.restorer)}) > 0`);
    if (search.q) {
      const text = search.q;
      const pattern = like(text);
      q = q.where((eb) =>
        eb.or([
          eb(sql`volume_id`, 'like', sql`${pattern} escape '\\'`),
          eb(sql`owner`, 'like', sql`${pattern} escape '\\'`),
          // Only text that can be part of a user ID is looked for in the restorer
          // list, so no match spans two entries of its JSON text.
          ...(/^[A-Za-z0-9._-]+$/.test(text)
            ? [eb(sql`restorers`, 'like', sql`${pattern} escape '\\'`)]
            : []),
        ]),
      );
    }
    const column = (
      {
        volumeId: 'volume_id',
        owner: 'owner',
        state: 'state',
        policy: 'policy_kind',
        updatedAt: 'updated_at',
      } as const
    )[search.sort];
    const rows = await q
      .selectAll()
      .orderBy(column, search.order)
      .orderBy('volume_id', 'asc')
      .limit(search.pageSize)
      .offset((search.page - 1) * search.pageSize)
      .execute();
    const offset = (search.page - 1) * search.pageSize;
    if (rows.length > 0 && rows.length < search.pageSize) {
      // The last page: the count is known without a second scan.
      const counted = offset + rows.length;
      return {
        records: rows.map(toRecord),
        total: Math.min(counted, RECORD_COUNT_CAP),
        totalIsCapped: counted > RECORD_COUNT_CAP,
      };
    }
    // Counting stops at a cap: beyond it the console says "more than".
    const { total } = await this.db
      .selectFrom(
        q
          .select(sql`1`.as('one'))
          .limit(RECORD_COUNT_CAP + 1)
          .as('matches'),
      )
      .select((eb) => eb.fn.countAll<number>().as('total'))
      .executeTakeFirstOrThrow();
    const n = Number(total);
    return {
      records: rows.map(toRecord),
      total: Math.min(n, RECORD_COUNT_CAP),
      totalIsCapped: n > RECORD_COUNT_CAP,
    };
  }

  async statistics(since: string) {
    const { volumes } = await this.db
      .selectFrom('volumes')
      .select((eb) => eb.fn.countAll<number>().as('volumes'))
      .executeTakeFirstOrThrow();
    const states = await this.db
      .selectFrom('escrow_records')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    const recordsByState: Record<RecordState, number> = { active: 0, burned: 0, revoked: 0 };
    for (const row of states) recordsByState[row.state as RecordState] = Number(row.n);
    const days = await this.db
      .selectFrom('chunks')
      .select([
        sql<string>`substr(stored_at, 1, 10)`.as('day'),
        (eb) => eb.fn.sum<number>('size').as('bytes'),
      ])
      .where('stored_at', '>=', since)
      .groupBy(sql`substr(stored_at, 1, 10)`)
      .orderBy('day')
      .execute();
    return {
      volumes: Number(volumes),
      recordsByState,
      bytesPerDay: days.map((d) => ({ day: d.day, bytes: Number(d.bytes) })),
    };
  }

  async releasesOf(volumeId: string): Promise<ReleaseRow[]> {
    const rows = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toRelease);
  }

  async releasePageOf(
    volumeId: string,
    before: { readonly at: string; readonly requestId: string } | null,
    limit: number,
  ): Promise<ReleaseRow[]> {
    // Read from releases_by_volume_time (migration 0007) and stops after `limit` rows.
    let query = this.db.selectFrom('releases').selectAll().where('volume_id', '=', volumeId);
    if (before) {
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', before.at),
          eb.and([eb('created_at', '=', before.at), eb('request_id', '<', before.requestId)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('request_id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toRelease);
  }

  async insertRearm(r: RearmRow): Promise<void> {
    await this.db
      .insertInto('rearm_requests')
      .values({
        id: r.id,
        volume_id: r.volumeId,
        requested_by: r.requestedBy,
        reason: r.reason,
        state: r.state,
        decided_by: r.decidedBy,
        decision_reason: r.decisionReason,
        created_at: r.createdAt,
        decided_at: r.decidedAt,
      })
      .execute();
  }

  async findRearm(id: string): Promise<RearmRow | undefined> {
    const r = await this.db
      .selectFrom('rearm_requests')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return r && toRearm(r);
  }

  async pendingRearms(): Promise<RearmRow[]> {
    const rows = await this.db
      .selectFrom('rearm_requests')
      .selectAll()
      .where('state', '=', 'pending')
      .orderBy('created_at')
      .execute();
    return rows.map(toRearm);
  }

  async decideRearm(
    id: string,
    patch: Pick<RearmRow, 'state' | 'decidedBy' | 'decisionReason' | 'decidedAt'>,
  ): Promise<void> {
    await this.db
      .updateTable('rearm_requests')
      .set({
        state: patch.state,
        decided_by: patch.decidedBy,
        decision_reason: patch.decisionReason,
        decided_at: patch.decidedAt,
      })
      .where('id', '=', id)
      .execute();
  }

  async isImported(registrationId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('registration_imports')
      .select('registration_id')
      .where('registration_id', '=', registrationId)
      .executeTakeFirst();
    return Boolean(r);
  }

  async recordImport(
    registrationId: string,
    volumeId: string,
    by: string,
    at: string,
  ): Promise<boolean> {
    const result = await this.db
      .insertInto('registration_imports')
      .values({
        registration_id: registrationId,
        volume_id: volumeId,
        imported_by: by,
        imported_at: at,
      })
      .onConflict((oc) => oc.column('registration_id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async nextReceiptCounter(): Promise<string> {
    return transact(this.db, async (trx) => {
      const row = await trx
        .selectFrom('site_meta')
        .select('value')
        .where('key', '=', 'receipt_counter')
        .executeTakeFirst();
      const next = (BigInt(row?.value ?? '0') + 1n).toString();
      await trx
        .insertInto('site_meta')
        .values({ key: 'receipt_counter', value: next })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: next }))
        .execute();
      return next;
    });
  }
}
