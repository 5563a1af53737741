import type {
  ChunkRow,
  DeviceKeyRow,
  GenerationRow,
  InstructionRow,
  PairRow,
  RearmRow,
  RecordRow,
  ReleaseRow,
  TransferRow,
  VolumeRow,
} from '../../domain/escrow/ports';

/**
 * Copies of escrow rows holding exactly the columns the site's tables hold:
 * what goes in is copied, what comes out is a fresh copy, so a caller can
 * never change a stored row through an object it holds.
 */

export function copyDevice(d: DeviceKeyRow): DeviceKeyRow {
  return {
    fingerprint: d.fingerprint,
    userId: d.userId,
    publicJwk: d.publicJwk,
    spki: d.spki,
    label: d.label,
    registeredAt: d.registeredAt,
  };
}

export function copyVolume(v: VolumeRow): VolumeRow {
  return {
    volumeId: v.volumeId,
    owner: v.owner,
    state: v.state,
    pairId: v.pairId,
    claimExpiresAt: v.claimExpiresAt,
    createdAt: v.createdAt,
  };
}

export function storeRecord(r: RecordRow, createdAt = r.createdAt): RecordRow {
  return {
    volumeId: r.volumeId,
    owner: r.owner,
    restorers: [...r.restorers],
    policy: {
      kind: r.policy.kind,
      approvalRequired: Boolean(r.policy.approvalRequired),
      expiresAt: r.policy.expiresAt,
    },
    state: r.state,
    createdAt,
    updatedAt: r.updatedAt,
  };
}

export function copyRecord(r: RecordRow): RecordRow {
  return { ...r, restorers: [...r.restorers], policy: { ...r.policy } };
}

export function copyGeneration(g: GenerationRow): GenerationRow {
  return {
    volumeId: g.volumeId,
    generation: g.generation,
    manifest: g.manifest,
    manifestHash: g.manifestHash,
    size: g.size,
    chunks: g.chunks,
    deviceFingerprint: g.deviceFingerprint,
    receipt: g.receipt,
    committedAt: g.committedAt,
  };
}

export function copyChunk(c: ChunkRow): ChunkRow {
  return {
    volumeId: c.volumeId,
    chunkId: c.chunkId,
    ciphertextSha256: c.ciphertextSha256,
    size: c.size,
    storedAt: c.storedAt,
  };
}

export function copyPair(p: PairRow): PairRow {
  return {
    pairId: p.pairId,
    volumeId: p.volumeId,
    state: p.state,
    seqApplied: p.seqApplied,
    seqReceived: p.seqReceived,
    bytes: p.bytes,
    chunksReceived: p.chunksReceived,
    lastTransferAt: p.lastTransferAt,
    lastError: p.lastError,
    createdAt: p.createdAt,
    unhealthyReason: p.unhealthyReason,
    stateSince: p.stateSince,
    cutSeq: p.cutSeq,
    lastHeartbeatAt: p.lastHeartbeatAt,
    heartbeat: p.heartbeat,
    rotationEveryBytes: p.rotationEveryBytes,
    rotationEveryMs: p.rotationEveryMs,
  };
}

/** The columns of a pair that `updatePair` may change. */
export const PAIR_PATCH_FIELDS = [
  'state',
  'seqApplied',
  'seqReceived',
  'bytes',
  'chunksReceived',
  'lastTransferAt',
  'lastError',
  'unhealthyReason',
  'stateSince',
  'cutSeq',
  'lastHeartbeatAt',
  'heartbeat',
  'rotationEveryBytes',
  'rotationEveryMs',
] as const satisfies readonly (keyof PairRow)[];

export function copyInstruction(i: InstructionRow): InstructionRow {
  return {
    id: i.id,
    pairId: i.pairId,
    action: i.action,
    requestedBy: i.requestedBy,
    requestedAt: i.requestedAt,
    reason: i.reason,
    state: i.state,
    acknowledgedAt: i.acknowledgedAt,
  };
}

export function copyTransfer(t: TransferRow): TransferRow {
  return {
    pairId: t.pairId,
    seq: t.seq,
    kind: t.kind,
    bodySha256: t.bodySha256,
    header: t.header,
    // A fresh, plain Uint8Array: never a view of the caller's buffer.
    payload: t.payload ? new Uint8Array(t.payload) : null,
    status: t.status,
    outcome: t.outcome,
    receivedAt: t.receivedAt,
    appliedAt: t.appliedAt,
  };
}

export function copyRelease(r: ReleaseRow): ReleaseRow {
  return {
    requestId: r.requestId,
    userId: r.userId,
    volumeId: r.volumeId,
    generation: r.generation,
    ephemeralJwk: r.ephemeralJwk,
    state: r.state,
    envelope: r.envelope,
    reason: r.reason,
    decidedBy: r.decidedBy,
    createdAt: r.createdAt,
    decidedAt: r.decidedAt,
  };
}

export function copyRearm(r: RearmRow): RearmRow {
  return {
    id: r.id,
    volumeId: r.volumeId,
    requestedBy: r.requestedBy,
    reason: r.reason,
    state: r.state,
    decidedBy: r.decidedBy,
    decisionReason: r.decisionReason,
    createdAt: r.createdAt,
    decidedAt: r.decidedAt,
  };
}

/** Keeps only the fields of `patch` that are set, as the SQLite updates do. */
export function definedFields<T extends object>(
  patch: Partial<T>,
  fields: readonly (keyof T)[],
): Partial<T> {
  const set: Partial<T> = {};
  for (const field of fields) if (patch[field] !== undefined) set[field] = patch[field];
  return set;
}
