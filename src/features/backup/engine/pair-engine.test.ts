import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '@/shared/api/request';
import {
  heartbeatRequestSchema,
  type HeartbeatRequest,
  type Instruction,
  type PairSummary,
} from '@/core/contract';
import { PairEngine, type PairBacklog, type PrimaryPairView } from './pair-engine';
import type { PairStream, PairStreamStatus } from './pair-link';

const PAIR_ID = '5d7f3c1e-8a2b-4c6d-9e0f-1a2b3c4d5e6f';
const VOLUME_ID = 'ext4:0123abcd-4567-489a-8bcd-ef0123456789';
const INTERVAL = 5_000;
const THRESHOLD = 15_000;

function summary(overrides: Partial<PairSummary> = {}): PairSummary {
  return {
    pairId: PAIR_ID,
    volumeId: VOLUME_ID,
    owner: 'operator',
    siteId: 'site-1',
    state: 'PAIR',
    group: 'in_step',
    unhealthyReason: null,
    copyPercent: 100,
    seqSent: 7,
    seqAcknowledged: 7,
    seqApplied: 7,
    pendingChunks: 0,
    pendingBytes: 0,
    lagSeconds: 0,
    bytesPerSecond: null,
    timeToSyncSeconds: 0,
    epochPrimary: 0,
    epochSecondary: 0,
    nextRotationAt: null,
    bytes: 0,
    lastTransferAt: null,
    lastError: null,
    lastHeartbeatAt: null,
    cutSeq: null,
    instructions: [],
    rotation: { everyBytes: 64 * 1024 ** 3, everyMs: 30 * 24 * 3600_000, siteDefault: true },
    ...overrides,
  };
}

function instruction(action: Instruction['action'], id: string): Instruction {
  return {
    id,
    action,
    requestedBy: 'admin',
    requestedAt: '2026-01-01T00:00:00.000Z',
    reason: 'maintenance window',
    state: 'delivered',
    acknowledgedAt: null,
  };
}

/** The site as the engine meets it: reachable or not, with instructions waiting. */
class FakePairsApi {
  reachable = true;
  pair = summary();
  waiting: Instruction[] = [];
  beats: HeartbeatRequest[] = [];
  acks: { instructionId: string; facts: { cutSeq?: number; epoch?: number } }[] = [];

  #check(): void {
    if (!this.reachable) throw new ApiError('network_error', 'The site could not be reached.', 0);
  }

  myPairs = async (): Promise<PairSummary[]> => {
    this.#check();
    return [this.pair];
  };

  heartbeat = async (_pairId: string, beat: HeartbeatRequest): Promise<Instruction[]> => {
    this.#check();
    this.beats.push(beat);
    return [...this.waiting];
  };

  acknowledge = async (
    _pairId: string,
    instructionId: string,
    facts: { cutSeq?: number; epoch?: number },
  ): Promise<PairSummary> => {
    this.#check();
    this.acks.push({ instructionId, facts });
    this.waiting = this.waiting.filter((i) => i.id !== instructionId);
    return this.pair;
  };
}

/** A running backup's stream whose suspension drains only when the test says so. */
class FakeStream implements PairStream {
  readonly volumeId = VOLUME_ID;
  readonly pairId = PAIR_ID;
  suspensions: { drain: boolean }[] = [];
  resumed = 0;
  rekeys = 0;
  #drained: ((cut: number) => void) | undefined;
  epoch = 0;

  suspend(options: { drain: boolean }): Promise<number> {
    this.suspensions.push(options);
    return new Promise((resolve) => {
      this.#drained = resolve;
    });
  }
  drain(cut: number): void {
    this.#drained?.(cut);
  }
  resume(): void {
    this.resumed += 1;
  }
  async rekey(): Promise<number | null> {
    this.rekeys += 1;
    this.epoch += 1;
    return this.epoch;
  }
  status(): PairStreamStatus {
    return { seqSent: 12, epoch: this.epoch, nextRotationAt: null, bytesPerSecond: 1000 };
  }
}

let api: FakePairsApi;
let engine: PairEngine;
let views: readonly PrimaryPairView[];
let backlog: PairBacklog | null;
let idleRekeys: number;
let drains: string[];
let drainOutcome: () => Promise<void>;

const view = (): PrimaryPairView => views[0]!;

function makeEngine(withDrain: boolean): PairEngine {
  return new PairEngine({
    api,
    backlog: async () => backlog,
    rekeyIdle: async () => {
      idleRekeys += 1;
      return 1;
    },
    ...(withDrain
      ? {
          drainIdle: async (volumeId: string) => {
            drains.push(volumeId);
            await drainOutcome();
          },
        }
      : {}),
    isUnreachable: (error) => error instanceof ApiError && error.code === 'network_error',
    now: () => Date.now(),
    intervalMs: INTERVAL,
    unreachableAfterMs: THRESHOLD,
    onChange: (next) => {
      views = next;
    },
  });
}

beforeEach(() => {
  vi.useFakeTimers();
  api = new FakePairsApi();
  views = [];
  idleRekeys = 0;
  drains = [];
  drainOutcome = async () => {
    backlog = backlog && { ...backlog, pending: 0, pendingBytes: 0 };
  };
  backlog = { pending: 3, pendingBytes: 3 * 4096, oldestPendingAt: null, seqSent: 9, epoch: 0 };
  engine = makeEngine(false);
});

afterEach(() => {
  engine.stop();
  vi.useRealTimers();
});

describe('heartbeats', () => {
  it('beats at once and on every interval with the outbox backlog', async () => {
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(api.beats).toHaveLength(1);
    expect(api.beats[0]).toMatchObject({
      state: 'PAIR',
      pending: 3,
      pendingBytes: 3 * 4096,
      seqSent: 9,
      epoch: 0,
    });
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(api.beats).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(api.beats).toHaveLength(3);
    expect(view()).toMatchObject({ state: 'PAIR', pending: 3, seqSent: 9, seqApplied: 7 });
  });

  it('beats at once when a backup changes something, without waiting for the interval', async () => {
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    engine.changed(VOLUME_ID);
    await vi.advanceTimersByTimeAsync(0);
    expect(api.beats).toHaveLength(2);
  });
});

describe('site unreachable (RC-3 PSUE)', () => {
  it('stays PAIR below the threshold and turns PSUE with the cause once past it', async () => {
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    api.reachable = false;
    await vi.advanceTimersByTimeAsync(INTERVAL);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(view().state).toBe('PAIR');
    await vi.advanceTimersByTimeAsync(2 * INTERVAL);
    expect(view().state).toBe('PSUE');
    expect(view().reason).toMatch(/the site could not be reached for 1\d s/);
  });

  it('comes back to PAIR by itself when the site answers, telling it about the episode first', async () => {
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    api.reachable = false;
    await vi.advanceTimersByTimeAsync(4 * INTERVAL);
    expect(view().state).toBe('PSUE');
    const before = api.beats.length;
    api.reachable = true;
    await vi.advanceTimersByTimeAsync(INTERVAL);
    const after = api.beats.slice(before);
    expect(after[0]).toMatchObject({ state: 'PSUE' });
    expect(after[0]!.reason).toMatch(/could not be reached for 2\d s/);
    expect(after[1]).toMatchObject({ state: 'PAIR', reason: null });
    expect(view().state).toBe('PAIR');
    expect(view().reason).toBeNull();
  });

  it('counts from the first transfer the backup could not deliver, and recovers on one delivered', async () => {
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(INTERVAL - 1);
    engine.reachability(VOLUME_ID, false);
    api.reachable = false;
    await vi.advanceTimersByTimeAsync(THRESHOLD - 1);
    expect(view().state).toBe('PAIR');
    await vi.advanceTimersByTimeAsync(1);
    engine.reachability(VOLUME_ID, false);
    expect(view().state).toBe('PSUE');
    engine.reachability(VOLUME_ID, true);
    expect(view().state).toBe('PAIR');
  });

  it('turns PSUE when the site refuses a transfer, and back when a later one is accepted', async () => {
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    engine.rejected(VOLUME_ID, 'The chunk blob is not valid');
    expect(view()).toMatchObject({
      state: 'PSUE',
      reason: 'transfer rejected: The chunk blob is not valid',
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(api.beats.at(-1)).toMatchObject({
      state: 'PSUE',
      reason: 'transfer rejected: The chunk blob is not valid',
    });
    engine.changed(VOLUME_ID);
    await vi.advanceTimersByTimeAsync(0);
    expect(view().state).toBe('PAIR');
  });
});

describe('a refusal longer than a heartbeat may carry', () => {
  it('is cut to the 500 characters the site keeps, so the heartbeat is still accepted', async () => {
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    engine.rejected(VOLUME_ID, 'x'.repeat(2000));
    await vi.advanceTimersByTimeAsync(0);
    const beat = api.beats.at(-1)!;
    expect(beat.state).toBe('PSUE');
    expect(heartbeatRequestSchema.safeParse(beat).success).toBe(true);
    expect(beat.reason).toHaveLength(500);
  });
});

describe('instructions (RC-3, RC-5)', () => {
  it('suspend drains what was written before it, then acknowledges with the cut and shows PSUS', async () => {
    const stream = new FakeStream();
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    engine.attach(stream);
    api.waiting = [instruction('suspend', 'i-1')];
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(stream.suspensions).toEqual([{ drain: true }]);
    // Not acknowledged while the stream drains, however often it is delivered again.
    await vi.advanceTimersByTimeAsync(2 * INTERVAL);
    expect(api.acks).toEqual([]);
    expect(stream.suspensions).toHaveLength(1);
    stream.drain(11);
    await vi.advanceTimersByTimeAsync(0);
    expect(api.acks).toEqual([{ instructionId: 'i-1', facts: { cutSeq: 11 } }]);
    expect(view()).toMatchObject({ state: 'PSUS', cutSeq: 11 });
    expect(api.beats.at(-1)).toMatchObject({ state: 'PSUS' });
  });

  it('an idle pair suspends at what the site applied; a backup started later sends nothing', async () => {
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    api.waiting = [instruction('suspend', 'i-1')];
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(api.acks).toEqual([{ instructionId: 'i-1', facts: { cutSeq: 7 } }]);
    const stream = new FakeStream();
    engine.attach(stream);
    expect(stream.suspensions).toEqual([{ drain: false }]);
  });

  it('holds a backup that attached before this console heard its pair is suspended', async () => {
    api.pair = summary({ state: 'PSUS', cutSeq: 7 });
    const stream = new FakeStream();
    engine.attach(stream);
    expect(stream.suspensions).toEqual([]);
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(stream.suspensions).toEqual([{ drain: false }]);
    expect(view()).toMatchObject({ state: 'PSUS', cutSeq: 7 });
  });

  it('resume sends again and shows PAIR', async () => {
    const stream = new FakeStream();
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    engine.attach(stream);
    api.waiting = [instruction('suspend', 'i-1')];
    await vi.advanceTimersByTimeAsync(INTERVAL);
    stream.drain(11);
    await vi.advanceTimersByTimeAsync(0);
    api.waiting = [instruction('resume', 'i-2')];
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(stream.resumed).toBe(1);
    expect(api.acks.at(-1)).toEqual({ instructionId: 'i-2', facts: {} });
    expect(view()).toMatchObject({ state: 'PAIR', cutSeq: null });
  });

  it('rekey on a running backup makes a new epoch and acknowledges with it', async () => {
    const stream = new FakeStream();
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    engine.attach(stream);
    api.waiting = [instruction('rekey', 'i-3')];
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(stream.rekeys).toBe(1);
    expect(idleRekeys).toBe(0);
    expect(api.acks).toEqual([{ instructionId: 'i-3', facts: { epoch: 1 } }]);
    expect(view().epochPrimary).toBe(1);
  });

  it('rekey on an idle pair announces a new epoch outside any backup', async () => {
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    api.waiting = [instruction('rekey', 'i-4')];
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(idleRekeys).toBe(1);
    expect(api.acks).toEqual([{ instructionId: 'i-4', facts: { epoch: 1 } }]);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(api.beats.at(-1)).toMatchObject({ epoch: 1 });
  });

  it('an instruction that cannot be acknowledged while the site is away is carried out again later', async () => {
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    api.waiting = [instruction('resume', 'i-5')];
    const acknowledge = api.acknowledge;
    api.acknowledge = async () => {
      throw new ApiError('network_error', 'The site could not be reached.', 0);
    };
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(api.acks).toEqual([]);
    api.acknowledge = acknowledge;
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(api.acks).toEqual([{ instructionId: 'i-5', facts: {} }]);
  });
});

describe('a backlog no backup is sending (RC-2)', () => {
  beforeEach(() => {
    engine = makeEngine(true);
  });

  it('is drained by itself once the site answers, without anyone pressing Back up', async () => {
    api.reachable = false;
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(drains).toEqual([]);
    api.reachable = true;
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(drains).toEqual([VOLUME_ID]);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(drains).toEqual([VOLUME_ID]);
    expect(view().pending).toBe(0);
  });

  it('is left to the running backup, and held while suspended', async () => {
    const stream = new FakeStream();
    const detach = engine.attach(stream);
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(drains).toEqual([]);
    api.pair = summary({ state: 'PSUS', cutSeq: 7 });
    engine.stop();
    engine = makeEngine(true);
    detach();
    engine.start();
    await vi.advanceTimersByTimeAsync(2 * INTERVAL);
    expect(drains).toEqual([]);
  });

  it('after a failed drain, tries again only a minute later', async () => {
    drainOutcome = async () => {
      throw new ApiError('commit_stuck', 'The site did not apply the commit.', 409);
    };
    engine.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(drains).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(6 * INTERVAL);
    expect(drains).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(6 * INTERVAL);
    expect(drains).toHaveLength(2);
  });
});

describe('a pair whose primary is another browser (RC-1)', () => {
  it('is shown as the site sees it, with no heartbeat and no instruction carried out here', async () => {
    backlog = null;
    api.pair = summary({ state: 'COPY' });
    api.waiting = [instruction('suspend', 'i-9')];
    engine.start();
    await vi.advanceTimersByTimeAsync(2 * INTERVAL);
    expect(api.beats).toEqual([]);
    expect(api.acks).toEqual([]);
    expect(view()).toMatchObject({ state: 'COPY', siteState: 'COPY' });
  });
});
