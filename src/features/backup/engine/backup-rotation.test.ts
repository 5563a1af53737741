import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CHUNK_SIZE,
  decryptChunk,
  fromHex,
  manifestEpochs,
  openEnvelope,
  sha256Hex,
  type ChunkEntry,
} from '@/core/crypto';
import { paddedTransferSize } from '@/core/crypto/constants';
import { DEFAULT_ROTATION, type RotationPolicy } from '@/core/transfer/rotation';
import { BackupDatabase } from '@/shared/storage/database';
import { closeKeyStore, wipeAllKeys } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import type { SiteFaults } from '@/testing/site-faults';
import type { TestSite } from '@/testing/site';
import { RekeyRequests, ROTATION_CHECK_CHUNKS, rotateBefore, segmentEnd } from './backup-rotation';
import { BackupRunner, type BackupRequest, type RunnerDeps } from './backup-runner';
import {
  engineSite,
  inProcessRunnerDeps,
  memoryBackupRequest,
  patternBytes,
  siteVolume,
  TEST_VOLUME_ID,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';
import type { PairLink, PairStream } from '@/features/backup/engine/pair-link';

useSameRealmTextEncoder();
// Each backup sends padded 4 MiB transfers through the site's own rules: slower than a unit test.
vi.setConfig({ testTimeout: 60_000 });

const CHUNK = CHUNK_SIZE;
const MIB = 1024 * 1024;
const VOLUME_ID = TEST_VOLUME_ID;
const HOUR = 3600_000;

let db: BackupDatabase;
let site: TestSite;
let faults: SiteFaults;

function deps(overrides: Partial<RunnerDeps> = {}): RunnerDeps {
  return inProcessRunnerDeps(db, overrides);
}

/** What the site holds of the test volume. */
async function held() {
  const volume = await siteVolume(site, VOLUME_ID);
  if (!volume) throw new Error(`the site holds no volume ${VOLUME_ID}`);
  return volume;
}

/**
 * An administrator sets the pair's key rotation (RC-4) before its next
 * backup; the operator's other browser claims the volume first, so the pair exists.
 */
async function setPairRotation(everyMiB: number, everyMinutes: number): Promise<void> {
  const other = await site.browser('operator');
  const claim = await other.request('POST', `/api/volumes/${encodeURIComponent(VOLUME_ID)}/claim`, {
    json: { resume: false },
  });
  if (claim.status !== 200) throw new Error(`claim refused: ${claim.text}`);
  const { pairId } = claim.json as { pairId: string };
  await site.site.pairs.setRotation(await site.caller('admin'), pairId, {
    everyMiB,
    everyMinutes,
    reason: 'test',
  });
}

function request(bytes: Uint8Array<ArrayBuffer>): BackupRequest {
  return memoryBackupRequest(bytes);
}

/** The transfers the site received, in sequence order (each once), with their kind and epoch. */
function stream(): { seq: number; kind: string; epoch?: number; size: number }[] {
  const bySeq = new Map(faults.received().map((t) => [t.seq, t]));
  return [...bySeq.values()]
    .sort((a, b) => a.seq - b.seq)
    .map(({ seq, kind, epoch, size }) => ({ seq, kind, epoch, size }));
}

/** What a restorer does: open every escrowed epoch key and decrypt the image chunk by chunk. */
async function restore(): Promise<Uint8Array> {
  const { store, blobs, keys } = site.site.escrow;
  const escrow = keys.escrow.privateKey;
  const dataKeys = new Map<number, CryptoKey>();
  let chunkIdKey: CryptoKey | undefined;
  for (const { envelope } of await store.envelopes.of(VOLUME_ID)) {
    const { keys } = await openEnvelope(envelope, escrow, {
      purpose: 'escrow',
      volumeId: VOLUME_ID,
    });
    chunkIdKey = keys.chunkIdKey;
    for (const [epoch, key] of keys.dataKeys) dataKeys.set(epoch, key);
  }
  const { chunks } = (await held()).generations.at(-1)!.manifest.index as { chunks: ChunkEntry[] };
  const parts: Uint8Array[] = [];
  for (const entry of chunks) {
    parts.push(
      await decryptChunk((await blobs.get(VOLUME_ID, entry.chunkId))!, {
        volumeId: VOLUME_ID,
        chunkId: fromHex(entry.chunkId),
        epoch: entry.epoch,
        dataKey: dataKeys.get(entry.epoch)!,
        chunkIdKey: chunkIdKey!,
      }),
    );
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

beforeEach(async () => {
  db = new BackupDatabase(`rotation-test-${crypto.randomUUID()}`);
  ({ site, faults } = await engineSite());
});

afterEach(async () => {
  db.close();
  await wipeAllKeys();
  await closeKeyStore();
});

describe('where the key changes (RC-4)', () => {
  const policy: RotationPolicy = { everyBytes: 3 * CHUNK, everyMs: HOUR };

  it('ends a run of chunks where the byte budget is spent', () => {
    expect(segmentEnd(policy, { startedAt: 0, bytesUnderKey: 0 }, 0, 10, CHUNK)).toBe(3);
    expect(segmentEnd(policy, { startedAt: 0, bytesUnderKey: CHUNK }, 4, 10, CHUNK)).toBe(6);
    expect(segmentEnd(policy, { startedAt: 0, bytesUnderKey: 0 }, 9, 10, CHUNK)).toBe(10);
    // A spent budget still moves on by one chunk; a huge budget looks again after a while.
    expect(segmentEnd(policy, { startedAt: 0, bytesUnderKey: 9 * CHUNK }, 4, 10, CHUNK)).toBe(5);
    const large = { everyBytes: 1e12, everyMs: HOUR };
    expect(segmentEnd(large, { startedAt: 0, bytesUnderKey: 0 }, 0, 1000, CHUNK)).toBe(
      ROTATION_CHECK_CHUNKS,
    );
  });

  it('rotates when the bytes or the time are spent, or when asked, never past the end', () => {
    const fresh = { startedAt: 0, bytesUnderKey: 0 };
    expect(rotateBefore(policy, fresh, 1000, 0, 10, false)).toBe(false);
    expect(
      rotateBefore(policy, { startedAt: 0, bytesUnderKey: 3 * CHUNK }, 1000, 3, 10, false),
    ).toBe(true);
    expect(rotateBefore(policy, fresh, HOUR, 3, 10, false)).toBe(true);
    expect(rotateBefore(policy, fresh, 1000, 3, 10, true)).toBe(true);
    expect(rotateBefore(policy, fresh, HOUR, 10, 10, true)).toBe(false);
  });

  it('answers "rekey now" with the new epoch, or with null once nothing is left to encrypt', async () => {
    const requests = new RekeyRequests();
    const first = requests.request();
    expect(requests.pending).toBe(true);
    requests.rotated(4);
    await expect(first).resolves.toBe(4);
    requests.close();
    await expect(requests.request()).resolves.toBeNull();
  });
});

describe('rotation within a generation (RC-4)', () => {
  it('announces each new key before any chunk under it, pads every transfer alike, and restores across epochs', async () => {
    const bytes = patternBytes(5 * CHUNK + 500, 3);
    const result = await new BackupRunner(
      request(bytes),
      () => undefined,
      deps({ rotation: { everyBytes: 2 * CHUNK, everyMs: HOUR } }),
    ).run();
    expect(result.imageSha256).toBe(await sha256Hex(bytes));

    const transfers = stream();
    // Key 0, chunks 0-1, key 1, chunks 2-3, key 2, chunks 4-5, commit.
    expect(transfers.map((t) => t.kind)).toEqual([
      'epoch-key',
      'chunk',
      'chunk',
      'epoch-key',
      'chunk',
      'chunk',
      'epoch-key',
      'chunk',
      'chunk',
      'commit',
    ]);
    let announced = -1;
    for (const t of transfers) {
      if (t.kind === 'epoch-key') announced = t.epoch!;
      if (t.kind === 'chunk') expect(t.epoch).toBe(announced);
    }
    expect(new Set(transfers.map((t) => t.size))).toEqual(new Set([paddedTransferSize(CHUNK)]));

    const { manifest } = (await held()).generations[0]!;
    expect(manifestEpochs(manifest)).toEqual([0, 1, 2]);
    expect(await sha256Hex(await restore())).toBe(await sha256Hex(bytes));
  });

  it("follows the pair's policy from the site's claim answer", async () => {
    // The least the site allows: a new key every 64 MiB, i.e. every 16 chunks.
    await setPairRotation(64, 60);
    const bytes = patternBytes(64 * MIB + CHUNK, 4);
    await new BackupRunner(request(bytes), () => undefined, deps()).run();
    // Key 0, chunks 0-15, key 1, chunk 16, commit.
    expect(stream().map((t) => (t.kind === 'chunk' ? t.epoch : t.kind))).toEqual([
      'epoch-key',
      ...Array<number>(16).fill(0),
      'epoch-key',
      1,
      'commit',
    ]);
    expect(manifestEpochs((await held()).generations[0]!.manifest)).toEqual([0, 1]);
  });

  it("falls back to the built-in policy when an older site's claim answer has none", async () => {
    const statuses: (string | null)[] = [];
    const link = (into: (string | null)[]): PairLink => ({
      attach: (s: PairStream) => {
        into.push(s.status().nextRotationAt);
        return () => undefined;
      },
      reachability: () => undefined,
      rejected: () => undefined,
      changed: () => undefined,
    });
    const T0 = Date.parse('2030-01-01T00:00:00.000Z');
    await setPairRotation(64, 5 * 60);
    await new BackupRunner(
      request(patternBytes(CHUNK, 1)),
      () => undefined,
      deps({ now: () => T0, pairs: link(statuses) }),
    ).run();
    faults.olderSite();
    await new BackupRunner(
      request(patternBytes(64 * MIB + CHUNK, 2)),
      () => undefined,
      deps({ now: () => T0, pairs: link(statuses) }),
    ).run();
    expect(statuses).toEqual([
      new Date(T0 + 5 * HOUR).toISOString(),
      new Date(T0 + DEFAULT_ROTATION.everyMs).toISOString(),
    ]);
    // 64 GiB under one key: the second generation has a single epoch.
    expect(manifestEpochs((await held()).generations[1]!.manifest)).toHaveLength(1);
  });

  it('"rekey now" on a running backup switches keys at the next chunk and says which epoch', async () => {
    const bytes = patternBytes(3 * CHUNK, 5);
    let epoch: Promise<number | null> | undefined;
    const link: PairLink = {
      attach: (attached: PairStream) => {
        epoch = attached.rekey();
        return () => undefined;
      },
      reachability: () => undefined,
      rejected: () => undefined,
      changed: () => undefined,
    };
    await new BackupRunner(request(bytes), () => undefined, deps({ pairs: link })).run();
    await expect(epoch).resolves.toBe(1);
    const { manifest } = (await held()).generations[0]!;
    expect(manifestEpochs(manifest)).toEqual([1]);
    expect(
      stream()
        .filter((t) => t.kind === 'epoch-key')
        .map((t) => t.epoch),
    ).toEqual([0, 1]);
    expect(await sha256Hex(await restore())).toBe(await sha256Hex(bytes));
  });
});

describe('suspension of a running backup (RC-5)', () => {
  it('sends what was written before the suspension, then nothing until resumed', async () => {
    const bytes = patternBytes(4 * CHUNK, 9);
    let cut: Promise<number> | undefined;
    let attach: (s: PairStream) => void = () => undefined;
    const attached = new Promise<PairStream>((resolve) => {
      attach = resolve;
    });
    const link: PairLink = {
      attach: (s: PairStream) => {
        // Suspended before anything is written: nothing at all may go.
        cut = s.suspend({ drain: false });
        attach(s);
        return () => undefined;
      },
      reachability: () => undefined,
      rejected: () => undefined,
      changed: () => undefined,
    };
    const run = new BackupRunner(request(bytes), () => undefined, deps({ pairs: link })).run();
    const stream = await attached;
    await expect(cut).resolves.toBe(0);
    // Wait until the whole image is in the local copy: still nothing sent.
    const local = new LocalCopy(db);
    for (;;) {
      const generation = await local.getGeneration(VOLUME_ID, 1);
      if (generation && generation.nextPosition === 4 && generation.manifest) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(faults.received()).toHaveLength(0);
    stream.resume();
    const result = await run;
    expect(result.generation).toBe(1);
    expect(faults.sent('chunk')).toBe(4);
  });

  it('with draining, sends what was queued at the suspension and resolves with its sequence number', async () => {
    const bytes = patternBytes(4 * CHUNK, 10);
    let cut: Promise<number> | undefined;
    let attach: (s: PairStream) => void = () => undefined;
    const attached = new Promise<PairStream>((resolve) => {
      attach = resolve;
    });
    const link: PairLink = {
      attach: (s: PairStream) => {
        // Only the epoch-key announcement is queued when the stream attaches.
        cut = s.suspend({ drain: true });
        attach(s);
        return () => undefined;
      },
      reachability: () => undefined,
      rejected: () => undefined,
      changed: () => undefined,
    };
    const run = new BackupRunner(request(bytes), () => undefined, deps({ pairs: link })).run();
    const stream = await attached;
    await expect(cut).resolves.toBe(1);
    const local = new LocalCopy(db);
    for (;;) {
      const waiting = await local.outbox(VOLUME_ID, 1);
      if (waiting.some((e) => e.kind === 'commit')) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(faults.received()).toHaveLength(1);
    expect(faults.sent('epoch-key')).toBe(1);
    stream.resume();
    await run;
    expect(faults.sent('chunk')).toBe(4);
  });
});
