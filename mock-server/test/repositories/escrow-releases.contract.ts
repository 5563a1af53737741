import { describe, expect } from 'vitest';
import type { ReleaseRow } from '../../src/domain/escrow/ports';
import { at, type Contract, type Mutable } from './contract';
import { rearmRow, releaseRow } from './fixtures';

/** Key releases (RS-2, RS-3, BK-5) and re-arm requests (ES-2). */
export function escrowReleasesContract(c: Contract): void {
  describe('EscrowStore: releases', () => {
    c.test('stores a release once per request ID; the first stays', async () => {
      const { escrow } = c.repos();
      expect(await escrow.releases.insert(releaseRow('r-1'))).toBe(true);
      expect(await escrow.releases.insert(releaseRow('r-1', { userId: 'mallory' }))).toBe(false);
      expect(await escrow.releases.find('r-1')).toEqual(releaseRow('r-1'));
      expect(await escrow.releases.find('r-2')).toBeUndefined();
    });

    c.test('updates only the fields given', async () => {
      const { escrow } = c.repos();
      await escrow.releases.insert(
        releaseRow('r-1', { state: 'pending_approval', envelope: null }),
      );
      await escrow.releases.update('r-1', {
        state: 'denied',
        reason: 'no',
        decidedBy: 'ada',
        decidedAt: at(3),
      });
      expect(await escrow.releases.find('r-1')).toEqual(
        releaseRow('r-1', {
          state: 'denied',
          envelope: null,
          reason: 'no',
          decidedBy: 'ada',
          decidedAt: at(3),
        }),
      );
      await escrow.releases.update('r-1', { envelope: 'env', reason: undefined });
      await escrow.releases.update('r-1', {});
      await escrow.releases.update('ghost', { state: 'released' });
      expect(await escrow.releases.find('r-1')).toMatchObject({ envelope: 'env', reason: 'no' });
      expect(await escrow.releases.find('ghost')).toBeUndefined();
    });

    c.test("counts only released keys, of a volume or of one user's", async () => {
      const { escrow } = c.repos();
      await escrow.releases.insert(releaseRow('r-1', { userId: 'rita' }));
      await escrow.releases.insert(releaseRow('r-2', { userId: 'rita' }));
      await escrow.releases.insert(releaseRow('r-3', { userId: 'rolf' }));
      await escrow.releases.insert(
        releaseRow('r-4', { userId: 'rolf', state: 'pending_approval' }),
      );
      await escrow.releases.insert(releaseRow('r-5', { userId: 'rolf', state: 'denied' }));
      await escrow.releases.insert(releaseRow('r-6', { userId: 'rita', volumeId: 'vol-2' }));
      expect(await escrow.releases.count('vol-1')).toBe(3);
      expect(await escrow.releases.count('vol-1', 'rita')).toBe(2);
      expect(await escrow.releases.count('vol-1', 'rolf')).toBe(1);
      expect(await escrow.releases.count('vol-1', 'Rita')).toBe(0);
      expect(await escrow.releases.count('vol-1', '')).toBe(3);
      expect(await escrow.releases.count('vol-3')).toBe(0);
    });

    c.test('releases once per restorer: a second release to the same user is refused', async () => {
      const { escrow } = c.repos();
      expect(await escrow.releases.releaseOnceTo(releaseRow('r-1'), false)).toBe(true);
      expect(await escrow.releases.releaseOnceTo(releaseRow('r-2'), false)).toBe(false);
      expect(await escrow.releases.find('r-2')).toBeUndefined();
      expect(
        await escrow.releases.releaseOnceTo(releaseRow('r-3', { userId: 'rolf' }), false),
      ).toBe(true);
      expect(
        await escrow.releases.releaseOnceTo(releaseRow('r-4', { volumeId: 'vol-2' }), false),
      ).toBe(true);
      expect(await escrow.releases.count('vol-1')).toBe(2);
      expect(await escrow.releases.find('r-1')).toEqual(releaseRow('r-1'));
    });

    c.test('a pending or denied release of the user does not count as released', async () => {
      const { escrow } = c.repos();
      await escrow.releases.insert(releaseRow('r-0', { state: 'denied', envelope: null }));
      await escrow.releases.insert(
        releaseRow('r-p', { state: 'pending_approval', envelope: null }),
      );
      expect(await escrow.releases.releaseOnceTo(releaseRow('r-1'), false)).toBe(true);
    });

    c.test('releasing an approved request turns its pending row into the release', async () => {
      const { escrow } = c.repos();
      const pending = releaseRow('r-1', {
        state: 'pending_approval',
        envelope: null,
        generation: 3,
        ephemeralJwk: '{"kty":"EC","x":"pending"}',
        createdAt: at(1),
      });
      await escrow.releases.insert(pending);
      const decided = releaseRow('r-1', {
        state: 'released',
        envelope: 'env-1',
        reason: 'approved: restore test',
        decidedBy: 'alan',
        decidedAt: at(5),
        generation: 9,
        ephemeralJwk: 'ignored',
        createdAt: at(9),
        userId: 'rita',
      });
      expect(await escrow.releases.releaseOnceTo(decided, true)).toBe(true);
      expect(await escrow.releases.find('r-1')).toEqual({
        ...pending,
        state: 'released',
        envelope: 'env-1',
        reason: 'approved: restore test',
        decidedBy: 'alan',
        decidedAt: at(5),
      });
      // Another pending request of the same user cannot be released any more.
      await escrow.releases.insert(
        releaseRow('r-2', { state: 'pending_approval', envelope: null }),
      );
      expect(
        await escrow.releases.releaseOnceTo(releaseRow('r-2', { envelope: 'env-2' }), true),
      ).toBe(false);
      expect(await escrow.releases.find('r-2')).toMatchObject({
        state: 'pending_approval',
        envelope: null,
      });
    });

    c.test(
      'an approved release whose pending row is gone stores nothing but counts as done',
      async () => {
        const { escrow } = c.repos();
        expect(await escrow.releases.releaseOnceTo(releaseRow('r-1'), true)).toBe(true);
        expect(await escrow.releases.find('r-1')).toBeUndefined();
        expect(await escrow.releases.count('vol-1')).toBe(0);
      },
    );

    c.test('a first release under a request ID already stored fails', async () => {
      const { escrow } = c.repos();
      await escrow.releases.insert(
        releaseRow('r-1', { state: 'pending_approval', envelope: null }),
      );
      await expect(escrow.releases.releaseOnceTo(releaseRow('r-1'), false)).rejects.toThrow();
      expect(await escrow.releases.find('r-1')).toMatchObject({ state: 'pending_approval' });
    });

    c.test(
      'of 20 concurrent once-per-restorer releases to one user, exactly one wins (BK-5)',
      async () => {
        const { escrow } = c.repos();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            escrow.releases.releaseOnceTo(releaseRow(`r-${i}`), false),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await escrow.releases.count('vol-1', 'rita')).toBe(1);
        expect(await escrow.releases.of('vol-1')).toHaveLength(1);
      },
    );

    c.test('lists pending releases oldest first, and tells whether a user has one', async () => {
      const { escrow } = c.repos();
      const pending = (id: string, minute: number, change: Partial<ReleaseRow> = {}) =>
        releaseRow(id, {
          state: 'pending_approval',
          envelope: null,
          createdAt: at(minute),
          ...change,
        });
      await escrow.releases.insert(pending('r-3', 3));
      await escrow.releases.insert(pending('r-1', 1, { userId: 'rolf' }));
      await escrow.releases.insert(releaseRow('r-0', { createdAt: at(0) }));
      await escrow.releases.insert(pending('r-2', 2, { volumeId: 'vol-2' }));
      await escrow.releases.insert(releaseRow('r-4', { state: 'denied', createdAt: at(0) }));
      expect((await escrow.releases.pending()).map((r) => r.requestId)).toEqual([
        'r-1',
        'r-2',
        'r-3',
      ]);
      expect(await escrow.releases.hasPending('vol-1', 'rita')).toBe(true);
      expect(await escrow.releases.hasPending('vol-1', 'rolf')).toBe(true);
      expect(await escrow.releases.hasPending('vol-2', 'rolf')).toBe(false);
      await escrow.releases.update('r-3', { state: 'denied' });
      expect(await escrow.releases.hasPending('vol-1', 'rita')).toBe(false);
    });

    c.test("lists a volume's releases newest first, whatever their state", async () => {
      const { escrow } = c.repos();
      await escrow.releases.insert(releaseRow('r-a', { createdAt: at(2) }));
      await escrow.releases.insert(releaseRow('r-b', { createdAt: at(5), state: 'denied' }));
      await escrow.releases.insert(
        releaseRow('r-c', { createdAt: at(1), state: 'pending_approval' }),
      );
      await escrow.releases.insert(releaseRow('r-d', { createdAt: at(9), volumeId: 'vol-2' }));
      expect((await escrow.releases.of('vol-1')).map((r) => r.requestId)).toEqual([
        'r-b',
        'r-a',
        'r-c',
      ]);
      expect(await escrow.releases.of('vol-3')).toEqual([]);
    });

    c.test('keeps its own copies of releases', async () => {
      const { escrow } = c.repos();
      const given: Mutable<ReleaseRow> = releaseRow('r-1');
      await escrow.releases.insert(given);
      given.envelope = 'changed';
      ((await escrow.releases.find('r-1')) as Mutable<ReleaseRow>).state = 'denied';
      ((await escrow.releases.of('vol-1'))[0] as Mutable<ReleaseRow>).userId = 'mallory';
      expect(await escrow.releases.find('r-1')).toEqual(releaseRow('r-1'));
    });
  });

  describe('EscrowStore: re-arm requests', () => {
    c.test(
      'stores a request once, lists pending ones oldest first, and records the decision',
      async () => {
        const { escrow } = c.repos();
        await escrow.rearms.insert(rearmRow('a-2', { createdAt: at(2) }));
        await escrow.rearms.insert(rearmRow('a-1', { createdAt: at(1), volumeId: 'vol-2' }));
        await escrow.rearms.insert(rearmRow('a-3', { createdAt: at(0), state: 'denied' }));
        await expect(escrow.rearms.insert(rearmRow('a-1', { reason: 'again' }))).rejects.toThrow();
        expect(await escrow.rearms.find('a-1')).toEqual(
          rearmRow('a-1', { createdAt: at(1), volumeId: 'vol-2' }),
        );
        expect(await escrow.rearms.find('a-9')).toBeUndefined();
        expect((await escrow.rearms.pending()).map((r) => r.id)).toEqual(['a-1', 'a-2']);
        await escrow.rearms.decide('a-1', {
          state: 'approved',
          decidedBy: 'alan',
          decisionReason: 'checked with the owner',
          decidedAt: at(4),
        });
        await escrow.rearms.decide('ghost', {
          state: 'denied',
          decidedBy: 'x',
          decisionReason: 'x',
          decidedAt: at(4),
        });
        expect(await escrow.rearms.find('a-1')).toEqual(
          rearmRow('a-1', {
            createdAt: at(1),
            volumeId: 'vol-2',
            state: 'approved',
            decidedBy: 'alan',
            decisionReason: 'checked with the owner',
            decidedAt: at(4),
          }),
        );
        expect((await escrow.rearms.pending()).map((r) => r.id)).toEqual(['a-2']);
        expect(await escrow.rearms.find('ghost')).toBeUndefined();
        const found = (await escrow.rearms.find('a-2')) as { reason: string };
        found.reason = 'changed';
        expect((await escrow.rearms.find('a-2'))?.reason).toBe('restored by mistake');
      },
    );
  });
}
