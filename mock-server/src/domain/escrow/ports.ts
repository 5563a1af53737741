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
  /**
   * MS-3: the site that escrows this volume's keys when it is not this one
   * (this site then holds only ciphertext); null or absent: this site.
   */
  readonly keysAt?: string | null;
  /** The owner's name for the volume (read only; written by setLabel, never by upsert). */
  readonly label?: string | null;
  /**
   * The latest expiry an administrator set: the owner may move the expiry
   * earlier, never past it (null: no such bound). Upsert leaves the stored
   * value as it is when this is absent.
   */
  readonly expiryCeiling?: string | null;
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
  /** Only records whose expiry falls in this window: after `from`, at or before `to`. */
  readonly expiresBetween?: { readonly from: string; readonly to: string };
  readonly sort: 'volumeId' | 'owner' | 'state' | 'policy' | 'updatedAt';
  readonly order: 'asc' | 'desc';
  readonly page: number;
  readonly pageSize: number;
}

/** Device keys of users, by fingerprint. */
export interface DeviceRepository {
  add(device: DeviceKeyRow): Promise<void>;
  find(fingerprint: string): Promise<DeviceKeyRow | undefined>;
  of(userId: string): Promise<DeviceKeyRow[]>;
}

/** Volumes and their claims. */
export interface VolumeRepository {
  find(volumeId: string): Promise<VolumeRow | undefined>;
  /** Inserts unless the volume exists; returns the row now stored. Atomic. */
  insertIfAbsent(volume: VolumeRow): Promise<VolumeRow>;
  update(
    volumeId: string,
    patch: Partial<Pick<VolumeRow, 'owner' | 'state' | 'claimExpiresAt'>>,
  ): Promise<void>;
  delete(volumeId: string): Promise<void>;
  /** Claimed (never committed) volumes whose claim expired before `now`. */
  expiredClaims(now: string): Promise<VolumeRow[]>;
}

/** Registration files imported by an administrator (BK-9). */
export interface RegistrationImportRepository {
  has(registrationId: string): Promise<boolean>;
  /** Records an import; false if this registration ID was imported before (BK-9). Atomic. */
  insert(registrationId: string, volumeId: string, by: string, at: string): Promise<boolean>;
}

/** Escrow records: owner, restorers, release policy and state of a volume. */
export interface EscrowRecordRepository {
  find(volumeId: string): Promise<RecordRow | undefined>;
  upsert(record: RecordRow): Promise<void>;
  /** Sets the state only if it is `from` now; true if it changed. Atomic (RS-3). */
  compareAndSetState(
    volumeId: string,
    from: RecordState,
    to: RecordState,
    at: string,
  ): Promise<boolean>;
  ownedBy(owner: string): Promise<RecordRow[]>;
  /** The owner's name for the volume; null removes it. */
  setLabel(volumeId: string, label: string | null, at: string): Promise<void>;
  naming(userId: string): Promise<RecordRow[]>;
  /** A page of matching records; the count stops at a cap (totalIsCapped). */
  search(
    search: RecordSearch,
  ): Promise<{ records: RecordRow[]; total: number; totalIsCapped: boolean }>;
  /**
   * Records not revoked whose expiry falls after `from` and at or before `to`
   * and for whose expiry no notice was sent yet, at most `limit` of them.
   */
  expiringUnnoticed(from: string, to: string, limit: number): Promise<RecordRow[]>;
  /**
   * Marks the notice for this expiry sent, only if the record still expires
   * then and no notice for it was sent: true for the one caller that marked
   * it, so each expiry is noticed once even with several instances.
   */
  markExpiryNoticed(volumeId: string, expiresAt: string): Promise<boolean>;
}

/** The escrowed epoch keys of a volume, one envelope per epoch. */
export interface EnvelopeRepository {
  add(volumeId: string, epoch: number, envelope: string, at: string): Promise<void>;
  of(volumeId: string): Promise<{ epoch: number; envelope: string }[]>;
  times(volumeId: string): Promise<{ epoch: number; at: string }[]>;
}

/** Committed generations of a volume and the counter of the receipts issued for them. */
export interface GenerationRepository {
  of(volumeId: string): Promise<GenerationRow[]>;
  find(volumeId: string, generation: number): Promise<GenerationRow | undefined>;
  latest(volumeId: string): Promise<GenerationRow | undefined>;
  insert(generation: GenerationRow): Promise<void>;
  /** The next receipt counter: a decimal string that never wraps (BK-10). */
  nextReceiptCounter(): Promise<string>;
}

/** Stored chunks of a volume (their blobs are in the `BlobStore`). */
export interface ChunkRepository {
  find(volumeId: string, chunkId: string): Promise<ChunkRow | undefined>;
  /** First writer wins: an existing row is kept. */
  insertIfAbsent(chunk: ChunkRow): Promise<void>;
  of(volumeId: string): Promise<ChunkRow[]>;
  markVerified(volumeId: string, chunkIds: readonly string[], at: string): Promise<void>;
  delete(volumeId: string, chunkIds: readonly string[]): Promise<void>;
}

/** Replication pairs with their state history, instructions and samples. */
export interface PairRepository {
  find(pairId: string): Promise<PairRow | undefined>;
  ofVolume(volumeId: string): Promise<PairRow | undefined>;
  insert(pair: PairRow): Promise<void>;
  /** seqReceived = max(seqReceived, seq) and lastTransferAt = at, atomically. */
  noteTransferReceived(pairId: string, seq: number, at: string): Promise<void>;
  update(
    pairId: string,
    patch: Partial<Omit<PairRow, 'pairId' | 'volumeId' | 'createdAt'>>,
  ): Promise<void>;
  list(owner?: string): Promise<PairRow[]>;
  addHistory(pairId: string, entry: PairHistoryRow): Promise<void>;
  history(pairId: string): Promise<PairHistoryRow[]>;
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
  addSample(
    pairId: string,
    at: string,
    lagSeconds: number | null,
    bytesPerSecond: number | null,
  ): Promise<void>;
  samples(
    pairId: string,
    since: string,
  ): Promise<{ at: string; lagSeconds: number | null; bytesPerSecond: number | null }[]>;
}

/** Transfers a pair received, by (pair, sequence number). */
export interface TransferRepository {
  find(pairId: string, seq: number): Promise<TransferRow | undefined>;
  /** False if (pair, seq) exists already. */
  insert(transfer: TransferRow): Promise<boolean>;
  settle(
    pairId: string,
    seq: number,
    status: TransferStatus,
    outcome: string,
    at: string,
  ): Promise<void>;
  /** Received, not yet applied transfers above `seq`, in order. */
  buffered(pairId: string, aboveSeq: number): Promise<TransferRow[]>;
  dropBuffered(pairId: string, aboveSeq: number): Promise<void>;
  /** When the oldest transfer waiting beyond `aboveSeq + 1` arrived (a gap's age). */
  oldestBufferedAt(pairId: string, aboveSeq: number): Promise<string | undefined>;
}

/** Key releases to restorers and owners. */
export interface ReleaseRepository {
  find(requestId: string): Promise<ReleaseRow | undefined>;
  insert(release: ReleaseRow): Promise<boolean>;
  update(
    requestId: string,
    patch: Partial<Pick<ReleaseRow, 'state' | 'envelope' | 'reason' | 'decidedBy' | 'decidedAt'>>,
  ): Promise<void>;
  /** Releases in state 'released' of a volume (to one user, if given). */
  count(volumeId: string, userId?: string): Promise<number>;
  /**
   * Once-per-restorer (BK-5): stores the release (inserting it, or updating
   * the pending row when `pendingExists`) only if the user has no released
   * row for the volume yet. Atomic; false if another release came first.
   */
  releaseOnceTo(release: ReleaseRow, pendingExists: boolean): Promise<boolean>;
  pending(): Promise<ReleaseRow[]>;
  hasPending(volumeId: string, userId: string): Promise<boolean>;
  of(volumeId: string): Promise<ReleaseRow[]>;
  /**
   * A page of a volume's key releases for its owner (AL-3): newest first by
   * (createdAt, requestId), only those strictly before `before` when given.
   */
  pageOf(
    volumeId: string,
    before: { readonly at: string; readonly requestId: string } | null,
    limit: number,
  ): Promise<ReleaseRow[]>;
}

/** Requests to re-arm a burned record, and their decisions. */
export interface RearmRepository {
  insert(rearm: RearmRow): Promise<void>;
  find(id: string): Promise<RearmRow | undefined>;
  pending(): Promise<RearmRow[]>;
  decide(
    id: string,
    patch: Pick<RearmRow, 'state' | 'decidedBy' | 'decisionReason' | 'decidedAt'>,
  ): Promise<void>;
}

/** Counts across volumes, records and chunks, for the dashboard. */
export interface EscrowStatistics {
  /** Counts for the dashboard: volumes, records by state, bytes stored per UTC day since `since`. */
  since(since: string): Promise<{
    volumes: number;
    recordsByState: Record<RecordState, number>;
    bytesPerDay: { day: string; bytes: number }[];
  }>;
}

/** The escrow repositories, one per aggregate, over one database. */
export interface EscrowStore {
  readonly devices: DeviceRepository;
  readonly volumes: VolumeRepository;
  readonly imports: RegistrationImportRepository;
  readonly records: EscrowRecordRepository;
  readonly envelopes: EnvelopeRepository;
  readonly generations: GenerationRepository;
  readonly chunks: ChunkRepository;
  readonly pairs: PairRepository;
  readonly transfers: TransferRepository;
  readonly releases: ReleaseRepository;
  readonly rearms: RearmRepository;
  readonly statistics: EscrowStatistics;

  /**
   * Runs `work` in one transaction, handing it the escrow store and the audit
   * repository bound to it: what `work` writes through them commits together
   * or not at all. `work` touches storage only, and only through `tx`; the
   * database itself waits for this commit.
   */
  atomically<T>(work: (tx: EscrowTransaction) => Promise<T>): Promise<T>;
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
