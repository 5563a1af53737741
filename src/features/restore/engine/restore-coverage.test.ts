import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChunkFailure } from '@/core/crypto';
import { makeBackup } from '@/core/crypto/test-support/backup-fixture';
import { closeRestoreDatabase, RESTORE_DATABASE_NAME } from '@/shared/storage/restore-progress';
import { verifyCopy, VERIFY_BATCH, type CheckResults } from './restore-coverage';
import { patternImage } from '@/testing/restore-test-support';

async function index(chunks: number) {
  const backup = await makeBackup(patternImage(chunks * 256), { chunkSize: 256 });
  return backup.manifest.index;
}

/** A checker that records what it was asked and stops after `limit` positions. */
function checker(bad: ReadonlyMap<number, ChunkFailure> = new Map(), limit = Infinity) {
  const asked: number[] = [];
  const check = async (positions: readonly number[]): Promise<CheckResults> => {
    const results: CheckResults = new Map();
    for (const position of positions) {
      if (asked.length >= limit) throw new Error('cut short');
      asked.push(position);
      results.set(position, bad.get(position) ?? null);
    }
    return results;
  };
  return { asked, check };
}

const run = (
  idx: Awaited<ReturnType<typeof index>>,
  check: ReturnType<typeof checker>['check'],
  hash = 'a'.repeat(64),
) =>
  verifyCopy(idx, 'site', hash, check, { signal: new AbortController().signal, onStep: () => {} });

afterEach(async () => {
  await closeRestoreDatabase();
  indexedDB.deleteDatabase(RESTORE_DATABASE_NAME);
});

describe('Verify coverage (RS-9)', () => {
  it('adds partial runs up to 100 %, checking each chunk once per pass', async () => {
    const idx = await index(3 * VERIFY_BATCH + 2);
    const first = checker(new Map(), VERIFY_BATCH * 2);
    await expect(run(idx, first.check)).rejects.toThrow('cut short');
    const second = checker();
    const summary = await run(idx, second.check);
    expect(summary).toMatchObject({
      checked: idx.chunks.length,
      total: idx.chunks.length,
      passes: 1,
    });
    expect([...first.asked, ...second.asked].sort((a, b) => a - b)).toEqual(
      idx.chunks.map((_, i) => i),
    );
    expect(second.asked[0]).toBe(VERIFY_BATCH * 2);
  });

  it('starts a new pass once every chunk was checked', async () => {
    const idx = await index(4);
    await run(idx, checker().check);
    const again = checker();
    const summary = await run(idx, again.check);
    expect(again.asked).toEqual([0, 1, 2, 3]);
    expect(summary.passes).toBe(2);
  });

  it('records damaged chunks with the check they failed', async () => {
    const idx = await index(4);
    const summary = await run(idx, checker(new Map([[2, 'index-hash']])).check);
    expect(summary.bad).toEqual([
      { position: 2, chunkId: idx.chunks[2]!.chunkId, failure: 'index-hash' },
    ]);
  });

  it('starts again when the signed index is another one', async () => {
    const idx = await index(4);
    await expect(run(idx, checker(new Map(), 2).check)).rejects.toThrow();
    const other = checker();
    await run(idx, other.check, 'b'.repeat(64));
    expect(other.asked).toEqual([0, 1, 2, 3]);
  });
});
