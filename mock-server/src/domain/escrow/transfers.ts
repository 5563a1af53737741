import type { ErrorCode, TransferAck } from '../../../../src/core/contract';
import { fromUtf8 } from '../../../../src/core/crypto/bytes';
import {
  blobLength,
  CHUNK_SIZE,
  FORMAT_VERSION,
  paddedTransferSize,
} from '../../../../src/core/crypto/constants';
import { CustodianCryptoError } from '../../../../src/core/crypto/errors';
import { checkEnvelope } from '../../../../src/core/crypto/envelope';
import { parseChunkBlobHeader } from '../../../../src/core/crypto/chunk';
import { decodeTransfer, type Transfer } from '../../../../src/core/transfer/frame';
import { DomainError } from '../errors';
import { KeyedMutex } from '../keyed-mutex';
import { checkCommit } from './commit';
import { holdPoint } from './hold-points';
import { nowIso, type Caller, type EscrowDeps } from './context';
import type { ChunkRow, EscrowTransaction, PairRow, TransferRow, VolumeRow } from './ports';
import type { PairService } from './pairs';
import type { VolumeService } from './volumes';

/** The answer to one PUT of a transfer: 200 (applied/duplicate) or 202 (buffered). */
export interface TransferAnswer {
  readonly httpStatus: 200 | 202;
  readonly ack: TransferAck;
}

interface StoredRefusal {
  readonly refused: {
    code: ErrorCode;
    message: string;
    status: number;
    details?: Record<string, unknown>;
  };
}

/** Largest JSON or envelope payload a transfer may carry. */
const MAX_SMALL_PAYLOAD = CHUNK_SIZE;

/**
 * The one transfer protocol (RC-2): each PUT carries one sequence-numbered
 * transfer of a pair. It is idempotent per (pair, seq); the site keeps what
 * arrives out of order and applies strictly in sequence order, so the
 * secondary only ever holds a prefix of the primary's stream.
 */
export class TransferService {
  /**
   * A pair's transfers are applied one at a time in this process; several
   * instances of the site (SX-2) may start on the same one, and only the
   * first transaction to settle it does (`stillNext`), so no cross-process
   * lock is needed here.
   */
  private readonly applying = new KeyedMutex();

  constructor(
    private readonly deps: EscrowDeps,
    private readonly volumes: VolumeService,
    private readonly pairs: PairService,
  ) {}

  async put(
    caller: Caller,
    pairId: string,
    seq: number,
    body: Uint8Array,
    claimedSha256: string | undefined,
  ): Promise<TransferAnswer> {
    const { store } = this.deps;
    const { pair, volume } = await this.pairToReceive(caller, pairId);
    const bodySha256 = await this.checkedBodyHash(body, claimedSha256);

    const earlier = await store.transfers.find(pairId, seq);
    if (earlier) return this.answerAgain(earlier, bodySha256, pair, volume);
    if (seq <= pair.seqApplied) {
      throw new DomainError(
        'sequence_conflict',
        `Transfer ${seq} of this pair was already applied with other content.`,
        409,
      );
    }

    const transfer = decodeFor(body, volume);
    const stored = await this.storeReceived(volume, pairId, seq, transfer, bodySha256);
    if (!stored) {
      const raced = await store.transfers.find(pairId, seq);
      if (raced) return this.answerFor(raced, bodySha256, pair);
    }
    if (transfer.header.kind === 'commit') await holdPoint('commit-stored');

    await this.applying.run(pairId, () => this.applyInOrder(pairId, volume));
    await this.pairs.checkGaps(pairId);
    const settled = await store.transfers.find(pairId, seq);
    return this.answerFor(settled!, bodySha256, (await store.pairs.find(pairId))!, false);
  }

  /** The pair a transfer is for, and its volume, if the caller may send to it. */
  private async pairToReceive(
    caller: Caller,
    pairId: string,
  ): Promise<{ pair: PairRow; volume: VolumeRow }> {
    const { store } = this.deps;
    const pair = await store.pairs.find(pairId);
    if (!pair)
      throw new DomainError(
        'pair_not_found',
        `The site has no pair ${pairId}; claim the volume first.`,
        404,
      );
    const volume = await store.volumes.find(pair.volumeId);
    if (!volume)
      throw new DomainError(
        'pair_not_found',
        `The volume of pair ${pairId} is no longer claimed; claim it again.`,
        404,
      );
    await this.volumes.assertOwner(caller, volume, 'send data to');
    if (pair.state === 'SSWS') {
      throw new DomainError(
        'pair_taken_over',
        'The site has taken this pair over (SSWS); claim the volume again to become its new primary.',
        409,
      );
    }
    return { pair, volume };
  }

  /** The body's SHA-256, which must be the one sent with it. */
  private async checkedBodyHash(
    body: Uint8Array,
    claimedSha256: string | undefined,
  ): Promise<string> {
    const bodySha256 = await this.deps.sha256Hex(body);
    if (!claimedSha256 || claimedSha256.toLowerCase() !== bodySha256) {
      throw new DomainError(
        'body_hash_mismatch',
        'The transfer arrived damaged: its SHA-256 does not match the one sent with it. Send it again.',
        400,
      );
    }
    return bodySha256;
  }

  /**
   * A sequence number the site has seen before. One stored but not applied
   * yet (perhaps a crash came in between) is applied now if it is in
   * sequence, and answered with the outcome if there is one.
   */
  private async answerAgain(
    earlier: TransferRow,
    bodySha256: string,
    pair: PairRow,
    volume: VolumeRow,
  ): Promise<TransferAnswer> {
    if (earlier.status !== 'received' || earlier.bodySha256 !== bodySha256)
      return this.answerFor(earlier, bodySha256, pair);
    const { store } = this.deps;
    const { pairId, seq } = earlier;
    await this.applying.run(pairId, () => this.applyInOrder(pairId, volume));
    const now = (await store.transfers.find(pairId, seq))!;
    return this.answerFor(now, bodySha256, (await store.pairs.find(pairId))!);
  }

  /**
   * Keeps a new transfer as received: a chunk's blob on disk first
   * (fsynced), then its row and the transfer's in one commit, with the
   * claim's time-to-live renewed. False when the same number arrived first
   * by another request.
   */
  private async storeReceived(
    volume: VolumeRow,
    pairId: string,
    seq: number,
    transfer: Transfer,
    bodySha256: string,
  ): Promise<boolean> {
    const now = nowIso(this.deps);
    let payload: Uint8Array | null = null;
    let chunk: ChunkRow | undefined;
    if (transfer.header.kind === 'chunk') {
      chunk = await this.storeChunk(volume, transfer.header.chunkId, transfer.payload, now);
    } else {
      if (transfer.payload.length > MAX_SMALL_PAYLOAD)
        throw new DomainError('malformed_transfer', 'The transfer payload is too large.', 400);
      payload = transfer.payload.slice();
    }
    return this.deps.store.atomically(async (tx) => {
      if (chunk) await tx.store.chunks.insertIfAbsent(chunk);
      const fresh = await tx.store.transfers.insert({
        pairId,
        seq,
        kind: transfer.header.kind,
        bodySha256,
        header: JSON.stringify(transfer.header),
        payload,
        status: 'received',
        outcome: null,
        receivedAt: now,
        appliedAt: null,
      });
      if (!fresh) return false;
      await tx.store.pairs.noteTransferReceived(pairId, seq, now);
      await tx.store.volumes.update(volume.volumeId, {
        claimExpiresAt: new Date(
          this.deps.clock.now().getTime() + this.deps.claimTtlMs,
        ).toISOString(),
      });
      return true;
    });
  }

  /** Whether the site holds a chunk, with its ciphertext hash and epoch (dedup, resume). */
  async chunkInfo(caller: Caller, volumeId: string, chunkId: string) {
    const volume = await this.deps.store.volumes.find(volumeId);
    if (!volume) return undefined;
    await this.volumes.assertOwner(caller, volume, 'read the chunks of');
    return this.deps.store.chunks.find(volumeId, chunkId);
  }

  /** Stores a new chunk's blob (fsynced); returns the row to commit with its transfer. */
  private async storeChunk(
    volume: VolumeRow,
    chunkId: string,
    blob: Uint8Array,
    now: string,
  ): Promise<ChunkRow | undefined> {
    if (blob.length > blobLength(CHUNK_SIZE)) {
      throw new DomainError(
        'chunk_too_large',
        `A chunk blob can be at most ${blobLength(CHUNK_SIZE)} bytes.`,
        400,
      );
    }
    try {
      const header = parseChunkBlobHeader(blob);
      if (header.version !== FORMAT_VERSION)
        throw new DomainError(
          'malformed_transfer',
          `Chunk format ${header.version} is not supported.`,
          400,
        );
    } catch (error) {
      if (error instanceof CustodianCryptoError)
        throw new DomainError(
          'malformed_transfer',
          `The chunk blob is not valid: ${error.message}`,
          400,
        );
      throw error;
    }
    const existing = await this.deps.store.chunks.find(volume.volumeId, chunkId);
    if (existing) return undefined; // the first writer wins; the stored blob stays as it is
    await this.deps.blobs.put(volume.volumeId, chunkId, blob);
    return {
      volumeId: volume.volumeId,
      chunkId,
      // The chunk's ciphertext hash (ciphertextHash in core): SHA-256 of the whole blob.
      ciphertextSha256: await this.deps.sha256Hex(blob),
      size: blob.length,
      storedAt: now,
    };
  }

  /**
   * At start-up: applies what was stored but not applied when the site last
   * stopped (a crash between storing a transfer and applying it), so no
   * acknowledged transfer waits for a retry that may never come.
   */
  async applyStored(): Promise<number> {
    const { store } = this.deps;
    let applied = 0;
    for (const pair of await store.pairs.list()) {
      const next = await store.transfers.find(pair.pairId, pair.seqApplied + 1);
      const volume = await store.volumes.find(pair.volumeId);
      if (next?.status !== 'received' || !volume) continue;
      await this.applying.run(pair.pairId, () => this.applyInOrder(pair.pairId, volume));
      applied++;
    }
    return applied;
  }

  private async applyInOrder(pairId: string, volume: VolumeRow): Promise<void> {
    const { store } = this.deps;
    for (;;) {
      const pair = (await store.pairs.find(pairId))!;
      const next = await store.transfers.find(pairId, pair.seqApplied + 1);
      if (!next || next.status !== 'received') return;
      const now = nowIso(this.deps);
      try {
        const write = await this.apply(next, pair, volume);
        // What the transfer changes, its audit entry and its outcome: one
        // commit. A storage failure leaves it received, to apply on retry.
        const settled = await store.atomically(async (tx) => {
          // Another instance of the site (SX-2) may have applied it meanwhile.
          if (!(await stillNext(tx, pairId, pair.seqApplied))) return false;
          const applied = await write(tx);
          await tx.store.transfers.settle(
            pairId,
            next.seq,
            'applied',
            JSON.stringify(applied),
            now,
          );
          await tx.store.pairs.update(pairId, {
            seqApplied: next.seq,
            bytes: pair.bytes + paddedTransferSize(),
            chunksReceived: pair.chunksReceived + (next.kind === 'chunk' ? 1 : 0),
            lastError: null,
          });
          return true;
        });
        if (!settled) continue;
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        const refused: StoredRefusal = {
          refused: {
            code: error.code,
            message: error.message,
            status: error.status,
            ...(error.details ? { details: error.details } : {}),
          },
        };
        const settled = await store.atomically(async (tx) => {
          if (!(await stillNext(tx, pairId, pair.seqApplied))) return false;
          await tx.store.transfers.settle(
            pairId,
            next.seq,
            'rejected',
            JSON.stringify(refused),
            now,
          );
          await tx.store.pairs.update(pairId, {
            seqApplied: next.seq,
            lastError: `transfer ${next.seq} refused: ${error.message}`,
          });
          return true;
        });
        if (!settled) continue;
        // RC-3: a transfer refused in sequence suspends the pair by error.
        await this.pairs.onRejected(pairId, error.message);
        continue;
      }
      await this.pairs.onApplied(pairId, next.kind);
    }
  }

  /** Checks a transfer; returns its writes, for the transaction that settles it. */
  private async apply(
    transfer: TransferRow,
    pair: PairRow,
    volume: VolumeRow,
  ): Promise<(tx: EscrowTransaction) => Promise<TransferAck>> {
    const base = {
      pairId: pair.pairId,
      seq: transfer.seq,
      status: 'applied' as const,
      seqApplied: transfer.seq,
    };
    const header = JSON.parse(transfer.header) as Transfer['header'];
    if (header.kind === 'chunk') return async () => base;
    if (header.kind === 'epoch-key') {
      const envelope = fromUtf8(transfer.payload!);
      try {
        await checkEnvelope(envelope, this.deps.keys.escrow.privateKey, {
          purpose: 'escrow',
          volumeId: volume.volumeId,
          epochs: [header.epoch],
        });
      } catch (error) {
        if (error instanceof CustodianCryptoError) {
          throw new DomainError(
            'bad_envelope',
            `The key of epoch ${header.epoch} cannot be escrowed: ${error.message}`,
            409,
          );
        }
        throw error;
      }
      return async (tx) => {
        const known = (await tx.store.envelopes.of(volume.volumeId)).find(
          (e) => e.epoch === header.epoch,
        );
        if (known && known.envelope !== envelope) {
          throw new DomainError(
            'epoch_exists',
            `Epoch ${header.epoch} of this volume already has a key; announce a new epoch.`,
            409,
          );
        }
        if (!known) {
          // The envelope and its audit entry are in one transaction (see applyInOrder).
          await this.deps.audit.append(
            {
              event: 'epoch_key_escrowed',
              actor: volume.owner,
              volumeId: volume.volumeId,
              details: { epoch: header.epoch, seq: transfer.seq },
            },
            tx,
          );
          await holdPoint('envelope-audited');
          await tx.store.envelopes.add(volume.volumeId, header.epoch, envelope, nowIso(this.deps));
        }
        return base;
      };
    }
    const current = (await this.deps.store.volumes.find(volume.volumeId))!;
    const write = await checkCommit(this.deps, this.volumes, current, transfer.payload!);
    return async (tx) => ({ ...base, receipt: await write(tx) });
  }

  private answerFor(
    transfer: TransferRow,
    bodySha256: string,
    pair: PairRow,
    asDuplicate = true,
  ): TransferAnswer {
    if (transfer.bodySha256 !== bodySha256) {
      throw new DomainError(
        'sequence_conflict',
        `Transfer ${transfer.seq} of this pair was already received with other content.`,
        409,
      );
    }
    if (transfer.status === 'received') {
      return {
        httpStatus: 202,
        ack: {
          pairId: pair.pairId,
          seq: transfer.seq,
          status: 'buffered',
          seqApplied: pair.seqApplied,
        },
      };
    }
    const outcome = JSON.parse(transfer.outcome!) as TransferAck | StoredRefusal;
    if ('refused' in outcome) {
      const { code, message, status, details } = outcome.refused;
      throw new DomainError(code, message, status, details);
    }
    return {
      httpStatus: 200,
      ack: {
        ...outcome,
        status: asDuplicate ? 'duplicate' : 'applied',
        seqApplied: Math.max(pair.seqApplied, outcome.seqApplied),
      },
    };
  }
}

/** The transfer a body carries, which must be for the pair's volume. */
function decodeFor(body: Uint8Array, volume: VolumeRow): Transfer {
  let transfer: Transfer;
  try {
    transfer = decodeTransfer(body);
  } catch (error) {
    if (error instanceof CustodianCryptoError)
      throw new DomainError('malformed_transfer', error.message, 400);
    throw error;
  }
  if (transfer.header.volumeId !== volume.volumeId) {
    throw new DomainError(
      'malformed_transfer',
      `This transfer is for volume ${transfer.header.volumeId}, not for this pair's volume.`,
      400,
    );
  }
  return transfer;
}

/**
 * Whether the pair still waits for the transfer after `seqApplied`, read
 * inside the transaction that would settle it. One instance applies a
 * pair's transfers one at a time (`TransferService.applying`); several
 * instances of the site (SX-2) may each start on the same transfer, and the
 * transaction, which on PostgreSQL runs one at a time across processes
 * (persistence/transactions.ts), lets only the first settle it.
 */
async function stillNext(
  tx: EscrowTransaction,
  pairId: string,
  seqApplied: number,
): Promise<boolean> {
  return (await tx.store.pairs.find(pairId))?.seqApplied === seqApplied;
}
