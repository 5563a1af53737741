import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  heartbeatRequestSchema,
  type HeartbeatRequest,
  type Instruction,
  type PairAction,
  type PairSummary,
} from '@/core/contract';
import { acknowledgeInstruction, fetchMyPairs, sendHeartbeat } from '@/shared/api/pairs';
import { ApiError } from '@/shared/api/request';
import { BackupDatabase } from '@/shared/storage/database';
import { closeKeyStore, wipeAllKeys } from '@/shared/storage/key-store';
import {
  engineSite,
  inProcessRunnerDeps,
  memoryBackupRequest,
  patternBytes,
  TEST_VOLUME_ID,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';
import { server } from '@/testing/msw-server';
import type { SiteFaults } from '@/testing/site-faults';
import type { TestSite } from '@/testing/site';
import { isSiteUnreachable } from './backup-errors';
import { BackupRunner } from './backup-runner';
import {
  PairEngine,
  type PairBacklog,
  type PairEngineApi,
  type PrimaryPairView,
} from './pair-engine';
import type { PairStream, PairStreamStatus } from './pair-link';

useSameRealmTextEncoder();

/** The volume this browser backs up: it is its pair's primary (RC-1). */
const VOLUME_ID = TEST_VOLUME_ID;
/** A volume another browser of the same operator backs up. */
const OTHER_VOLUME_ID = 'ext4:89abcdef-0123-4456-89ab-cdef01234567';
const INTERVAL = 5_000;
const THRESHOLD = 15_000;

/** The console's own pairs client, handed to the engine as the backup feature's store does. */
const api: PairEngineApi = {
  myPairs: () => fetchMyPairs(),
  heartbeat: (pairId, beat) => sendHeartbeat(pairId, beat),
  acknowledge: (pairId, instructionId, facts) =>
    acknowledgeInstruction(pairId, instructionId, facts),
};

/** A running backup's stream whose suspension drains only when the test says so. */
class FakeStream implements PairStream {
  readonly volumeId = VOLUME_ID;
  suspensions: { drain: boolean }[] = [];
  resumed = 0;
  rekeys = 0;
  #drained: ((cut: number) => void) | undefined;
  epoch = 0;

  constructor(readonly pairId: string) {}

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

let db: BackupDatabase;
let site: TestSite;
let faults: SiteFaults;
let pairId: string;
let engine: PairEngine;
let views: readonly PrimaryPairView[];
/** What this browser's local copy holds for VOLUME_ID and has not had acknowledged. */
let backlog: PairBacklog;
let idleRekeys: number;
let drains: string[];
let drainOutcome: () => Promise<void>;

const view = (volumeId = VOLUME_ID): PrimaryPairView => views.find((v) => v.volumeId === volumeId)!;

function makeEngine(withDrain: boolean, keyless = false): PairEngine {
  return new PairEngine({
    api,
    // Only VOLUME_ID was backed up from this browser.
    backlog: async (volumeId) => (volumeId === VOLUME_ID ? backlog : null),
    rekeyIdle: keyless
      ? null
      : async () => {
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
    isUnreachable: isSiteUnreachable,
    now: () => Date.now(),
    intervalMs: INTERVAL,
    unreachableAfterMs: THRESHOLD,
    onChange: (next) => {
      views = next;
    },
  });
}

/** Requests of the page the site has not answered yet. */
let inFlight = 0;
const started = (): void => {
  inFlight += 1;
};
const ended = (): void => {
  inFlight -= 1;
};

/**
 * Waits in real time, the engine's clock standing still, until the site has
 * answered every request and a few turns pass without a new one. The site
 * answers in real time (it hashes session tokens with WebCrypto); on the
 * engine's clock a request takes no time.
 */
async function settle(): Promise<void> {
  for (let quiet = 0; quiet < 10; quiet = inFlight === 0 ? quiet + 1 : 0) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Lets `ms` of the engine's time pass timer by timer, the site answering
 * what each one starts before the clock moves on.
 */
async function pass(ms: number): Promise<void> {
  let over = false;
  setTimeout(() => {
    over = true;
  }, ms);
  await settle();
  while (!over) {
    await vi.advanceTimersToNextTimerAsync();
    await settle();
  }
  // What else falls due at the same instant.
  await vi.advanceTimersByTimeAsync(0);
  await settle();
}

// ---- the site's side, read through its own services ----

/** The pair of a volume as the site summarises it (what /admin/remote-copy shows). */
async function atSite(volumeId = VOLUME_ID): Promise<PairSummary> {
  const pair = (await site.site.pairs.list()).find((p) => p.volumeId === volumeId);
  if (!pair) throw new Error(`the site has no pair for ${volumeId}`);
  return pair;
}

/** How many heartbeats the site took in for the pair: each leaves one load sample (RC-7). */
async function beatsHeard(volumeId = VOLUME_ID): Promise<number> {
  return (await site.site.pairs.detail((await atSite(volumeId)).pairId)).samples.length;
}

/** The last heartbeat the site took in for the pair, as it keeps it. */
async function lastBeat(): Promise<HeartbeatRequest> {
  const row = await site.site.escrow.store.pairs.find(pairId);
  if (!row?.heartbeat) throw new Error('the site has heard no heartbeat');
  return JSON.parse(row.heartbeat) as HeartbeatRequest;
}

/** The pair's state changes at the site, oldest first. */
async function history() {
  return (await site.site.pairs.detail(pairId)).history;
}

/** An administrator's instruction for the pair, as given on /admin/remote-copy (RC-3). */
async function instruct(action: PairAction, volumeId = VOLUME_ID): Promise<Instruction> {
  const { pairId: target } = await atSite(volumeId);
  const [instruction] = await site.site.pairs.act(
    await site.caller('admin'),
    [target],
    action,
    'maintenance window',
  );
  return instruction!;
}

/** Where the site stands with an instruction: requested, delivered to the primary, or acknowledged. */
async function instructionState(instruction: Instruction): Promise<string | undefined> {
  return (await site.site.escrow.store.pairs.findInstruction(instruction.id))?.state;
}

/** The acknowledgements the site took in, from its audit log: which instruction, and the cut. */
async function acknowledged(): Promise<Record<string, unknown>[]> {
  return (await site.auditEntries())
    .filter((entry) => entry.event === 'pair_instruction_acknowledged')
    .map((entry) => entry.details);
}

/**
 * The pair suspended before this console opened: an administrator asked, and
 * a console the operator had open then carried it out at what the site had
 * applied. Resolves with the cut.
 */
async function suspendedEarlier(): Promise<number> {
  const { seqApplied } = await atSite();
  const suspend = await instruct('suspend');
  await site.site.pairs.acknowledge(await site.caller('operator'), pairId, suspend.id, {
    cutSeq: seqApplied,
  });
  return seqApplied;
}

beforeEach(async () => {
  inFlight = 0;
  server.events.on('request:start', started);
  server.events.on('request:end', ended);
  db = new BackupDatabase(`pair-engine-test-${crypto.randomUUID()}`);
  ({ site, faults } = await engineSite());
  // This browser backs the volume up: the site holds its pair, in step.
  await new BackupRunner(
    memoryBackupRequest(patternBytes(4096, 3)),
    () => undefined,
    inProcessRunnerDeps(db),
  ).run();
  ({ pairId } = await atSite());
  views = [];
  idleRekeys = 0;
  drains = [];
  drainOutcome = async () => {
    backlog = { ...backlog, pending: 0, pendingBytes: 0 };
  };
  backlog = { pending: 3, pendingBytes: 3 * 4096, oldestPendingAt: null, seqSent: 9, epoch: 0 };
  // From here the engine's timers and the clock (the site's too) are the test's; the site
  // still answers in real time.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  engine = makeEngine(false);
});

afterEach(async () => {
  engine.stop();
  // The site ends after each test: a round under way finishes first.
  await settle();
  vi.useRealTimers();
  server.events.removeListener('request:start', started);
  server.events.removeListener('request:end', ended);
  db.close();
  await wipeAllKeys();
  await closeKeyStore();
});

describe('heartbeats', () => {
  it('beats at once and on every interval with the outbox backlog', async () => {
    engine.start();
    await pass(0);
    expect(await beatsHeard()).toBe(1);
    expect(await lastBeat()).toMatchObject({
      state: 'PAIR',
      pending: 3,
      pendingBytes: 3 * 4096,
      seqSent: 9,
      epoch: 0,
    });
    await pass(INTERVAL);
    expect(await beatsHeard()).toBe(2);
    await pass(INTERVAL);
    expect(await beatsHeard()).toBe(3);
    const pair = await atSite();
    expect(pair).toMatchObject({
      state: 'PAIR',
      // The backup's epoch key, chunk and commit.
      seqApplied: 3,
      pendingChunks: 3,
      pendingBytes: 3 * 4096,
      seqSent: 9,
      lastHeartbeatAt: new Date().toISOString(),
    });
    expect(view()).toMatchObject({
      state: 'PAIR',
      pending: 3,
      seqSent: 9,
      seqApplied: pair.seqApplied,
    });
  });

  it('beats at once when a backup changes something, without waiting for the interval', async () => {
    engine.start();
    await pass(0);
    engine.changed(VOLUME_ID);
    await pass(0);
    expect(await beatsHeard()).toBe(2);
  });
});

describe('site unreachable (RC-3 PSUE)', () => {
  it('stays PAIR below the threshold and turns PSUE with the cause once past it', async () => {
    engine.start();
    await pass(0);
    faults.away(true);
    await pass(INTERVAL);
    await pass(INTERVAL);
    expect(view().state).toBe('PAIR');
    // The console's client tries a read three times over 750 ms before it gives up, so the
    // engine counts from then: the round after the fourth interval shows it past the threshold.
    await pass(3 * INTERVAL);
    expect(view().state).toBe('PSUE');
    expect(view().reason).toMatch(/the site could not be reached for 1\d s/);
    // The site heard nothing meanwhile, so it still sees the pair in step.
    expect(await beatsHeard()).toBe(1);
    expect((await atSite()).state).toBe('PAIR');
  });

  it('comes back to PAIR by itself when the site answers, telling it about the episode first', async () => {
    engine.start();
    await pass(0);
    faults.away(true);
    // Past the threshold counted from the first read given up (750 ms into the outage).
    await pass(5 * INTERVAL);
    expect(view().state).toBe('PSUE');
    const before = await beatsHeard();
    faults.away(false);
    await pass(INTERVAL);
    expect(await beatsHeard()).toBe(before + 2);
    expect((await history()).slice(-2)).toEqual([
      expect.objectContaining({
        from: 'PAIR',
        to: 'PSUE',
        reason: expect.stringMatching(
          /^the primary reports: the site could not be reached for 2\d s$/,
        ),
      }),
      expect.objectContaining({
        from: 'PSUE',
        to: 'PAIR',
        reason: 'the primary reaches the site again',
      }),
    ]);
    expect(await lastBeat()).toMatchObject({ state: 'PAIR', reason: null });
    expect(await atSite()).toMatchObject({ state: 'PAIR', unhealthyReason: null });
    expect(view().state).toBe('PAIR');
    expect(view().reason).toBeNull();
  });

  it('counts from the first transfer the backup could not deliver, and recovers on one delivered', async () => {
    engine.start();
    await pass(0);
    await pass(INTERVAL - 1);
    engine.reachability(VOLUME_ID, false);
    faults.away(true);
    await pass(THRESHOLD - 1);
    expect(view().state).toBe('PAIR');
    await pass(1);
    engine.reachability(VOLUME_ID, false);
    expect(view().state).toBe('PSUE');
    engine.reachability(VOLUME_ID, true);
    expect(view().state).toBe('PAIR');
  });

  it('turns PSUE when the site refuses a transfer, and back when a later one is accepted', async () => {
    engine.start();
    await pass(0);
    engine.rejected(VOLUME_ID, 'The chunk blob is not valid');
    expect(view()).toMatchObject({
      state: 'PSUE',
      reason: 'transfer rejected: The chunk blob is not valid',
    });
    await pass(0);
    expect(await lastBeat()).toMatchObject({
      state: 'PSUE',
      reason: 'transfer rejected: The chunk blob is not valid',
    });
    expect(await atSite()).toMatchObject({
      state: 'PSUE',
      unhealthyReason: 'transfer rejected: The chunk blob is not valid',
    });
    engine.changed(VOLUME_ID);
    await pass(0);
    expect(view().state).toBe('PAIR');
    expect(await atSite()).toMatchObject({ state: 'PAIR', unhealthyReason: null });
  });
});

describe('a refusal longer than a heartbeat may carry', () => {
  it('is cut to the 500 characters the site keeps, so the heartbeat is still accepted', async () => {
    engine.start();
    await pass(0);
    engine.rejected(VOLUME_ID, 'x'.repeat(2000));
    await pass(0);
    expect(await beatsHeard()).toBe(2);
    const beat = await lastBeat();
    expect(beat.state).toBe('PSUE');
    expect(heartbeatRequestSchema.safeParse(beat).success).toBe(true);
    expect(beat.reason).toHaveLength(500);
    const pair = await atSite();
    expect(pair.state).toBe('PSUE');
    expect(pair.unhealthyReason).toHaveLength(500);
  });
});

describe('instructions (RC-3, RC-5)', () => {
  it('suspend drains what was written before it, then acknowledges with the cut and shows PSUS', async () => {
    const stream = new FakeStream(pairId);
    engine.start();
    await pass(0);
    engine.attach(stream);
    const suspend = await instruct('suspend');
    await pass(INTERVAL);
    expect(stream.suspensions).toEqual([{ drain: true }]);
    // Not acknowledged while the stream drains, however often it is delivered again.
    await pass(2 * INTERVAL);
    expect(await instructionState(suspend)).toBe('delivered');
    expect(await acknowledged()).toEqual([]);
    expect(stream.suspensions).toHaveLength(1);
    stream.drain(11);
    await pass(0);
    expect(await acknowledged()).toEqual([
      { pairId, instructionId: suspend.id, action: 'suspend', cutSeq: 11 },
    ]);
    expect(faults.acknowledgements()).toEqual([
      { pairId, instructionId: suspend.id, facts: { cutSeq: 11 } },
    ]);
    expect(await instructionState(suspend)).toBe('acknowledged');
    expect(await atSite()).toMatchObject({ state: 'PSUS', cutSeq: 11 });
    expect(view()).toMatchObject({ state: 'PSUS', cutSeq: 11 });
    expect(await lastBeat()).toMatchObject({ state: 'PSUS' });
  });

  it('an idle pair suspends at what the site applied; a backup started later sends nothing', async () => {
    engine.start();
    await pass(0);
    const { seqApplied } = await atSite();
    const suspend = await instruct('suspend');
    await pass(INTERVAL);
    expect(await acknowledged()).toEqual([
      { pairId, instructionId: suspend.id, action: 'suspend', cutSeq: seqApplied },
    ]);
    expect(faults.acknowledgements()).toEqual([
      { pairId, instructionId: suspend.id, facts: { cutSeq: seqApplied } },
    ]);
    expect(await atSite()).toMatchObject({ state: 'PSUS', cutSeq: seqApplied });
    const stream = new FakeStream(pairId);
    engine.attach(stream);
    expect(stream.suspensions).toEqual([{ drain: false }]);
  });

  it('holds a backup that attached before this console heard its pair is suspended', async () => {
    const cut = await suspendedEarlier();
    const stream = new FakeStream(pairId);
    engine.attach(stream);
    expect(stream.suspensions).toEqual([]);
    engine.start();
    await pass(0);
    expect(stream.suspensions).toEqual([{ drain: false }]);
    expect(view()).toMatchObject({ state: 'PSUS', cutSeq: cut });
  });

  it('resume sends again and shows PAIR', async () => {
    const stream = new FakeStream(pairId);
    engine.start();
    await pass(0);
    engine.attach(stream);
    await instruct('suspend');
    await pass(INTERVAL);
    stream.drain(11);
    await pass(0);
    expect((await atSite()).state).toBe('PSUS');
    const resume = await instruct('resume');
    await pass(INTERVAL);
    expect(stream.resumed).toBe(1);
    expect((await acknowledged()).at(-1)).toEqual({
      pairId,
      instructionId: resume.id,
      action: 'resume',
      cutSeq: null,
    });
    expect(faults.acknowledgements().at(-1)).toEqual({
      pairId,
      instructionId: resume.id,
      facts: {},
    });
    expect(await atSite()).toMatchObject({ state: 'PAIR', cutSeq: null });
    expect(view()).toMatchObject({ state: 'PAIR', cutSeq: null });
  });

  it('rekey on a running backup makes a new epoch and acknowledges with it', async () => {
    const stream = new FakeStream(pairId);
    engine.start();
    await pass(0);
    engine.attach(stream);
    const rekey = await instruct('rekey');
    await pass(INTERVAL);
    expect(stream.rekeys).toBe(1);
    expect(idleRekeys).toBe(0);
    expect(faults.acknowledgements()).toEqual([
      { pairId, instructionId: rekey.id, facts: { epoch: 1 } },
    ]);
    expect(await instructionState(rekey)).toBe('acknowledged');
    expect(view().epochPrimary).toBe(1);
    expect((await atSite()).epochPrimary).toBe(1);
  });

  it('rekey on an idle pair announces a new epoch outside any backup', async () => {
    engine.start();
    await pass(0);
    const rekey = await instruct('rekey');
    await pass(INTERVAL);
    expect(idleRekeys).toBe(1);
    expect(faults.acknowledgements()).toEqual([
      { pairId, instructionId: rekey.id, facts: { epoch: 1 } },
    ]);
    expect(await instructionState(rekey)).toBe('acknowledged');
    await pass(INTERVAL);
    expect(await lastBeat()).toMatchObject({ epoch: 1 });
    expect((await atSite()).epochPrimary).toBe(1);
  });

  it('a copy whose site holds no keys acknowledges a rekey with no epoch (MS-3)', async () => {
    engine = makeEngine(false, true);
    engine.start();
    await pass(0);
    const rekey = await instruct('rekey');
    await pass(INTERVAL);
    expect(idleRekeys).toBe(0);
    expect(faults.acknowledgements()).toEqual([{ pairId, instructionId: rekey.id, facts: {} }]);
    expect(await instructionState(rekey)).toBe('acknowledged');
  });

  it('an instruction that cannot be acknowledged while the site is away is carried out again later', async () => {
    engine.start();
    await pass(0);
    const resume = await instruct('resume');
    // The heartbeat still gets through; only the acknowledgement is lost.
    faults.away(true, /^POST \/api\/pairs\/[^/]+\/instructions\//);
    await pass(INTERVAL);
    expect(await instructionState(resume)).toBe('delivered');
    expect(await acknowledged()).toEqual([]);
    faults.away(false);
    await pass(INTERVAL);
    expect(await acknowledged()).toEqual([
      { pairId, instructionId: resume.id, action: 'resume', cutSeq: null },
    ]);
    expect(faults.acknowledgements()).toEqual([{ pairId, instructionId: resume.id, facts: {} }]);
    expect(await instructionState(resume)).toBe('acknowledged');
  });
});

describe('a backlog no backup is sending (RC-2)', () => {
  beforeEach(() => {
    engine = makeEngine(true);
  });

  it('is drained by itself once the site answers, without anyone pressing Back up', async () => {
    faults.away(true);
    engine.start();
    await pass(0);
    expect(drains).toEqual([]);
    faults.away(false);
    await pass(INTERVAL);
    expect(drains).toEqual([VOLUME_ID]);
    await pass(INTERVAL);
    expect(drains).toEqual([VOLUME_ID]);
    expect(view().pending).toBe(0);
    expect(await atSite()).toMatchObject({ pendingChunks: 0, pendingBytes: 0 });
  });

  it('is left to the running backup, and held while suspended', async () => {
    const stream = new FakeStream(pairId);
    const detach = engine.attach(stream);
    engine.start();
    await pass(0);
    expect(drains).toEqual([]);
    await suspendedEarlier();
    engine.stop();
    engine = makeEngine(true);
    detach();
    engine.start();
    await pass(2 * INTERVAL);
    expect(drains).toEqual([]);
    expect(view().state).toBe('PSUS');
  });

  it('after a failed drain, tries again only a minute later', async () => {
    drainOutcome = async () => {
      throw new ApiError('commit_stuck', 'The site did not apply the commit.', 409);
    };
    engine.start();
    await pass(0);
    expect(drains).toHaveLength(1);
    await pass(6 * INTERVAL);
    expect(drains).toHaveLength(1);
    await pass(6 * INTERVAL);
    expect(drains).toHaveLength(2);
  });
});

describe('a pair whose primary is another browser (RC-1)', () => {
  it('is shown as the site sees it, with no heartbeat and no instruction carried out here', async () => {
    // The operator's other browser has claimed a volume and is making its first copy.
    const other = await site.browser('operator');
    const claim = await other.request(
      'POST',
      `/api/volumes/${encodeURIComponent(OTHER_VOLUME_ID)}/claim`,
      { json: { resume: false } },
    );
    expect(claim.status).toBe(200);
    const suspend = await instruct('suspend', OTHER_VOLUME_ID);
    engine.start();
    await pass(2 * INTERVAL);
    expect(await beatsHeard(OTHER_VOLUME_ID)).toBe(0);
    expect(await atSite(OTHER_VOLUME_ID)).toMatchObject({ state: 'COPY', lastHeartbeatAt: null });
    // Never even delivered: only the primary's heartbeat fetches instructions.
    expect(await instructionState(suspend)).toBe('requested');
    expect(await acknowledged()).toEqual([]);
    expect(view(OTHER_VOLUME_ID)).toMatchObject({ state: 'COPY', siteState: 'COPY' });
    // This browser's own pair beats beside it.
    expect(await beatsHeard(VOLUME_ID)).toBe(3);
  });
});
