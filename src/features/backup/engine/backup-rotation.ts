/**
 * RC-4 key rotation within a generation: where the encoder switches to a
 * new data key, and the switch itself — a new epoch key, escrowed (sealed
 * to the site's escrow key) and queued as an epoch-key announcement that the
 * uploader numbers before any chunk encrypted under it (seed 002 Fig. 4:
 * data ①②③ under the old key, key ④, data ⑤ under the new).
 */

import { ImageHash } from '@/core/crypto';
import { sealEpochEscrow } from './backup-escrow';
import { rotationDue, type RotationPolicy } from '@/core/transfer/rotation';
import { outboxOrderOfPosition, type EpochKeyOutboxRecord } from '@/shared/storage/database';
import type { LocalCopy } from '@/shared/storage/local-copy';
import { createChunkHasher, type ChunkHasher } from '@/features/backup/worker/chunk-hasher';
import { encodeImage, type EncoderParams } from './backup-encoder';
import type { RunState } from './backup-generation';
import { makeEpochKey } from './backup-keys';
import { epochKeyEntry } from './backup-stream';

/** At most this many chunks are encoded between two looks at the clock and at "rekey now". */
export const ROTATION_CHECK_CHUNKS = 32;

/** Where the key of the current epoch started, and what it has encrypted since. */
export interface EpochClock {
  readonly startedAt: number;
  readonly bytesUnderKey: number;
}

/**
 * The end (exclusive) of the next run of chunks under the current key: the
 * position at which its byte budget is spent, at most ROTATION_CHECK_CHUNKS
 * ahead, never past the image. A budget already spent still gives one chunk,
 * so the encoder always moves on.
 */
export function segmentEnd(
  policy: RotationPolicy,
  clock: EpochClock,
  position: number,
  chunkCount: number,
  chunkSize: number,
): number {
  const left = Math.max(0, policy.everyBytes - clock.bytesUnderKey);
  const chunksLeft = Math.max(1, Math.ceil(left / chunkSize));
  return Math.min(chunkCount, position + Math.min(chunksLeft, ROTATION_CHECK_CHUNKS));
}

/** Whether the key must change before the chunk at `position` (RC-4; `forced` is "rekey now"). */
export function rotateBefore(
  policy: RotationPolicy,
  clock: EpochClock,
  now: number,
  position: number,
  chunkCount: number,
  forced: boolean,
): boolean {
  if (position >= chunkCount) return false;
  return forced || rotationDue(policy, clock.bytesUnderKey, now - clock.startedAt);
}

/** The outbox order of an epoch key announced before the chunk at `position`. */
export function epochKeyOrderBefore(position: number): number {
  return outboxOrderOfPosition(position) - 0.5;
}

/**
 * Makes the next epoch's key, seals it for the site's escrow and stores the
 * announcement in the outbox, then switches the generation to it. The
 * caller hands the returned entry to the uploader before any chunk
 * encrypted under the new key.
 */
export async function rotateEpoch(
  localCopy: LocalCopy,
  state: RunState,
  position: number,
): Promise<EpochKeyOutboxRecord> {
  const { record } = state;
  const epoch = record.epoch + 1;
  const key = await makeEpochKey(record.volumeId, record.generation, epoch);
  const envelope = await sealEpochEscrow(localCopy, record, state.info.escrowKey.jwk, {
    volumeId: record.volumeId,
    chunkIdKey: key.chunkIdKeyForEscrow,
    dataKeys: new Map([[epoch, key.dataKeyForEscrow]]),
  });
  const entry: EpochKeyOutboxRecord = {
    ...epochKeyEntry({ ...record, epoch }, envelope),
    order: epochKeyOrderBefore(position),
  };
  await localCopy.putOutbox([entry]);
  await localCopy.updateGeneration(record.volumeId, record.generation, { epoch });
  state.record = { ...record, epoch };
  state.dataKey = key.dataKey;
  return entry;
}

/** "Rekey now" requests waiting for the encoder's next rotation point. */
export class RekeyRequests {
  #waiting: ((epoch: number | null) => void)[] = [];
  #closed = false;

  get pending(): boolean {
    return this.#waiting.length > 0;
  }

  /** Resolves with the new epoch, or null once no chunk is left to encrypt. */
  request(): Promise<number | null> {
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** The key changed: every request so far is answered with its epoch. */
  rotated(epoch: number): void {
    for (const resolve of this.#waiting.splice(0)) resolve(epoch);
  }

  /** Encoding is over: what waits, and what comes later, is answered with null. */
  close(): void {
    this.#closed = true;
    for (const resolve of this.#waiting.splice(0)) resolve(null);
  }
}

/** When the current key started and what it encrypted, and the "rekey now" requests (RC-4). */
export class EpochSchedule {
  clock: EpochClock;
  readonly rekeys = new RekeyRequests();

  constructor(
    readonly policy: RotationPolicy,
    now: number,
  ) {
    this.clock = { startedAt: now, bytesUnderKey: 0 };
  }

  get nextRotationAt(): string {
    return new Date(this.clock.startedAt + this.policy.everyMs).toISOString();
  }
}

export interface EpochEncoding extends Omit<
  EncoderParams,
  'record' | 'hash' | 'createHasher' | 'endPosition'
> {
  readonly state: RunState;
  readonly schedule: EpochSchedule;
  readonly now: () => number;
  /** The pool gets the current epoch's key: at the start and after each rotation. */
  readonly initPool: () => Promise<void>;
}

/**
 * Encodes the image from where the generation stands, in runs of chunks
 * under one key; between two runs the key changes when RC-4 says so, its
 * announcement handed to the uploader before any chunk under it. One image
 * hasher serves every run: it goes on from where the last run stopped, and
 * no worker has to be loaded again from a site that may have gone away.
 */
export async function encodeInEpochs(params: EpochEncoding): Promise<void> {
  const { state, schedule, reader, localCopy } = params;
  const { volumeId, generation, chunkSize } = state.record;
  if (state.record.nextPosition >= reader.chunkCount) return;
  const hash = state.record.hashState
    ? await ImageHash.restore(new Uint8Array(state.record.hashState))
    : await ImageHash.create();
  await params.initPool();
  const hasher = createChunkHasher(hash.saveState());
  const shared: ChunkHasher = { update: (buffer) => hasher.update(buffer), close: () => undefined };
  try {
    while (state.record.nextPosition < reader.chunkCount) {
      const position = state.record.nextPosition;
      const now = params.now();
      const forced = schedule.rekeys.pending;
      if (rotateBefore(schedule.policy, schedule.clock, now, position, reader.chunkCount, forced)) {
        params.handOver([await rotateEpoch(localCopy, state, position)]);
        await params.initPool();
        schedule.clock = { startedAt: now, bytesUnderKey: 0 };
        schedule.rekeys.rotated(state.record.epoch);
      }
      const before = state.record.bytesStored;
      await encodeImage({
        ...params,
        record: state.record,
        hash,
        createHasher: () => shared,
        endPosition: segmentEnd(
          schedule.policy,
          schedule.clock,
          position,
          reader.chunkCount,
          chunkSize,
        ),
      });
      state.record = (await localCopy.getGeneration(volumeId, generation))!;
      schedule.clock = {
        ...schedule.clock,
        bytesUnderKey: schedule.clock.bytesUnderKey + state.record.bytesStored - before,
      };
    }
  } finally {
    hasher.close();
  }
}
