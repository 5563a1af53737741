import { describe, expect } from 'vitest';
import type { PairRow, TransferRow } from '../../src/domain/escrow/ports';
import { at, type Contract, type Mutable } from './contract';
import { instructionRow, pairRow, transferRow, volumeRow } from './fixtures';

/** Pairs, their history, instructions and samples, and the transfer log (RC-1..RC-7). */
export function escrowPairsContract(c: Contract): void {
  describe('EscrowStore: pairs', () => {
    c.test('finds a pair by ID and by volume; both are unique', async () => {
      const { escrow } = c.repos();
      const pair = pairRow('p-1', 'vol-1');
      await escrow.pairs.insert(pair);
      expect(await escrow.pairs.find('p-1')).toEqual(pair);
      expect(await escrow.pairs.ofVolume('vol-1')).toEqual(pair);
      expect(await escrow.pairs.find('p-2')).toBeUndefined();
      expect(await escrow.pairs.ofVolume('vol-2')).toBeUndefined();
      await expect(escrow.pairs.insert(pairRow('p-1', 'vol-2'))).rejects.toThrow();
      await expect(escrow.pairs.insert(pairRow('p-2', 'vol-1'))).rejects.toThrow();
      expect(await escrow.pairs.find('p-2')).toBeUndefined();
      expect(await escrow.pairs.ofVolume('vol-2')).toBeUndefined();
    });

    c.test('notes a received transfer: the highest seq so far and the time', async () => {
      const { escrow } = c.repos();
      await escrow.pairs.insert(pairRow('p-1', 'vol-1'));
      await escrow.pairs.noteTransferReceived('p-1', 5, at(1));
      await escrow.pairs.noteTransferReceived('p-1', 3, at(2));
      expect(await escrow.pairs.find('p-1')).toMatchObject({
        seqReceived: 5,
        lastTransferAt: at(2),
      });
      await Promise.all(
        [9, 7, 8].map((seq) => escrow.pairs.noteTransferReceived('p-1', seq, at(seq))),
      );
      const raced = await escrow.pairs.find('p-1');
      expect(raced).toMatchObject({ seqReceived: 9 });
      // SQLite's one connection runs calls that race in the order they were made; a
      // PostgreSQL pool runs them side by side, so the last to land is any of them.
      if (c.implementation === 'PostgreSQL')
        expect([at(7), at(8), at(9)]).toContain(raced?.lastTransferAt);
      else expect(raced?.lastTransferAt).toBe(at(8));
      await escrow.pairs.noteTransferReceived('ghost', 1, at(1));
      expect(await escrow.pairs.find('ghost')).toBeUndefined();
    });

    c.test('updates only the fields given, never the identity of the pair', async () => {
      const { escrow } = c.repos();
      await escrow.pairs.insert(pairRow('p-1', 'vol-1'));
      await escrow.pairs.insert(pairRow('p-2', 'vol-2'));
      const patch = {
        state: 'PSUE',
        seqApplied: 4,
        seqReceived: 6,
        bytes: 4096,
        chunksReceived: 3,
        lastTransferAt: at(4),
        lastError: 'transfer 5 refused',
        unhealthyReason: 'site: gap',
        stateSince: at(4),
        cutSeq: 4,
        lastHeartbeatAt: at(5),
        heartbeat: '{"backlog":2}',
      };
      await escrow.pairs.update('p-1', patch);
      expect(await escrow.pairs.find('p-1')).toEqual({ ...pairRow('p-1', 'vol-1'), ...patch });
      await escrow.pairs.update('p-1', { lastError: null, cutSeq: null, state: undefined });
      expect(await escrow.pairs.find('p-1')).toMatchObject({
        state: 'PSUE',
        lastError: null,
        cutSeq: null,
      });
      await escrow.pairs.update('p-1', {});
      // Only the columns the port names change, whatever else an object carries.
      await escrow.pairs.update('p-1', {
        ...pairRow('p-9', 'vol-9', { createdAt: at(99) }),
        state: 'PAIR',
      } as Partial<PairRow>);
      expect(await escrow.pairs.find('p-1')).toMatchObject({
        pairId: 'p-1',
        volumeId: 'vol-1',
        createdAt: at(0),
        state: 'PAIR',
      });
      expect(await escrow.pairs.find('p-9')).toBeUndefined();
      expect(await escrow.pairs.find('p-2')).toEqual(pairRow('p-2', 'vol-2'));
      await escrow.pairs.update('ghost', { state: 'PAIR' });
      expect(await escrow.pairs.find('ghost')).toBeUndefined();
    });

    c.test("lists pairs by creation time, or only those of an owner's volumes", async () => {
      const { escrow } = c.repos();
      await escrow.volumes.insertIfAbsent(volumeRow('vol-1', { owner: 'olive', pairId: 'p-1' }));
      await escrow.volumes.insertIfAbsent(volumeRow('vol-2', { owner: 'otto', pairId: 'p-2' }));
      await escrow.volumes.insertIfAbsent(volumeRow('vol-3', { owner: 'olive', pairId: 'p-3' }));
      await escrow.pairs.insert(pairRow('p-3', 'vol-3', { createdAt: at(3) }));
      await escrow.pairs.insert(pairRow('p-1', 'vol-1', { createdAt: at(1) }));
      await escrow.pairs.insert(pairRow('p-2', 'vol-2', { createdAt: at(2) }));
      await escrow.pairs.insert(pairRow('p-4', 'vol-gone', { createdAt: at(0) }));
      expect((await escrow.pairs.list()).map((p) => p.pairId)).toEqual([
        'p-4',
        'p-1',
        'p-2',
        'p-3',
      ]);
      expect((await escrow.pairs.list('olive')).map((p) => p.pairId)).toEqual(['p-1', 'p-3']);
      expect((await escrow.pairs.list('')).map((p) => p.pairId)).toHaveLength(4);
      expect(await escrow.pairs.list('nobody')).toEqual([]);
      await escrow.volumes.update('vol-3', { owner: 'otto' });
      expect((await escrow.pairs.list('otto')).map((p) => p.pairId)).toEqual(['p-2', 'p-3']);
    });

    c.test('keeps the history of each pair in the order it was written', async () => {
      const { escrow } = c.repos();
      await escrow.pairs.addHistory('p-1', {
        at: at(5),
        from: null,
        to: 'COPY',
        reason: 'first claim',
      });
      await escrow.pairs.addHistory('p-2', {
        at: at(1),
        from: null,
        to: 'COPY',
        reason: 'other pair',
      });
      await escrow.pairs.addHistory('p-1', {
        at: at(2),
        from: 'COPY',
        to: 'PAIR',
        reason: 'committed',
      });
      await escrow.pairs.addHistory('p-1', { at: at(2), from: 'PAIR', to: 'PSUS', reason: 'cut' });
      expect(await escrow.pairs.history('p-1')).toEqual([
        { at: at(5), from: null, to: 'COPY', reason: 'first claim' },
        { at: at(2), from: 'COPY', to: 'PAIR', reason: 'committed' },
        { at: at(2), from: 'PAIR', to: 'PSUS', reason: 'cut' },
      ]);
      expect(await escrow.pairs.history('p-3')).toEqual([]);
    });

    c.test(
      'keeps instructions by ID and lists those in the states asked, oldest first',
      async () => {
        const { escrow } = c.repos();
        await escrow.pairs.insertInstruction(instructionRow('i-3', 'p-1', { requestedAt: at(3) }));
        await escrow.pairs.insertInstruction(
          instructionRow('i-1', 'p-1', { requestedAt: at(1), action: 'resync' }),
        );
        await escrow.pairs.insertInstruction(
          instructionRow('i-2', 'p-1', { requestedAt: at(2), state: 'delivered' }),
        );
        await escrow.pairs.insertInstruction(instructionRow('i-4', 'p-2', { requestedAt: at(0) }));
        await expect(
          escrow.pairs.insertInstruction(instructionRow('i-1', 'p-2')),
        ).rejects.toThrow();
        expect(await escrow.pairs.findInstruction('i-1')).toEqual(
          instructionRow('i-1', 'p-1', { requestedAt: at(1), action: 'resync' }),
        );
        expect(await escrow.pairs.findInstruction('i-9')).toBeUndefined();
        const ids = async (states: Parameters<typeof escrow.pairs.instructionsOf>[1]) =>
          (await escrow.pairs.instructionsOf('p-1', states)).map((i) => i.id);
        expect(await ids(['requested'])).toEqual(['i-1', 'i-3']);
        expect(await ids(['requested', 'delivered'])).toEqual(['i-1', 'i-2', 'i-3']);
        expect(await ids(['acknowledged'])).toEqual([]);
        expect(await ids([])).toEqual([]);
        await escrow.pairs.updateInstruction('i-1', {
          state: 'acknowledged',
          acknowledgedAt: at(9),
        });
        await escrow.pairs.updateInstruction('i-3', { state: 'delivered' });
        await escrow.pairs.updateInstruction('i-3', {});
        await escrow.pairs.updateInstruction('ghost', { state: 'delivered' });
        expect(await escrow.pairs.findInstruction('i-1')).toMatchObject({
          state: 'acknowledged',
          acknowledgedAt: at(9),
          action: 'resync',
        });
        expect(await ids(['delivered'])).toEqual(['i-2', 'i-3']);
        expect(await escrow.pairs.findInstruction('ghost')).toBeUndefined();
      },
    );

    c.test('answers the samples of a pair since a time, in time order', async () => {
      const { escrow } = c.repos();
      await escrow.pairs.addSample('p-1', at(3), 1.5, null);
      await escrow.pairs.addSample('p-1', at(1), null, 2048.25);
      await escrow.pairs.addSample('p-1', at(2), 0, 0);
      await escrow.pairs.addSample('p-2', at(2), 9, 9);
      expect(await escrow.pairs.samples('p-1', at(2))).toEqual([
        { at: at(2), lagSeconds: 0, bytesPerSecond: 0 },
        { at: at(3), lagSeconds: 1.5, bytesPerSecond: null },
      ]);
      expect(await escrow.pairs.samples('p-1', at(0))).toHaveLength(3);
      expect(await escrow.pairs.samples('p-3', at(0))).toEqual([]);
    });

    c.test(
      'keeps a key rotation policy per pair: none until set, up to 64 TiB, and clears',
      async () => {
        const { escrow } = c.repos();
        await escrow.pairs.insert(pairRow('p-1', 'vol-1'));
        await escrow.pairs.insert(
          pairRow('p-2', 'vol-2', {
            createdAt: at(1),
            rotationEveryBytes: 1024 ** 3,
            rotationEveryMs: 3600_000,
          }),
        );
        expect(await escrow.pairs.find('p-1')).toMatchObject({
          rotationEveryBytes: null,
          rotationEveryMs: null,
        });
        const largest = { rotationEveryBytes: 64 * 1024 ** 4, rotationEveryMs: 30 * 24 * 3600_000 };
        await escrow.pairs.update('p-1', largest);
        expect(await escrow.pairs.find('p-1')).toEqual({ ...pairRow('p-1', 'vol-1'), ...largest });
        expect((await escrow.pairs.list()).map((p) => p.rotationEveryBytes)).toEqual([
          64 * 1024 ** 4,
          1024 ** 3,
        ]);
        await escrow.pairs.update('p-1', { state: 'PAIR' });
        expect(await escrow.pairs.find('p-1')).toMatchObject({ state: 'PAIR', ...largest });
        await escrow.pairs.update('p-2', { rotationEveryBytes: null, rotationEveryMs: null });
        expect(await escrow.pairs.ofVolume('vol-2')).toEqual(
          pairRow('p-2', 'vol-2', { createdAt: at(1) }),
        );
      },
    );

    c.test('keeps its own copies of pairs', async () => {
      const { escrow } = c.repos();
      const given: Mutable<PairRow> = pairRow('p-1', 'vol-1');
      await escrow.pairs.insert(given);
      given.state = 'changed';
      ((await escrow.pairs.find('p-1')) as Mutable<PairRow>).seqApplied = 99;
      ((await escrow.pairs.list())[0] as Mutable<PairRow>).bytes = 99;
      expect(await escrow.pairs.find('p-1')).toEqual(pairRow('p-1', 'vol-1'));
    });
  });

  describe('EscrowStore: transfers', () => {
    c.test('stores a transfer once per (pair, seq); the first stays', async () => {
      const { escrow } = c.repos();
      expect(await escrow.transfers.insert(transferRow('p-1', 1))).toBe(true);
      expect(await escrow.transfers.insert(transferRow('p-1', 1, { bodySha256: 'other' }))).toBe(
        false,
      );
      expect(await escrow.transfers.insert(transferRow('p-2', 1))).toBe(true);
      expect(await escrow.transfers.find('p-1', 1)).toEqual(transferRow('p-1', 1));
      expect(await escrow.transfers.find('p-1', 2)).toBeUndefined();
    });

    c.test('of 20 concurrent stores of one (pair, seq), exactly one is taken', async () => {
      const { escrow } = c.repos();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          escrow.transfers.insert(transferRow('p-1', 7, { bodySha256: `b-${i}` })),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await escrow.transfers.find('p-1', 7))?.bodySha256).toBe(
        `b-${results.indexOf(true)}`,
      );
    });

    c.test(
      'gives payloads back as fresh plain bytes; empty stays empty, none stays null',
      async () => {
        const { escrow } = c.repos();
        const payload = new Uint8Array([9, 8, 7]);
        await escrow.transfers.insert(transferRow('p-1', 1, { payload }));
        await escrow.transfers.insert(transferRow('p-1', 2, { payload: new Uint8Array(0) }));
        await escrow.transfers.insert(transferRow('p-1', 3, { payload: null, kind: 'commit' }));
        payload[0] = 0;
        const first = (await escrow.transfers.find('p-1', 1))!;
        expect(first.payload).toEqual(new Uint8Array([9, 8, 7]));
        expect(first.payload?.constructor).toBe(Uint8Array);
        first.payload![1] = 0;
        expect((await escrow.transfers.find('p-1', 1))?.payload).toEqual(new Uint8Array([9, 8, 7]));
        expect((await escrow.transfers.find('p-1', 2))?.payload).toEqual(new Uint8Array(0));
        expect((await escrow.transfers.find('p-1', 3))?.payload).toBeNull();
        (first as Mutable<TransferRow>).status = 'applied';
        expect((await escrow.transfers.find('p-1', 1))?.status).toBe('received');
      },
    );

    c.test('settles a transfer with its outcome and drops its payload', async () => {
      const { escrow } = c.repos();
      await escrow.transfers.insert(transferRow('p-1', 1));
      await escrow.transfers.insert(transferRow('p-1', 2));
      await escrow.transfers.settle('p-1', 1, 'applied', '{"status":"applied"}', at(10));
      await escrow.transfers.settle('p-1', 2, 'rejected', '{"refused":{}}', at(11));
      await escrow.transfers.settle('p-1', 3, 'applied', '{}', at(12));
      expect(await escrow.transfers.find('p-1', 1)).toEqual(
        transferRow('p-1', 1, {
          status: 'applied',
          outcome: '{"status":"applied"}',
          appliedAt: at(10),
          payload: null,
        }),
      );
      expect(await escrow.transfers.find('p-1', 2)).toMatchObject({
        status: 'rejected',
        appliedAt: at(11),
        payload: null,
      });
      expect(await escrow.transfers.find('p-1', 3)).toBeUndefined();
    });

    c.test('lists the buffered transfers above a seq in order, and drops only those', async () => {
      const { escrow } = c.repos();
      for (const seq of [6, 2, 4, 1, 3, 5]) await escrow.transfers.insert(transferRow('p-1', seq));
      await escrow.transfers.insert(transferRow('p-2', 4));
      await escrow.transfers.settle('p-1', 1, 'applied', '{}', at(20));
      await escrow.transfers.settle('p-1', 4, 'rejected', '{}', at(20));
      const seqs = async (pairId: string, above: number) =>
        (await escrow.transfers.buffered(pairId, above)).map((t) => t.seq);
      expect(await seqs('p-1', 0)).toEqual([2, 3, 5, 6]);
      expect(await seqs('p-1', 3)).toEqual([5, 6]);
      expect(await seqs('p-1', 6)).toEqual([]);
      expect(await escrow.transfers.buffered('p-1', 4)).toEqual([
        transferRow('p-1', 5),
        transferRow('p-1', 6),
      ]);
      await escrow.transfers.dropBuffered('p-1', 2);
      expect(await seqs('p-1', 0)).toEqual([2]);
      expect(await escrow.transfers.find('p-1', 1)).toMatchObject({ status: 'applied' });
      expect(await escrow.transfers.find('p-1', 4)).toMatchObject({ status: 'rejected' });
      expect(await escrow.transfers.find('p-1', 5)).toBeUndefined();
      expect(await seqs('p-2', 0)).toEqual([4]);
      // A dropped seq can be sent again.
      expect(await escrow.transfers.insert(transferRow('p-1', 5, { bodySha256: 'again' }))).toBe(
        true,
      );
    });

    c.test('dates a gap by the oldest transfer waiting beyond it', async () => {
      const { escrow } = c.repos();
      expect(await escrow.transfers.oldestBufferedAt('p-1', 0)).toBeUndefined();
      await escrow.transfers.insert(transferRow('p-1', 1, { receivedAt: at(1) }));
      await escrow.transfers.settle('p-1', 1, 'applied', '{}', at(1));
      await escrow.transfers.insert(transferRow('p-1', 3, { receivedAt: at(8) }));
      await escrow.transfers.insert(transferRow('p-1', 4, { receivedAt: at(9) }));
      await escrow.transfers.insert(transferRow('p-1', 6, { receivedAt: at(5) }));
      await escrow.transfers.insert(transferRow('p-1', 7, { receivedAt: at(6) }));
      await escrow.transfers.insert(transferRow('p-2', 9, { receivedAt: at(0) }));
      expect(await escrow.transfers.oldestBufferedAt('p-1', 1)).toBe(at(5));
      await escrow.transfers.settle('p-1', 6, 'rejected', '{}', at(10));
      expect(await escrow.transfers.oldestBufferedAt('p-1', 1)).toBe(at(6));
      expect(await escrow.transfers.oldestBufferedAt('p-1', 4)).toBe(at(6));
      expect(await escrow.transfers.oldestBufferedAt('p-1', 7)).toBeUndefined();
    });

    c.test('oldestBufferedAt ignores a transfer at aboveSeq + 1, which closes no gap', async () => {
      // The port: "When the oldest transfer waiting beyond `aboveSeq + 1` arrived".
      const { escrow } = c.repos();
      await escrow.transfers.insert(transferRow('p-1', 1, { receivedAt: at(1) }));
      await escrow.transfers.insert(transferRow('p-1', 3, { receivedAt: at(3) }));
      expect(await escrow.transfers.oldestBufferedAt('p-1', 0)).toBe(at(3));
    });
  });
}
