import type { Role } from '../../../src/core/contract';
import type {
  ChunkRow,
  InstructionRow,
  PairRow,
  RearmRow,
  RecordRow,
  ReleaseRow,
  TransferRow,
  VolumeRow,
} from '../../src/domain/escrow/ports';
import type { SessionRecord, UserRecord } from '../../src/domain/ports';
import { at } from './contract';

/** Rows with every column filled, for the contract cases to vary. */

export function userRow(userId: string, change: Partial<UserRecord> = {}): UserRecord {
  return {
    userId,
    displayName: `User ${userId}`,
    roles: ['operator'] as Role[],
    passwordHash: `hash-of-${userId}`,
    verifierOf: 'site-credential',
    mustChangePassword: false,
    disabled: false,
    createdAt: at(0),
    ...change,
  };
}

export function sessionRow(
  tokenHash: string,
  userId: string,
  change: Partial<SessionRecord> = {},
): SessionRecord {
  return {
    tokenHash,
    userId,
    createdAt: at(0),
    expiresAt: at(60),
    revokedAt: null,
    clientAddress: '127.0.0.1',
    ...change,
  };
}

export function volumeRow(volumeId: string, change: Partial<VolumeRow> = {}): VolumeRow {
  return {
    volumeId,
    owner: 'olive',
    state: 'claimed',
    pairId: `pair-of-${volumeId}`,
    claimExpiresAt: at(60),
    createdAt: at(0),
    ...change,
  };
}

export function recordRow(volumeId: string, change: Partial<RecordRow> = {}): RecordRow {
  return {
    volumeId,
    owner: 'olive',
    restorers: ['olive'],
    policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
    state: 'active',
    createdAt: at(0),
    updatedAt: at(0),
    ...change,
  };
}

export function chunkId(n: number): string {
  return n.toString(16).padStart(64, '0');
}

export function chunkRow(volumeId: string, n: number, change: Partial<ChunkRow> = {}): ChunkRow {
  return {
    volumeId,
    chunkId: chunkId(n),
    ciphertextSha256: `sha-${n}`,
    size: 100 + n,
    storedAt: at(n),
    ...change,
  };
}

export function pairRow(pairId: string, volumeId: string, change: Partial<PairRow> = {}): PairRow {
  return {
    pairId,
    volumeId,
    state: 'COPY',
    seqApplied: 0,
    seqReceived: 0,
    bytes: 0,
    chunksReceived: 0,
    lastTransferAt: null,
    lastError: null,
    createdAt: at(0),
    unhealthyReason: null,
    stateSince: at(0),
    cutSeq: null,
    lastHeartbeatAt: null,
    heartbeat: null,
    rotationEveryBytes: null,
    rotationEveryMs: null,
    ...change,
  };
}

export function transferRow(
  pairId: string,
  seq: number,
  change: Partial<TransferRow> = {},
): TransferRow {
  return {
    pairId,
    seq,
    kind: 'chunk',
    bodySha256: `body-${seq}`,
    header: JSON.stringify({ kind: 'chunk', seq }),
    payload: new Uint8Array([seq & 0xff, 1, 2, 3]),
    status: 'received',
    outcome: null,
    receivedAt: at(seq),
    appliedAt: null,
    ...change,
  };
}

export function instructionRow(
  id: string,
  pairId: string,
  change: Partial<InstructionRow> = {},
): InstructionRow {
  return {
    id,
    pairId,
    action: 'suspend',
    requestedBy: 'ada',
    requestedAt: at(0),
    reason: 'maintenance window',
    state: 'requested',
    acknowledgedAt: null,
    ...change,
  };
}

export function releaseRow(requestId: string, change: Partial<ReleaseRow> = {}): ReleaseRow {
  return {
    requestId,
    userId: 'rita',
    volumeId: 'vol-1',
    generation: 1,
    ephemeralJwk: '{"kty":"EC"}',
    state: 'released',
    envelope: `envelope-${requestId}`,
    reason: null,
    decidedBy: null,
    createdAt: at(0),
    decidedAt: null,
    ...change,
  };
}

export function rearmRow(id: string, change: Partial<RearmRow> = {}): RearmRow {
  return {
    id,
    volumeId: 'vol-1',
    requestedBy: 'ada',
    reason: 'restored by mistake',
    state: 'pending',
    decidedBy: null,
    decisionReason: null,
    createdAt: at(0),
    decidedAt: null,
    ...change,
  };
}
