import { describe, expect } from 'vitest';
import type { AlertKind } from '../../../src/core/contract';
import { at, type Contract } from './contract';
import { releaseRow } from './fixtures';

/** What an owner pages through: a volume's releases and refusal alerts, newest first (AL-3). */
export function volumeActivityContract(c: Contract): void {
  describe('EscrowStore: releases of a volume, page by page', () => {
    async function seed(): Promise<void> {
      const { escrow } = c.repos();
      // Two share a time: the request ID decides their order.
      await escrow.releases.insert(releaseRow('r-a', { createdAt: at(1) }));
      await escrow.releases.insert(releaseRow('r-c', { createdAt: at(3), state: 'denied' }));
      await escrow.releases.insert(releaseRow('r-b', { createdAt: at(3) }));
      await escrow.releases.insert(
        releaseRow('r-d', { createdAt: at(5), state: 'pending_approval', envelope: null }),
      );
      await escrow.releases.insert(releaseRow('r-x', { createdAt: at(4), volumeId: 'vol-2' }));
    }
    const ids = (rows: { requestId: string }[]) => rows.map((r) => r.requestId);

    c.test(
      'lists every state of one volume, newest first, the higher request ID first at a tie',
      async () => {
        await seed();
        const { escrow } = c.repos();
        expect(ids(await escrow.releases.pageOf('vol-1', null, 10))).toEqual([
          'r-d',
          'r-c',
          'r-b',
          'r-a',
        ]);
        expect(await escrow.releases.pageOf('vol-3', null, 10)).toEqual([]);
        expect((await escrow.releases.pageOf('vol-1', null, 1))[0]).toEqual(
          releaseRow('r-d', { createdAt: at(5), state: 'pending_approval', envelope: null }),
        );
      },
    );

    c.test(
      'continues strictly after a position, across a tie, and stops at the limit',
      async () => {
        await seed();
        const { escrow } = c.repos();
        expect(ids(await escrow.releases.pageOf('vol-1', null, 2))).toEqual(['r-d', 'r-c']);
        expect(
          ids(await escrow.releases.pageOf('vol-1', { at: at(3), requestId: 'r-c' }, 2)),
        ).toEqual(['r-b', 'r-a']);
        // An empty request ID means "before this time" (nothing at that time).
        expect(ids(await escrow.releases.pageOf('vol-1', { at: at(3), requestId: '' }, 5))).toEqual(
          ['r-a'],
        );
        expect(
          ids(await escrow.releases.pageOf('vol-1', { at: at(1), requestId: 'r-a' }, 5)),
        ).toEqual([]);
        // A position between rows (not a row's own) works as well.
        expect(
          ids(await escrow.releases.pageOf('vol-1', { at: at(4), requestId: 'z' }, 5)),
        ).toEqual(['r-c', 'r-b', 'r-a']);
      },
    );
  });

  describe('AlertRepository: refusals of a volume, page by page', () => {
    const REFUSALS: AlertKind[] = ['unauthorized_restorer', 'key_not_found'];

    async function seed(): Promise<void> {
      const { alerts } = c.repos();
      const rows: [AlertKind, string, string | null][] = [
        ['unauthorized_restorer', '2026-03-01T10:00:00.000Z', 'vol-1'], // 1
        ['key_not_found', '2026-03-02T10:00:00.000Z', 'vol-1'], // 2
        ['integrity_failure', '2026-03-02T11:00:00.000Z', 'vol-1'], // 3: another kind
        ['unauthorized_restorer', '2026-03-02T10:00:00.000Z', 'vol-1'], // 4: same time as 2
        ['unauthorized_restorer', '2026-03-03T10:00:00.000Z', 'vol-2'], // 5: another volume
        ['bad_password', '2026-03-03T10:00:00.000Z', null], // 6
        ['key_not_found', '2026-03-04T10:00:00.000Z', 'vol-1'], // 7
      ];
      for (const [kind, time, volumeId] of rows) {
        await alerts.insert({
          kind,
          userId: 'mallory',
          volumeId,
          clientAddress: '10.0.0.9',
          sentence: `${kind} at ${time}`,
          message: { code: 'unknown_user', params: { userId: 'mallory' } },
          siteId: 'site-1',
          at: time,
        });
      }
    }
    const ids = (rows: { id: number }[]) => rows.map((a) => a.id);

    c.test(
      'lists the alerts of these kinds about one volume, newest first, the later ID first at a tie',
      async () => {
        await seed();
        const { alerts } = c.repos();
        expect(ids(await alerts.pageOfVolume('vol-1', REFUSALS, null, 10))).toEqual([7, 4, 2, 1]);
        expect(ids(await alerts.pageOfVolume('vol-1', ['integrity_failure'], null, 10))).toEqual([
          3,
        ]);
        expect(await alerts.pageOfVolume('vol-1', [], null, 10)).toEqual([]);
        expect(await alerts.pageOfVolume('vol-3', REFUSALS, null, 10)).toEqual([]);
        expect((await alerts.pageOfVolume('vol-1', REFUSALS, null, 1))[0]).toEqual({
          id: 7,
          kind: 'key_not_found',
          userId: 'mallory',
          volumeId: 'vol-1',
          siteId: 'site-1',
          clientAddress: '10.0.0.9',
          sentence: 'key_not_found at 2026-03-04T10:00:00.000Z',
          message: { code: 'unknown_user', params: { userId: 'mallory' } },
          at: '2026-03-04T10:00:00.000Z',
          acknowledgedAt: null,
          acknowledgedBy: null,
        });
      },
    );

    c.test(
      'continues strictly after an alert position, across a tie, and stops at the limit',
      async () => {
        await seed();
        const { alerts } = c.repos();
        const tie = '2026-03-02T10:00:00.000Z';
        expect(ids(await alerts.pageOfVolume('vol-1', REFUSALS, null, 2))).toEqual([7, 4]);
        expect(ids(await alerts.pageOfVolume('vol-1', REFUSALS, { at: tie, id: 4 }, 2))).toEqual([
          2, 1,
        ]);
        expect(
          ids(
            await alerts.pageOfVolume(
              'vol-1',
              REFUSALS,
              { at: tie, id: Number.MAX_SAFE_INTEGER },
              5,
            ),
          ),
        ).toEqual([4, 2, 1]);
        expect(ids(await alerts.pageOfVolume('vol-1', REFUSALS, { at: tie, id: 0 }, 5))).toEqual([
          1,
        ]);
        // Acknowledging an alert does not hide it from the owner.
        await alerts.acknowledge([7], 'ada', '2026-03-05T00:00:00.000Z');
        expect(ids(await alerts.pageOfVolume('vol-1', REFUSALS, null, 1))).toEqual([7]);
      },
    );
  });
}
