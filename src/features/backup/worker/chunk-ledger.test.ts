import { describe, expect, it } from 'vitest';
import { ChunkLedger } from './chunk-ledger';

const entry = (chunkId: string, length = 10) => ({
  chunkId,
  ciphertextSha256: 'f'.repeat(64),
  length,
  epoch: 0,
});

describe('chunk ledger (BK-6)', () => {
  it('costs nothing for a chunk the site holds and counts it as confirmed', () => {
    const ledger = new ChunkLedger();
    ledger.addAtSite([entry('a')]);
    expect(ledger.place('a', 10)).toBe('at-site');
    expect(ledger.bytesConfirmed).toBe(10);
    expect(ledger.knownChunkIds()).toEqual(['a']);
  });

  it('sends a repeated chunk once and confirms all its positions with it', () => {
    const ledger = new ChunkLedger();
    expect(ledger.place('b', 10, entry('b'))).toBe('new');
    expect(ledger.place('b', 10, entry('b'))).toBe('pending');
    expect(ledger.bytesConfirmed).toBe(0);
    ledger.settle('b');
    expect(ledger.bytesConfirmed).toBe(20);
    expect(ledger.place('b', 5)).toBe('at-site');
    expect(ledger.bytesConfirmed).toBe(25);
  });

  it('queues a blob of the local copy without a new encryption', () => {
    const ledger = new ChunkLedger();
    ledger.addLocal([entry('c')]);
    expect(ledger.place('c', 10)).toBe('queue-local');
    expect(ledger.pendingChunks).toBe(1);
  });

  it('takes a chunk back when the site lost it', () => {
    const ledger = new ChunkLedger();
    ledger.place('d', 10, entry('d'));
    ledger.settle('d');
    ledger.requeue('d', 10);
    expect(ledger.bytesConfirmed).toBe(0);
    expect(ledger.pendingChunks).toBe(1);
  });

  it('rebuilds its counts on resume from the stored index and the outbox', () => {
    const ledger = new ChunkLedger();
    ledger.markPending('e');
    ledger.restoreConfirmed([
      { chunkId: 'e', length: 10 },
      { chunkId: 'f', length: 7 },
      { chunkId: 'e', length: 10 },
    ]);
    expect(ledger.bytesConfirmed).toBe(7);
    ledger.settle('e');
    expect(ledger.bytesConfirmed).toBe(27);
  });
});
