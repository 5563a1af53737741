import { describe, expect } from 'vitest';
import type { DeviceKeyRow, GenerationRow, RecordRow } from '../../src/domain/escrow/ports';
import { at, type Contract, type Mutable } from './contract';
import { chunkId, chunkRow, recordRow, userRow, volumeRow } from './fixtures';

function device(fingerprint: string, userId: string, minute: number): DeviceKeyRow {
  return {
    fingerprint,
    userId,
    publicJwk: `{"fp":"${fingerprint}"}`,
    spki: `spki-${fingerprint}`,
    label: minute % 2 ? null : `laptop ${minute}`,
    registeredAt: at(minute),
  };
}

function generation(volumeId: string, n: number): GenerationRow {
  return {
    volumeId,
    generation: n,
    manifest: `{"generation":${n}}`,
    manifestHash: `hash-${n}`,
    size: 1000 * n,
    chunks: n,
    deviceFingerprint: 'fp-1',
    receipt: `{"counter":"${n}"}`,
    committedAt: at(n),
  };
}

/** Devices, volumes, records, envelopes, generations, chunks, imports and the receipt counter. */
export function escrowStoreContract(c: Contract): void {
  describe('EscrowStore: devices and volumes', () => {
    c.test('keeps the first registration of a device key', async () => {
      const { users, escrow } = c.repos();
      await users.insert(userRow('olive'));
      await users.insert(userRow('otto'));
      await escrow.devices.add(device('fp-1', 'olive', 0));
      await escrow.devices.add({ ...device('fp-1', 'otto', 5), label: 'stolen' });
      expect(await escrow.devices.find('fp-1')).toEqual(device('fp-1', 'olive', 0));
      expect(await escrow.devices.find('fp-2')).toBeUndefined();
    });

    c.test('refuses a device key of a user who does not exist', async () => {
      const { users, escrow } = c.repos();
      await expect(escrow.devices.add(device('fp-1', 'ghost', 0))).rejects.toThrow();
      expect(await escrow.devices.find('fp-1')).toBeUndefined();
      // A known fingerprint is kept as it is, whoever is named the second time.
      await users.insert(userRow('olive'));
      await escrow.devices.add(device('fp-1', 'olive', 0));
      await escrow.devices.add(device('fp-1', 'ghost', 1));
      expect((await escrow.devices.find('fp-1'))?.userId).toBe('olive');
    });

    c.test("lists a user's devices by registration time", async () => {
      const { users, escrow } = c.repos();
      await users.insert(userRow('olive'));
      await users.insert(userRow('otto'));
      await escrow.devices.add(device('fp-c', 'olive', 3));
      await escrow.devices.add(device('fp-a', 'olive', 1));
      await escrow.devices.add(device('fp-o', 'otto', 2));
      await escrow.devices.add(device('fp-b', 'olive', 2));
      expect((await escrow.devices.of('olive')).map((d) => d.fingerprint)).toEqual([
        'fp-a',
        'fp-b',
        'fp-c',
      ]);
      expect(await escrow.devices.of('nobody')).toEqual([]);
    });

    c.test('inserts a volume once; later inserts get the stored row back', async () => {
      const { escrow } = c.repos();
      const first = volumeRow('vol-1');
      expect(await escrow.volumes.insertIfAbsent(first)).toEqual(first);
      const second = volumeRow('vol-1', { owner: 'otto', pairId: 'pair-x', state: 'registered' });
      expect(await escrow.volumes.insertIfAbsent(second)).toEqual(first);
      expect(await escrow.volumes.find('vol-1')).toEqual(first);
      expect(await escrow.volumes.find('VOL-1')).toBeUndefined();
    });

    c.test('of 20 concurrent first claims of a volume, one is stored and all see it', async () => {
      const { escrow } = c.repos();
      const rows = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          escrow.volumes.insertIfAbsent(volumeRow('vol-1', { owner: `op-${i}`, pairId: `p-${i}` })),
        ),
      );
      expect(new Set(rows.map((r) => r.owner))).toEqual(new Set(['op-0']));
      expect((await escrow.volumes.find('vol-1'))?.pairId).toBe('p-0');
    });

    c.test(
      'volumes.insertIfAbsent returns the row it stored even if it is deleted right after',
      async () => {
        // The port: "returns the row now stored. Atomic."
        const { escrow } = c.repos();
        const [inserted] = await Promise.all([
          escrow.volumes.insertIfAbsent(volumeRow('vol-1')),
          escrow.volumes.delete('vol-1'),
        ]);
        expect(inserted).toEqual(volumeRow('vol-1'));
      },
    );

    c.test("refuses a new volume with another volume's pair ID", async () => {
      const { escrow } = c.repos();
      await escrow.volumes.insertIfAbsent(volumeRow('vol-1', { pairId: 'p-1' }));
      await escrow.volumes.insertIfAbsent(volumeRow('vol-2', { pairId: 'p-2' }));
      await expect(
        escrow.volumes.insertIfAbsent(volumeRow('vol-3', { pairId: 'p-1' })),
      ).rejects.toThrow();
      expect(await escrow.volumes.find('vol-3')).toBeUndefined();
      // An existing volume answers with itself, whatever pair ID the caller brought.
      expect(await escrow.volumes.insertIfAbsent(volumeRow('vol-2', { pairId: 'p-1' }))).toEqual(
        volumeRow('vol-2', { pairId: 'p-2' }),
      );
    });

    c.test('updates only the fields given; null clears the claim', async () => {
      const { escrow } = c.repos();
      await escrow.volumes.insertIfAbsent(volumeRow('vol-1'));
      await escrow.volumes.insertIfAbsent(volumeRow('vol-2'));
      await escrow.volumes.update('vol-1', { state: 'registered' });
      expect(await escrow.volumes.find('vol-1')).toEqual(
        volumeRow('vol-1', { state: 'registered' }),
      );
      await escrow.volumes.update('vol-1', { owner: 'otto', claimExpiresAt: null });
      expect(await escrow.volumes.find('vol-1')).toEqual(
        volumeRow('vol-1', { state: 'registered', owner: 'otto', claimExpiresAt: null }),
      );
      await escrow.volumes.update('vol-1', {});
      await escrow.volumes.update('vol-1', { owner: undefined, claimExpiresAt: at(99) });
      expect(await escrow.volumes.find('vol-1')).toMatchObject({
        owner: 'otto',
        claimExpiresAt: at(99),
      });
      await escrow.volumes.update('ghost', { owner: 'otto' });
      expect(await escrow.volumes.find('ghost')).toBeUndefined();
      expect(await escrow.volumes.find('vol-2')).toEqual(volumeRow('vol-2'));
    });

    c.test('deletes a volume, which can then be claimed anew', async () => {
      const { escrow } = c.repos();
      await escrow.volumes.insertIfAbsent(volumeRow('vol-1'));
      await escrow.volumes.delete('vol-1');
      await escrow.volumes.delete('ghost');
      expect(await escrow.volumes.find('vol-1')).toBeUndefined();
      const again = volumeRow('vol-1', { owner: 'otto' });
      expect(await escrow.volumes.insertIfAbsent(again)).toEqual(again);
    });

    c.test('collects claimed volumes whose claim expired strictly before now', async () => {
      const { escrow } = c.repos();
      await escrow.volumes.insertIfAbsent(volumeRow('late', { claimExpiresAt: at(5) }));
      await escrow.volumes.insertIfAbsent(volumeRow('now', { claimExpiresAt: at(10) }));
      await escrow.volumes.insertIfAbsent(volumeRow('early', { claimExpiresAt: at(1) }));
      await escrow.volumes.insertIfAbsent(volumeRow('live', { claimExpiresAt: at(11) }));
      await escrow.volumes.insertIfAbsent(volumeRow('none', { claimExpiresAt: null }));
      await escrow.volumes.insertIfAbsent(
        volumeRow('registered', { state: 'registered', claimExpiresAt: at(1) }),
      );
      // In the order the volumes were first stored.
      expect((await escrow.volumes.expiredClaims(at(10))).map((v) => v.volumeId)).toEqual([
        'late',
        'early',
      ]);
      expect(await escrow.volumes.expiredClaims(at(0))).toEqual([]);
    });

    c.test('keeps its own copies of devices and volumes', async () => {
      const { users, escrow } = c.repos();
      await users.insert(userRow('olive'));
      const given: Mutable<DeviceKeyRow> = device('fp-1', 'olive', 0);
      await escrow.devices.add(given);
      given.label = 'changed';
      ((await escrow.devices.find('fp-1')) as Mutable<DeviceKeyRow>).spki = 'changed';
      expect(await escrow.devices.find('fp-1')).toEqual(device('fp-1', 'olive', 0));
      const inserted = await escrow.volumes.insertIfAbsent(volumeRow('vol-1'));
      (inserted as { owner: string }).owner = 'changed';
      expect(await escrow.volumes.find('vol-1')).toEqual(volumeRow('vol-1'));
    });
  });

  describe('EscrowStore: escrow records', () => {
    c.test('stores a record and replaces it later, keeping when it was created', async () => {
      const { escrow } = c.repos();
      const record = recordRow('vol-1', {
        restorers: ['olive', 'rita'],
        policy: { kind: 'one-time', approvalRequired: true, expiresAt: at(500) },
        createdAt: at(1),
        updatedAt: at(1),
      });
      await escrow.records.upsert(record);
      expect(await escrow.records.find('vol-1')).toEqual(record);
      const changed = recordRow('vol-1', {
        owner: 'otto',
        restorers: ['otto'],
        state: 'revoked',
        createdAt: at(7),
        updatedAt: at(7),
      });
      await escrow.records.upsert(changed);
      expect(await escrow.records.find('vol-1')).toEqual({ ...changed, createdAt: at(1) });
      expect(await escrow.records.find('vol-2')).toBeUndefined();
    });

    c.test('refuses a record that names a restorer twice, leaving the stored one', async () => {
      const { escrow } = c.repos();
      await escrow.records.upsert(recordRow('vol-1', { restorers: ['olive', 'rita'] }));
      await expect(
        escrow.records.upsert(
          recordRow('vol-1', { restorers: ['olive', 'rita', 'olive'], owner: 'x' }),
        ),
      ).rejects.toThrow();
      expect(await escrow.records.find('vol-1')).toEqual(
        recordRow('vol-1', { restorers: ['olive', 'rita'] }),
      );
      await expect(
        escrow.records.upsert(recordRow('vol-2', { restorers: ['a', 'a'] })),
      ).rejects.toThrow();
      expect(await escrow.records.find('vol-2')).toBeUndefined();
      expect(await escrow.records.naming('a')).toEqual([]);
    });

    c.test('sets the state only from the expected one, with the time of the change', async () => {
      const { escrow } = c.repos();
      await escrow.records.upsert(recordRow('vol-1'));
      expect(await escrow.records.compareAndSetState('vol-1', 'revoked', 'active', at(3))).toBe(
        false,
      );
      expect(await escrow.records.find('vol-1')).toEqual(recordRow('vol-1'));
      expect(await escrow.records.compareAndSetState('vol-1', 'active', 'burned', at(4))).toBe(
        true,
      );
      expect(await escrow.records.find('vol-1')).toEqual(
        recordRow('vol-1', { state: 'burned', updatedAt: at(4) }),
      );
      expect(await escrow.records.compareAndSetState('vol-1', 'active', 'burned', at(5))).toBe(
        false,
      );
      expect(await escrow.records.compareAndSetState('ghost', 'active', 'burned', at(5))).toBe(
        false,
      );
      expect(await escrow.records.find('ghost')).toBeUndefined();
    });

    c.test('of 20 concurrent burns of a one-time record, exactly one succeeds (RS-3)', async () => {
      const { escrow } = c.repos();
      await escrow.records.upsert(
        recordRow('vol-1', {
          policy: { kind: 'one-time', approvalRequired: false, expiresAt: null },
        }),
      );
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          escrow.records.compareAndSetState('vol-1', 'active', 'burned', at(i + 1)),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(results.indexOf(true)).toBe(0);
      expect(await escrow.records.find('vol-1')).toMatchObject({
        state: 'burned',
        updatedAt: at(1),
      });
    });

    c.test('lists records by owner, and by owner or restorer, in volume ID order', async () => {
      const { escrow } = c.repos();
      await escrow.records.upsert(recordRow('vol-c', { owner: 'olive', restorers: ['olive'] }));
      await escrow.records.upsert(
        recordRow('vol-a', { owner: 'otto', restorers: ['otto', 'olive'] }),
      );
      await escrow.records.upsert(
        recordRow('vol-b', { owner: 'olive', restorers: ['olive', 'rita'] }),
      );
      await escrow.records.upsert(
        recordRow('Vol-d', { owner: 'otto', restorers: ['otto', 'Olive'] }),
      );
      expect((await escrow.records.ownedBy('olive')).map((r) => r.volumeId)).toEqual([
        'vol-b',
        'vol-c',
      ]);
      expect((await escrow.records.naming('olive')).map((r) => r.volumeId)).toEqual([
        'vol-a',
        'vol-b',
        'vol-c',
      ]);
      expect((await escrow.records.naming('Olive')).map((r) => r.volumeId)).toEqual(['Vol-d']);
      expect((await escrow.records.naming('otto')).map((r) => r.volumeId)).toEqual([
        'Vol-d',
        'vol-a',
      ]);
      // Taking a restorer off the list takes the record off their list.
      await escrow.records.upsert(recordRow('vol-b', { owner: 'olive', restorers: ['olive'] }));
      expect((await escrow.records.naming('rita')).map((r) => r.volumeId)).toEqual([]);
      expect(await escrow.records.ownedBy('rita')).toEqual([]);
    });

    c.test('keeps its own copies of records', async () => {
      const { escrow } = c.repos();
      const given = recordRow('vol-1', { restorers: ['olive'] });
      await escrow.records.upsert(given);
      (given.restorers as string[]).push('mallory');
      (given.policy as Mutable<RecordRow['policy']>).kind = 'reusable';
      const found = (await escrow.records.find('vol-1'))!;
      (found.restorers as string[]).push('mallory');
      (found.policy as Mutable<RecordRow['policy']>).expiresAt = at(1);
      ((await escrow.records.ownedBy('olive'))[0]!.restorers as string[]).push('eve');
      expect(await escrow.records.find('vol-1')).toEqual(
        recordRow('vol-1', { restorers: ['olive'] }),
      );
      expect(await escrow.records.naming('mallory')).toEqual([]);
    });
  });

  describe('EscrowStore: envelopes, generations and chunks', () => {
    c.test('keeps the first envelope of each epoch and lists them by epoch', async () => {
      const { escrow } = c.repos();
      await escrow.envelopes.add('vol-1', 2, 'env-2', at(2));
      await escrow.envelopes.add('vol-1', 0, 'env-0', at(0));
      await escrow.envelopes.add('vol-1', 1, 'env-1', at(1));
      await escrow.envelopes.add('vol-1', 1, 'env-1-again', at(9));
      await escrow.envelopes.add('vol-2', 0, 'other', at(3));
      expect(await escrow.envelopes.of('vol-1')).toEqual([
        { epoch: 0, envelope: 'env-0' },
        { epoch: 1, envelope: 'env-1' },
        { epoch: 2, envelope: 'env-2' },
      ]);
      expect(await escrow.envelopes.times('vol-1')).toEqual([
        { epoch: 0, at: at(0) },
        { epoch: 1, at: at(1) },
        { epoch: 2, at: at(2) },
      ]);
      expect(await escrow.envelopes.of('vol-3')).toEqual([]);
      expect(await escrow.envelopes.times('vol-3')).toEqual([]);
    });

    c.test('stores each generation once and finds the latest by number', async () => {
      const { escrow } = c.repos();
      expect(await escrow.generations.latest('vol-1')).toBeUndefined();
      await escrow.generations.insert(generation('vol-1', 2));
      await escrow.generations.insert(generation('vol-1', 10));
      await escrow.generations.insert(generation('vol-1', 1));
      await escrow.generations.insert(generation('vol-2', 11));
      await expect(
        escrow.generations.insert({ ...generation('vol-1', 2), manifestHash: 'forged' }),
      ).rejects.toThrow();
      expect((await escrow.generations.of('vol-1')).map((g) => g.generation)).toEqual([1, 2, 10]);
      expect(await escrow.generations.latest('vol-1')).toEqual(generation('vol-1', 10));
      expect(await escrow.generations.find('vol-1', 2)).toEqual(generation('vol-1', 2));
      expect(await escrow.generations.find('vol-1', 3)).toBeUndefined();
      expect(await escrow.generations.of('vol-3')).toEqual([]);
    });

    c.test('keeps the first row of a chunk; 20 concurrent writers leave the first', async () => {
      const { escrow } = c.repos();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          escrow.chunks.insertIfAbsent(
            chunkRow('vol-1', 1, { size: i, ciphertextSha256: `c-${i}` }),
          ),
        ),
      );
      expect(await escrow.chunks.find('vol-1', chunkId(1))).toEqual(
        chunkRow('vol-1', 1, { size: 0, ciphertextSha256: 'c-0' }),
      );
      expect(await escrow.chunks.find('vol-2', chunkId(1))).toBeUndefined();
    });

    c.test("lists a volume's chunks in chunk ID order", async () => {
      const { escrow } = c.repos();
      for (const n of [5, 1, 3]) await escrow.chunks.insertIfAbsent(chunkRow('vol-1', n));
      await escrow.chunks.insertIfAbsent(chunkRow('vol-2', 2));
      await escrow.chunks.insertIfAbsent({ ...chunkRow('vol-1', 0), chunkId: 'f'.repeat(64) });
      await escrow.chunks.insertIfAbsent({ ...chunkRow('vol-1', 0), chunkId: 'A'.repeat(64) });
      expect((await escrow.chunks.of('vol-1')).map((c) => c.chunkId)).toEqual([
        chunkId(1),
        chunkId(3),
        chunkId(5),
        'A'.repeat(64),
        'f'.repeat(64),
      ]);
      expect(await escrow.chunks.of('vol-1')).toContainEqual(chunkRow('vol-1', 3));
    });

    c.test(
      'marks chunks verified without changing them, and deletes only those named',
      async () => {
        const { escrow } = c.repos();
        // More than the 500 a single SQL statement of the site takes.
        const ids = Array.from({ length: 1200 }, (_, n) => n);
        for (const n of ids) await escrow.chunks.insertIfAbsent(chunkRow('vol-1', n));
        await escrow.chunks.insertIfAbsent(chunkRow('vol-2', 7));
        await escrow.chunks.markVerified('vol-1', [chunkId(1), chunkId(9999)], at(50));
        expect(await escrow.chunks.find('vol-1', chunkId(1))).toEqual(chunkRow('vol-1', 1));
        await escrow.chunks.delete('vol-1', ids.filter((n) => n !== 600).map(chunkId));
        await escrow.chunks.delete('vol-1', []);
        expect(await escrow.chunks.of('vol-1')).toEqual([chunkRow('vol-1', 600)]);
        expect(await escrow.chunks.of('vol-2')).toEqual([chunkRow('vol-2', 7)]);
      },
      60_000,
    );
  });

  describe('EscrowStore: imports and receipt counter', () => {
    c.test('records an import of a registration file once (BK-9)', async () => {
      const { escrow } = c.repos();
      expect(await escrow.imports.has('reg-1')).toBe(false);
      expect(await escrow.imports.insert('reg-1', 'vol-1', 'ada', at(1))).toBe(true);
      expect(await escrow.imports.has('reg-1')).toBe(true);
      expect(await escrow.imports.insert('reg-1', 'vol-2', 'alan', at(2))).toBe(false);
      expect(await escrow.imports.has('REG-1')).toBe(false);
    });

    c.test('of 20 concurrent imports of one registration file, exactly one counts', async () => {
      const { escrow } = c.repos();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          escrow.imports.insert('reg-1', 'vol-1', `admin-${i}`, at(i)),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    c.test(
      'counts receipts from 1 as decimal strings, each value once under concurrency',
      async () => {
        const { escrow } = c.repos();
        expect(await escrow.generations.nextReceiptCounter()).toBe('1');
        expect(await escrow.generations.nextReceiptCounter()).toBe('2');
        const values = await Promise.all(
          Array.from({ length: 20 }, () => escrow.generations.nextReceiptCounter()),
        );
        expect([...values].sort((a, b) => Number(a) - Number(b))).toEqual(
          Array.from({ length: 20 }, (_, i) => String(i + 3)),
        );
      },
    );
  });
}
