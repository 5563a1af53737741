import { describe, expect, it } from 'vitest';
import { AuditLog } from '../src/domain/audit';
import { OpenedKeyCache } from '../src/domain/escrow/opened-keys';
import type { AuditRepository } from '../src/domain/ports';
import { openInMemoryDatabase } from '../src/persistence/in-memory-database';
import { SqliteAuditRepository } from '../src/persistence/sqlite-audit';

/** The site's audit repository, counting commits and failing them on demand. */
class CountingRepository extends SqliteAuditRepository {
  commits = 0;
  failNext = false;

  override async atomically<T>(work: (tx: AuditRepository) => Promise<T>): Promise<T> {
    this.commits++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    return super.atomically(work);
  }
}

async function auditLog() {
  const repo = new CountingRepository((await openInMemoryDatabase()).db);
  const key = await globalThis.crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const log = new AuditLog({ repo, key, clock: { now: () => new Date('2026-11-21T12:00:00Z') } });
  return { repo, log };
}

describe('audit log commits (AL-4, SPEC §4 key release under load)', () => {
  it('lets appends that arrive during a commit share the next one, in order, with their writes', async () => {
    const { repo, log } = await auditLog();
    const written: number[] = [];
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        log.appendWith({ event: 'key_released', actor: `user${i}` }, async () => {
          written.push(i);
          return i * 2;
        }),
      ),
    );
    expect(answers.map((a) => a.entry.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(answers.map((a) => a.result)).toEqual(Array.from({ length: 40 }, (_, i) => i * 2));
    expect(written).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(repo.commits).toBeLessThan(40);
    expect(await log.verify()).toMatchObject({ intact: true, entries: 40 });
  });

  it('refuses every action of a commit that fails, stores none of it, and goes on from the stored head', async () => {
    const { repo, log } = await auditLog();
    await log.append({ event: 'sign_in', actor: 'admin' });
    repo.failNext = true;
    let wrote = false;
    await expect(
      log.appendWith({ event: 'key_released', actor: 'restorer' }, async () => {
        wrote = true;
      }),
    ).rejects.toMatchObject({ code: 'audit_unavailable', status: 503 });
    expect(wrote).toBe(false);
    const next = await log.append({ event: 'sign_out', actor: 'admin' });
    expect(next.seq).toBe(2);
    expect(await log.verify()).toMatchObject({ intact: true, entries: 2 });
  });
});

describe('opened escrow keys (RS-3)', () => {
  const keys = (volumeId: string) => ({
    volumeId,
    chunkIdKey: {} as CryptoKey,
    dataKeys: new Map<number, CryptoKey>(),
  });

  it('answers only for the very envelope text it opened', () => {
    const cache = new OpenedKeyCache();
    const opened = keys('v1');
    cache.set('v1', 0, 'envelope-a', opened);
    expect(cache.get('v1', 0, 'envelope-a')).toBe(opened);
    expect(cache.get('v1', 1, 'envelope-a')).toBeUndefined();
    expect(cache.get('v2', 0, 'envelope-a')).toBeUndefined();
    expect(cache.get('v1', 0, 'envelope-b')).toBeUndefined();
    // A different envelope for the epoch evicts the old keys.
    expect(cache.get('v1', 0, 'envelope-a')).toBeUndefined();
  });

  it('keeps at most its capacity of volumes, dropping the least recently used, and forgets on demand', () => {
    const cache = new OpenedKeyCache(2);
    cache.set('v1', 0, 'e1', keys('v1'));
    cache.set('v2', 0, 'e2', keys('v2'));
    cache.get('v1', 0, 'e1');
    cache.set('v3', 0, 'e3', keys('v3'));
    expect([cache.holds('v1'), cache.holds('v2'), cache.holds('v3')]).toEqual([true, false, true]);
    cache.forget('v1');
    expect(cache.holds('v1')).toBe(false);
  });
});
