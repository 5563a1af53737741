import type { RecordState } from '../../../../src/core/contract';
import type { ReleasePolicy } from '../../../../src/core/crypto/release-policy';
import type { AuditRepository } from '../ports';

/**
 * What the escrow rules need from storage. The Kysely store on SQLite
 * implements it: better-sqlite3 on the site and in tests, sql.js in the
 * offline demo's page. Methods that must be atomic say so.
 */
export interface DeviceKeyRow {
  readonly fingerprint: string;
  readonly userId: string;
  readonly publicJwk: string;
  /** DER SPKI, base64url. */
  readonly spki: string;
  readonly label: string | null;
  readonly registeredAt: string;
}

export type VolumeState = 'claimed' | 'registered';

export interface VolumeRow {
  readonly volumeId: string;
  readonly owner: string;
  readonly state: VolumeState;
  readonly pairId: string;
  readonly claimExpiresAt: string | null;
  readonly createdAt: string;
}

export interface RecordRow {
  readonly volumeId: string;
  readonly owner: string;
  readonly restorers: readonly string[];
  readonly policy: ReleasePolicy;
  readonly state: RecordState;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface GenerationRow {
  readonly volumeId: string;
  readonly generation: number;
  /** Canonical JSON of the signed manifest. */
  readonly manifest: string;
  readonly manifestHash: string;
  readonly size: number;
  readonly chunks: number;
  readonly deviceFingerprint: string;
  /** JSON of the signed receipt. */
  readonly receipt: string;
  readonly committedAt: string;
}

export interface ChunkRow {
  readonly volumeId: string;
  readonly chunkId: string;
  readonly ciphertextSha256: string;
  readonly size: number;
  readonly storedAt: string;
}

export interface PairRow {
  readonly pairId: string;
  readonly volumeId: string;
  readonly state: string;
  readonly seqApplied: number;
  readonly seqReceived: number;
  readonly bytes: number;
  readonly chunksReceived: number;
  readonly lastTransferAt: string | null;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly unhealthyReason: string | null;
  readonly stateSince: string | null;
  readonly cutSeq: number | null;
  readonly lastHeartbeatAt: string | null;
  /** JSON of the primary's last heartbeat. */
  readonly heartbeat: string | null;
  /** RC-4 key rotation set by an administrator; null for the site's default. */
  readonly rotationEveryBytes: number | null;
  readonly rotationEveryMs: number | null;
}

export interface InstructionRow {
  readonly id: string;
  readonly pairId: string;
  readonly action: string;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly reason: string;
  readonly state: 'requested' | 'delivered' | 'acknowledged';
  readonly acknowledgedAt: string | null;
}

export interface PairHistoryRow {
  readonly at: string;
  readonly from: string | null;
  readonly to: string;
  readonly reason: string;
}

export type TransferStatus = 'received' | 'applied' | 'rejected';

export interface TransferRow {
  readonly pairId: string;
  readonly seq: number;
  readonly kind: string;
  readonly bodySha256: string;
  /** JSON of the transfer header. */
  readonly header: string;
  /** Epoch-key and commit payloads; chunk payloads live in the blob store. */
  readonly payload: Uint8Array | null;
  readonly status: TransferStatus;
  /** JSON: the ack (applied) or the refusal (rejected). */
  readonly outcome: string | null;
  readonly receivedAt: string;
  readonly appliedAt: string | null;
}

export type ReleaseState = 'released' | 'pending_approval' | 'denied';

export interface ReleaseRow {
  readonly requestId: string;
  readonly userId: string;
  readonly volumeId: string;
  readonly generation: number;
  readonly ephemeralJwk: string;
  readonly state: ReleaseState;
  readonly envelope: string | null;
  readonly reason: string | null;
  readonly decidedBy: string | null;
  readonly createdAt: string;
  readonly decidedAt: string | null;
}

export interface RearmRow {
  readonly id: string;
  readonly volumeId: string;
  readonly requestedBy: string;
  readonly reason: string;
  readonly state: 'pending' | 'approved' | 'denied';
  readonly decidedBy: string | null;
  readonly decisionReason: string | null;
  readonly createdAt: string;
  readonly decidedAt: string | null;
}

export interface RecordSearch {
  readonly q?: string;
  readonly state?: RecordState;
  readonly policy?: ReleasePolicy['kind'];
  readonly owner?: string;
  readonly restorer?: string;
  readonly sort: 'volumeId' | 'owner' | 'state' | 'policy' | 'updatedAt';
  readonly order: 'asc' | 'desc';
  readonly page: number;
  readonly pageSize: number;
}

export interface EscrowStore {
  addDevice(device: DeviceKeyRow): Promise<void>;
  findDevice(fingerprint: string): Promise<DeviceKeyRow | undefined>;
  devicesOf(userId: string): Promise<DeviceKeyRow[]>;

  findVolume(volumeId: string): Promise<VolumeRow | undefined>;
  /** Inserts unless the volume exists; returns the row now stored. Atomic. */
  insertVolumeIfAbsent(volume: VolumeRow): Promise<VolumeRow>;
  updateVolume(
    volumeId: string,
    patch: Partial<Pick<VolumeRow, 'owner' | 'state' | 'claimExpiresAt'>>,
  ): Promise<void>;
  deleteVolume(volumeId: string): Promise<void>;
  /** Claimed (never committed) volumes whose claim expired before `now`. */
  expiredClaims(now: string): Promise<VolumeRow[]>;

  findRecord(volumeId: string): Promise<RecordRow | undefined>;
  upsertRecord(record: RecordRow): Promise<void>;
  /** Sets the state only if it is `from` now; true if it changed. Atomic (RS-3). */
  compareAndSetRecordState(
    volumeId: string,
    from: RecordState,
    to: RecordState,
    at: string,
  ): Promise<boolean>;
  recordsOwnedBy(owner: string): Promise<RecordRow[]>;
  recordsNaming(userId: string): Promise<RecordRow[]>;

  addEnvelope(volumeId: string, epoch: number, envelope: string, at: string): Promise<void>;
  envelopesOf(volumeId: string): Promise<{ epoch: number; envelope: string }[]>;

  generationsOf(volumeId: string): Promise<GenerationRow[]>;
  findGeneration(volumeId: string, generation: number): Promise<GenerationRow | undefined>;
  latestGeneration(volumeId: string): Promise<GenerationRow | undefined>;
  insertGeneration(generation: GenerationRow): Promise<void>;

  findChunk(volumeId: string, chunkId: string): Promise<ChunkRow | undefined>;
  /** First writer wins: an existing row is kept. */
  insertChunkIfAbsent(chunk: ChunkRow): Promise<void>;
  chunksOf(volumeId: string): Promise<ChunkRow[]>;
  markChunksVerified(volumeId: string, chunkIds: readonly string[], at: string): Promise<void>;
  deleteChunks(volumeId: string, chunkIds: readonly string[]): Promise<void>;

  findPair(pairId: string): Promise<PairRow | undefined>;
  findPairOfVolume(volumeId: string): Promise<PairRow | undefined>;
  insertPair(pair: PairRow): Promise<void>;
  /** seqReceived = max(seqReceived, seq) and lastTransferAt = at, atomically. */
  noteTransferReceived(pairId: string, seq: number, at: string): Promise<void>;
  updatePair(
    pairId: string,
    patch: Partial<Omit<PairRow, 'pairId' | 'volumeId' | 'createdAt'>>,
  ): Promise<void>;

  listPairs(owner?: string): Promise<PairRow[]>;
  addPairHistory(pairId: string, entry: PairHistoryRow): Promise<void>;
  pairHistory(pairId: string): Promise<PairHistoryRow[]>;
  insertInstruction(instruction: InstructionRow): Promise<void>;
  instructionsOf(
    pairId: string,
    states: readonly InstructionRow['state'][],
  ): Promise<InstructionRow[]>;
  findInstruction(id: string): Promise<InstructionRow | undefined>;
  updateInstruction(
    id: string,
    patch: Partial<Pick<InstructionRow, 'state' | 'acknowledgedAt'>>,
  ): Promise<void>;
  addPairSample(
    pairId: string,
    at: string,
    lagSeconds: number | null,
    bytesPerSecond: number | null,
  ): Promise<void>;
  pairSamples(
    pairId: string,
    since: string,
  ): Promise<{ at: string; lagSeconds: number | null; bytesPerSecond: number | null }[]>;
  /** When the oldest transfer waiting beyond `aboveSeq + 1` arrived (a gap's age). */
  oldestBufferedAt(pairId: string, aboveSeq: number): Promise<string | undefined>;
  envelopeTimes(volumeId: string): Promise<{ epoch: number; at: string }[]>;

  /**
   * Runs `work` in one transaction, handing it the escrow store and the audit
   * repository bound to it: what `work` writes through them commits together
   * or not at all. `work` touches storage only, and only through `tx`; the
   * database itself waits for this commit.
   */
  atomically<T>(work: (tx: EscrowTransaction) => Promise<T>): Promise<T>;

  findTransfer(pairId: string, seq: number): Promise<TransferRow | undefined>;
  /** False if (pair, seq) exists already. */
  insertTransfer(transfer: TransferRow): Promise<boolean>;
  settleTransfer(
    pairId: string,
    seq: number,
    status: TransferStatus,
    outcome: string,
    at: string,
  ): Promise<void>;
  /** Received, not yet applied transfers above `seq`, in order. */
  bufferedTransfers(pairId: string, aboveSeq: number): Promise<TransferRow[]>;
  dropBufferedTransfers(pairId: string, aboveSeq: number): Promise<void>;

  findRelease(requestId: string): Promise<ReleaseRow | undefined>;
  insertRelease(release: ReleaseRow): Promise<boolean>;
  updateRelease(
    requestId: string,
    patch: Partial<Pick<ReleaseRow, 'state' | 'envelope' | 'reason' | 'decidedBy' | 'decidedAt'>>,
  ): Promise<void>;
  /** Releases in state 'released' of a volume (to one user, if given). */
  countReleases(volumeId: string, userId?: string): Promise<number>;
  /**
   * Once-per-restorer (BK-5): stores the release (inserting it, or updating
   * the pending row when `pendingExists`) only if the user has no released
   * row for the volume yet. Atomic; false if another release came first.
   */
  releaseOnceTo(release: ReleaseRow, pendingExists: boolean): Promise<boolean>;
  pendingReleases(): Promise<ReleaseRow[]>;
  hasPendingRelease(volumeId: string, userId: string): Promise<boolean>;

  /** A page of matching records; the count stops at a cap (totalIsCapped). */
  searchRecords(
    search: RecordSearch,
  ): Promise<{ records: RecordRow[]; total: number; totalIsCapped: boolean }>;
  releasesOf(volumeId: string): Promise<ReleaseRow[]>;
  /**
   * A page of a volume's key releases for its owner (AL-3): newest first by
   * (createdAt, requestId), only those strictly before `before` when given.
   */
  releasePageOf(
    volumeId: string,
    before: { readonly at: string; readonly requestId: string } | null,
    limit: number,
  ): Promise<ReleaseRow[]>;
  /** Counts for the dashboard: volumes, records by state, bytes stored per UTC day since `since`. */
  statistics(since: string): Promise<{
    volumes: number;
    recordsByState: Record<RecordState, number>;
    bytesPerDay: { day: string; bytes: number }[];
  }>;

  insertRearm(rearm: RearmRow): Promise<void>;
  findRearm(id: string): Promise<RearmRow | undefined>;
  pendingRearms(): Promise<RearmRow[]>;
  decideRearm(
    id: string,
    patch: Pick<RearmRow, 'state' | 'decidedBy' | 'decisionReason' | 'decidedAt'>,
  ): Promise<void>;

  isImported(registrationId: string): Promise<boolean>;
  /** Records an import; false if this registration ID was imported before (BK-9). Atomic. */
  recordImport(registrationId: string, volumeId: string, by: string, at: string): Promise<boolean>;

  /** The next receipt counter: a decimal string that never wraps (BK-10). */
  nextReceiptCounter(): Promise<string>;
}

/** Chunk blobs by (volume ID, chunk ID): filesystem now, object storage later. */
export interface BlobStore {
  /** Stores durably (temporary file, fsync, rename); the first writer wins. */
  put(volumeId: string, chunkId: string, blob: Uint8Array): Promise<'stored' | 'exists'>;
  get(volumeId: string, chunkId: string): Promise<Uint8Array | undefined>;
  /** The first `length` bytes of a blob (its header), without reading the rest. */
  head(volumeId: string, chunkId: string, length: number): Promise<Uint8Array | undefined>;
  delete(volumeId: string, chunkId: string): Promise<void>;
}

/** The repositories of one open transaction (`EscrowStore.atomically`). */
export interface EscrowTransaction {
  readonly store: EscrowStore;
  readonly audit: AuditRepository;
}
