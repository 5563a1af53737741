import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { utf8 } from '@/core/crypto';
import { BackupDatabase, type GenerationRecord, type OutboxRecord } from './database';
import { LocalCopy } from './local-copy';
import { checkSitePin } from './site-pins';
import { bytesNeeded, checkQuota, isQuotaExceeded, QUOTA_MARGIN_BYTES } from './storage-quota';

const V = 'ext4:0123';
const hex = (c: string) => c.repeat(64);

function generation(n: number): GenerationRecord {
  return {
    volumeId: V,
    generation: n,
    userId: 'operator',
    siteId: 'site',
    state: 'in-progress',
    kind: 'ext4',
    file: { name: 'disk.img', size: 30, lastModified: 1 },
    chunkSize: 10,
    chunkCount: 3,
    epoch: n,
    previousManifestHash: null,
    restorers: ['operator'],
    policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
    nextPosition: 0,
    bytesStored: 0,
    bytesConfirmed: 0,
    nextSeq: 1,
    siteSeqApplied: 0,
    transfersSent: 0,
    chunksSkipped: 0,
    elapsedMs: 0,
    startedAt: new Date().toISOString(),
  };
}

const chunk = (id: string) => ({
  volumeId: V,
  chunkId: hex(id),
  blob: new Uint8Array([1, 2, 3]),
  ciphertextSha256: hex('f'),
  length: 10,
  epoch: 1,
});
const entry = (n: number, order: number, id: string): OutboxRecord => ({
  volumeId: V,
  generation: n,
  order,
  kind: 'chunk',
  chunkId: hex(id),
  ciphertextSha256: hex('f'),
});

/** An outbox row as stored before entries had one shape per kind. */
interface FlatOutboxRow {
  readonly volumeId: string;
  readonly generation: number;
  readonly order: number;
  readonly kind: 'epoch-key' | 'chunk' | 'commit';
  readonly chunkId?: string;
  readonly ciphertextSha256?: string;
  readonly probe?: boolean;
  readonly epoch?: number;
  readonly payload?: Uint8Array<ArrayBuffer>;
  readonly seq?: number;
}

let db: BackupDatabase;
let local: LocalCopy;

beforeEach(async () => {
  db = new BackupDatabase(`local-copy-${crypto.randomUUID()}`);
  local = new LocalCopy(db);
  const now = new Date().toISOString();
  await local.createGeneration(generation(1), {
    volumeId: V,
    userId: 'operator',
    kind: 'ext4',
    latestGeneration: 0,
    latestManifestHash: null,
    createdAt: now,
    updatedAt: now,
  });
});

afterEach(() => db.close());

async function storeBatch(n: number, ids: string[]): Promise<void> {
  await local.saveBatch({
    volumeId: V,
    generation: n,
    chunks: ids.map(chunk),
    indexEntries: ids.map((id, position) => ({
      volumeId: V,
      generation: n,
      position,
      chunkId: hex(id),
      ciphertextSha256: hex('f'),
      length: 10,
      epoch: 1,
    })),
    outbox: ids.map((id, position) => entry(n, position + 1, id)),
    progress: {
      nextPosition: ids.length,
      bytesStored: ids.length * 10,
      hashState: new Uint8Array(8),
    },
    bytesConfirmed: 0,
  });
}

describe('local copy (BK-6, BK-7, RC-2)', () => {
  it('stores a batch atomically and keeps sequence numbers beside the outbox', async () => {
    await storeBatch(1, ['a', 'b', 'c']);
    const record = await local.getGeneration(V, 1);
    expect(record).toMatchObject({ nextPosition: 3, bytesStored: 30 });
    expect(record?.hashState).toHaveLength(8);
    expect((await local.index(V, 1)).map((e) => e.chunkId)).toEqual([hex('a'), hex('b'), hex('c')]);

    const [first, second] = await local.outbox(V, 1);
    await local.assignSeqs([
      { ...first!, seq: 4 },
      { ...second!, seq: 5 },
    ]);
    expect((await local.outbox(V, 1)).map((e) => e.seq)).toEqual([4, 5, undefined]);
    expect(await local.highestSeq(V, 1)).toBe(5);

    await local.settle([{ ...first!, seq: 4, sent: true, siteSeqApplied: 4 }], 10);
    expect((await local.outbox(V, 1)).map((e) => e.order)).toEqual([2, 3]);
    expect(await local.getGeneration(V, 1)).toMatchObject({
      transfersSent: 1,
      siteSeqApplied: 4,
      bytesConfirmed: 10,
    });
    // The numbering outlives the settled entry: a resume knows where it stopped.
    expect(await local.highestSeq(V, 1)).toBe(5);
  });

  it('reads an outbox stored as one flat row per entry back by kind, and drains it', async () => {
    // The rows as the console stored them when an entry was one record with
    // optional fields: what a backup interrupted before an update left behind.
    const rows: FlatOutboxRow[] = [
      { volumeId: V, generation: 1, order: 0, kind: 'epoch-key', epoch: 1, payload: utf8('jwe') },
      {
        volumeId: V,
        generation: 1,
        order: 1,
        kind: 'chunk',
        chunkId: hex('a'),
        ciphertextSha256: hex('f'),
        probe: true,
      },
      {
        volumeId: V,
        generation: 1,
        order: 2,
        kind: 'chunk',
        chunkId: hex('b'),
        ciphertextSha256: hex('e'),
      },
      {
        volumeId: V,
        generation: 1,
        order: Number.MAX_SAFE_INTEGER,
        kind: 'commit',
        payload: utf8('{}'),
      },
    ];
    await db.table<FlatOutboxRow>('outbox').bulkPut(rows);
    await db.sequence.put({ volumeId: V, generation: 1, order: 0, seq: 7 });

    const entries = await local.outbox(V, 1);
    const described = entries.map((entry) => {
      switch (entry.kind) {
        case 'epoch-key':
          return [entry.kind, entry.seq, entry.epoch, new TextDecoder().decode(entry.payload)];
        case 'chunk':
          return [entry.kind, entry.seq, entry.chunkId, entry.ciphertextSha256, entry.probe];
        case 'commit':
          return [entry.kind, entry.seq, new TextDecoder().decode(entry.payload)];
      }
    });
    expect(described).toEqual([
      ['epoch-key', 7, 1, 'jwe'],
      ['chunk', undefined, hex('a'), hex('f'), true],
      ['chunk', undefined, hex('b'), hex('e'), undefined],
      ['commit', undefined, '{}'],
    ]);

    await local.assignSeqs(entries.slice(1).map((entry, i) => ({ ...entry, seq: 8 + i })));
    await local.settle(
      entries.map((entry, i) => ({ ...entry, seq: 7 + i, sent: true, siteSeqApplied: 10 })),
      30,
    );
    expect(await local.outbox(V, 1)).toEqual([]);
    expect(await local.getGeneration(V, 1)).toMatchObject({ transfersSent: 4, siteSeqApplied: 10 });
  });

  it('deletes a partial copy, keeping what a later backup of a registered volume must reuse', async () => {
    await storeBatch(1, ['a', 'b', 'c']);
    await local.settle([{ ...entry(1, 1, 'a'), sent: true }], 10);
    await local.deleteGeneration(V, 1, { keepSent: true });
    expect((await db.chunks.toArray()).map((c) => c.chunkId)).toEqual([hex('a')]);
    expect(await local.getGeneration(V, 1)).toBeUndefined();
    expect(await local.volume(V)).toBeUndefined();
  });

  it('deletes every blob no other generation uses', async () => {
    await storeBatch(1, ['a', 'b']);
    await local.createGeneration(generation(2), (await local.volume(V))!);
    await storeBatch(2, ['b', 'c']);
    await local.deleteGeneration(V, 2);
    expect((await db.chunks.toArray()).map((c) => c.chunkId).sort()).toEqual([hex('a'), hex('b')]);
    expect(await local.outbox(V, 2)).toEqual([]);
  });
});

describe('site pins (BK-8)', () => {
  const site = (escrow: string, signing = hex('2')) => ({
    siteId: 'site-1',
    name: 'Site',
    escrowKey: {
      jwk: { kty: 'EC' as const, crv: 'P-256' as const, x: 'x', y: 'y' },
      fingerprint: escrow,
    },
    signingKey: {
      jwk: { kty: 'EC' as const, crv: 'P-256' as const, x: 'x', y: 'y' },
      fingerprint: signing,
    },
  });

  it('pins on first contact, then matches or names the key that changed', async () => {
    expect((await checkSitePin(site(hex('1')), db)).outcome).toBe('pinned-now');
    expect((await checkSitePin(site(hex('1')), db)).outcome).toBe('matches');
    expect(await checkSitePin(site(hex('9')), db)).toMatchObject({
      outcome: 'mismatch',
      which: 'escrow',
      offered: hex('9'),
    });
    expect(await checkSitePin(site(hex('1'), hex('8')), db)).toMatchObject({
      outcome: 'mismatch',
      which: 'signing',
    });
  });
});

describe('storage quota (BK-11)', () => {
  it('asks for the image plus a margin, less what is already stored', async () => {
    expect(bytesNeeded(0)).toBe(QUOTA_MARGIN_BYTES);
    expect(bytesNeeded(100_000_000, 100_000_000)).toBe(QUOTA_MARGIN_BYTES);
    const storage = {
      estimate: async () => ({ quota: 200_000_000, usage: 100_000_000 }),
    } as unknown as StorageManager;
    expect(await checkQuota(10_000_000, 0, storage)).toMatchObject({ enough: true });
    expect(await checkQuota(90_000_000, 0, storage)).toMatchObject({
      enough: false,
      available: 100_000_000,
    });
    expect(await checkQuota(90_000_000, 0, undefined)).toMatchObject({ enough: true });
  });

  it('recognises quota errors, also wrapped by Dexie', () => {
    expect(isQuotaExceeded(new DOMException('full', 'QuotaExceededError'))).toBe(true);
    expect(isQuotaExceeded({ name: 'AbortError', inner: { name: 'QuotaExceededError' } })).toBe(
      true,
    );
    expect(isQuotaExceeded(new Error('other'))).toBe(false);
  });
});
