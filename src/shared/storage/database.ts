/**
 * The browser's backup database (SPEC §5 "storage"): the local copy of every
 * volume this browser backed up — the primary copy of each pair (RC-1) —
 * with the outbox of transfers not yet acknowledged by the site (RC-2), the
 * resumable state of a running backup (BK-7), receipts (BK-10) and the
 * site keys pinned on first contact (BK-8). Key material lives apart, in the
 * key store (key-store.ts).
 */

import Dexie, { type Table } from 'dexie';
import type { ChunkEntry, ReleasePolicy, SignedManifest } from '@/core/crypto';
import type { Receipt, ReceiptStatement } from '@/core/crypto';
import type { VolumeKind } from '@/core/volume';
import type { P256PublicJwk } from '@/core/contract';

export const BACKUP_DATABASE_NAME = 'custodian-backup';

/** A volume this browser has backed up (or is backing up) for one operator. */
export interface VolumeRecord {
  readonly volumeId: string;
  readonly userId: string;
  readonly kind: VolumeKind;
  readonly label?: string;
  /** Highest generation the site confirmed with a verified receipt, 0 if none yet. */
  readonly latestGeneration: number;
  readonly latestManifestHash: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * One generation of a volume: a backup in progress or a complete one.
 * `in-progress` lasts from the first chunk until the receipt is verified.
 */
export interface GenerationRecord {
  readonly volumeId: string;
  readonly generation: number;
  readonly userId: string;
  readonly siteId: string;
  readonly state: 'in-progress' | 'complete';
  readonly kind: VolumeKind;
  readonly label?: string;
  /** What the operator selected; a re-selected file must match (BK-7). */
  readonly file: {
    readonly name: string;
    readonly size: number;
    readonly lastModified: number;
    /** Chunk IDs of the first and last chunk, set once they are known. */
    readonly firstChunkId?: string;
    readonly lastChunkId?: string;
  };
  readonly chunkSize: number;
  readonly chunkCount: number;
  /** Epoch of this generation's data key. */
  readonly epoch: number;
  readonly previousManifestHash: string | null;
  readonly restorers: readonly string[];
  readonly policy: ReleasePolicy;
  /** MS-4: the sites that keep the keys, whole or in shares; absent: the home site alone. */
  readonly escrow?: EscrowPlan;
  /** Chunks [0, nextPosition) are in the local copy and the hash state covers them. */
  readonly nextPosition: number;
  readonly bytesStored: number;
  /** Saved ImageHash state after `nextPosition` chunks (BK-7). */
  readonly hashState?: Uint8Array;
  /** Plaintext bytes whose chunks the site holds (acknowledged, skipped or known). */
  readonly bytesConfirmed: number;
  /** The pair at the site and the stream's next sequence number as of the last claim (RC-2). */
  readonly pairId?: string;
  readonly nextSeq: number;
  /** Highest sequence number the site reported applied in order. */
  readonly siteSeqApplied: number;
  readonly transfersSent: number;
  readonly chunksSkipped: number;
  readonly imageSha256?: string;
  readonly manifest?: SignedManifest;
  readonly manifestHash?: string;
  /** Time spent running, across reloads (for the duration and MB/s shown at the end). */
  readonly elapsedMs: number;
  readonly startedAt: string;
  readonly completedAt?: string;
}

/** A site that keeps a share of a volume's keys, with the escrow key its share is sealed to. */
export interface EscrowPlanSite {
  readonly siteId: string;
  /** The site fingerprint pinned for it (MS-1). */
  readonly fingerprint: string;
  readonly escrowKey: P256PublicJwk;
}

/** An earlier generation's sites and k, as the signed index names them (no keys). */
export interface KeptEscrowPlan {
  readonly threshold: number;
  readonly sites: readonly Pick<EscrowPlanSite, 'siteId' | 'fingerprint'>[];
}

/** MS-4: k of the n sites are needed to restore; the home site is first. */
export interface EscrowPlan {
  readonly threshold: number;
  readonly sites: readonly EscrowPlanSite[];
}

/** One position of a generation's index (BK-6): which chunk sits there. */
export interface IndexEntryRecord extends ChunkEntry {
  readonly volumeId: string;
  readonly generation: number;
  readonly position: number;
}

/** A chunk blob of the local copy, stored once per volume and chunk ID. */
export interface ChunkRecord {
  readonly volumeId: string;
  readonly chunkId: string;
  readonly blob: Uint8Array<ArrayBuffer>;
  readonly ciphertextSha256: string;
  readonly length: number;
  readonly epoch: number;
}

/**
 * A transfer not yet acknowledged (RC-2), one shape per kind of transfer:
 * a chunk entry points at the blob in `chunks`, the others carry their
 * (already wrapped or public) payload. The stored rows have always had
 * exactly these fields per kind, so rows written earlier read as they are.
 */
export type OutboxRecord = ChunkOutboxRecord | EpochKeyOutboxRecord | CommitOutboxRecord;

export type OutboxKind = OutboxRecord['kind'];

interface OutboxEntryBase {
  readonly volumeId: string;
  readonly generation: number;
  /** Send order: the epoch key first, chunks by position, the commit last. */
  readonly order: number;
  /**
   * Set when the transfer is first sent and never changes after; kept in the
   * `sequence` table and joined in when the outbox is read.
   */
  readonly seq?: number;
}

/** A chunk of the local copy to send (its blob is in `chunks`). */
export interface ChunkOutboxRecord extends OutboxEntryBase {
  readonly kind: 'chunk';
  readonly chunkId: string;
  /** Of a chunk's blob: a site answering HEAD with another hash holds another blob. */
  readonly ciphertextSha256: string;
  /**
   * Ask the site first (HEAD) whether it holds the chunk: set for blobs made
   * before this backup and for a stream rebuilt after the site lost part of
   * it. A chunk sealed by this backup under its own new chunk ID cannot be
   * at the site yet, so it is sent without asking.
   */
  readonly probe?: boolean;
}

/** The announcement of an epoch's key (RC-4): the key sealed to the site's escrow key. */
export interface EpochKeyOutboxRecord extends OutboxEntryBase {
  readonly kind: 'epoch-key';
  readonly epoch: number;
  /** The escrow envelope (a JWE), UTF-8. */
  readonly payload: Uint8Array<ArrayBuffer>;
}

/** The commit (BK-8): the signed manifest and the escrow terms, sent last. */
export interface CommitOutboxRecord extends OutboxEntryBase {
  readonly kind: 'commit';
  /** Canonical JSON of the commit payload. */
  readonly payload: Uint8Array<ArrayBuffer>;
}

/** An outbox entry once it has its sequence number. */
export type NumberedOutboxRecord = OutboxRecord & { readonly seq: number };

/** Whether the entry has been given its sequence number. */
export function isNumbered(entry: OutboxRecord): entry is NumberedOutboxRecord {
  return entry.seq !== undefined;
}

/**
 * The sequence number a transfer was given when first sent (RC-2), kept in
 * a table of its own so that numbering a transfer never waits for the
 * writer's transactions on the outbox. Rows stay until the generation ends:
 * the highest of them tells a resumed backup where numbering stopped.
 */
export interface SequenceRecord {
  readonly volumeId: string;
  readonly generation: number;
  readonly order: number;
  readonly seq: number;
}

export interface ReceiptRecord {
  readonly volumeId: string;
  readonly generation: number;
  readonly userId: string;
  readonly receipt: Receipt;
  readonly statement: ReceiptStatement;
  readonly storedAt: string;
}

/** Public keys of a site as first met (BK-8): a change stops every backup. */
export interface SitePinRecord {
  readonly siteId: string;
  readonly siteName: string;
  /** The escrow key itself, so a registration file can be made while the site is away (BK-9). */
  readonly escrowJwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  readonly escrowFingerprint: string;
  readonly signingFingerprint: string;
  readonly pinnedAt: string;
}

/** Where a copy on another site stands (MS-3). */
export type SiteCopyState = 'copying' | 'copied' | 'waiting' | 'refused';

/**
 * A volume's copy on another site (MS-3): chosen by the operator, fed from
 * the local copy after the home site committed, and caught up by itself
 * while it lags. The keys stay at the home site; this site holds ciphertext.
 */
export interface SiteCopyRecord {
  readonly volumeId: string;
  readonly siteId: string;
  readonly userId: string;
  readonly siteName: string;
  /** Highest generation the site confirmed with a verified receipt, 0 if none yet. */
  readonly generation: number;
  readonly state: SiteCopyState;
  /** Why it waits or was refused: an error code of the console (BackupProblem). */
  readonly problem?: { readonly code: string; readonly params: Record<string, string | number> };
  /** The site's receipt for `generation`. */
  readonly receipt?: Receipt;
  /**
   * MS-6: the owner changed who may restore while this site could not be
   * told; the reason they gave, for the change still to be made there.
   */
  readonly restorersPending?: { readonly reason: string };
  readonly updatedAt: string;
}

/**
 * MS-4: one site's escrow envelope of one epoch (its share of the keys, or
 * with k = 1 the whole keys), sealed to that site's escrow key so that only
 * it can open it. Kept until that site confirms a generation using the
 * epoch, so that a site that was away gets the very share made for it.
 */
export interface EscrowEnvelopeRecord {
  readonly volumeId: string;
  readonly siteId: string;
  readonly epoch: number;
  /** The generation the epoch's key was made for. */
  readonly generation: number;
  readonly envelope: string;
}

export const OUTBOX_ORDER_EPOCH_KEY = 0;
export const OUTBOX_ORDER_COMMIT = Number.MAX_SAFE_INTEGER;
/** The outbox order of the chunk at `position`. */
export function outboxOrderOfPosition(position: number): number {
  return position + 1;
}

export class BackupDatabase extends Dexie {
  declare volumes: Table<VolumeRecord, string>;
  declare generations: Table<GenerationRecord, [string, number]>;
  declare indexEntries: Table<IndexEntryRecord, [string, number, number]>;
  declare chunks: Table<ChunkRecord, [string, string]>;
  declare outbox: Table<OutboxRecord, [string, number, number]>;
  declare sequence: Table<SequenceRecord, [string, number, number]>;
  declare receipts: Table<ReceiptRecord, [string, number]>;
  declare sitePins: Table<SitePinRecord, string>;
  declare siteCopies: Table<SiteCopyRecord, [string, string]>;
  declare escrowEnvelopes: Table<EscrowEnvelopeRecord, [string, string, number]>;

  constructor(name: string = BACKUP_DATABASE_NAME) {
    super(name);
    this.version(1).stores({
      volumes: 'volumeId, userId',
      generations: '[volumeId+generation], userId, state',
      indexEntries: '[volumeId+generation+position]',
      chunks: '[volumeId+chunkId], volumeId',
      outbox: '[volumeId+generation+order]',
      receipts: '[volumeId+generation], userId',
      sitePins: 'siteId',
    });
    this.version(2).stores({ sequence: '[volumeId+generation+order]' });
    this.version(3).stores({ siteCopies: '[volumeId+siteId], userId' });
    this.version(4).stores({ escrowEnvelopes: '[volumeId+siteId+epoch], volumeId' });
  }
}

/** False where the browser offers no IndexedDB (turned off, or some private windows). */
export function localStorageAvailable(): boolean {
  return typeof globalThis.indexedDB !== 'undefined';
}

let shared: BackupDatabase | undefined;

/** The console's one connection to the backup database. */
export function backupDatabase(): BackupDatabase {
  shared ??= new BackupDatabase();
  return shared;
}

/** Closes the shared connection (tests). */
export function closeBackupDatabase(): void {
  shared?.close();
  shared = undefined;
}

/** Key ranges over the compound keys of one generation. */
export function generationRange(
  volumeId: string,
  generation: number,
): [[string, number, number], [string, number, number]] {
  return [
    [volumeId, generation, -Infinity],
    [volumeId, generation, Infinity],
  ];
}
