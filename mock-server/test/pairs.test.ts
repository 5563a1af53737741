import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ASSUMED_GUESSES_PER_SECOND,
  DATA_KEY_BITS,
  PAIR_SILENCE_MS,
  type AuditEntry,
  type Claim,
  type Instruction,
  type PairDetail,
  type PairRotationResponse,
  type PairSummary,
  type TransferAck,
} from '../../src/core/contract';
import { utf8 } from '../../src/core/crypto/bytes';
import { canonicalJson, type JsonValue } from '../../src/core/crypto/canonical-json';
import { CHUNK_SIZE, paddedTransferSize } from '../../src/core/crypto/constants';
import { sealChunk } from '../../src/core/crypto/chunk';
import { sealEnvelope } from '../../src/core/crypto/envelope';
import { generateChunkIdKey, generateDataKey } from '../../src/core/crypto/keys';
import { buildManifest, signManifest } from '../../src/core/crypto/manifest';
import { encodeTransfer, type TransferHeader } from '../../src/core/transfer/frame';
import {
  DEFAULT_ROTATION,
  ROTATION_BOUNDS,
  rotationIntervalMs,
} from '../../src/core/transfer/rotation';
import {
  backUp,
  enc,
  newOperator,
  putTransfer,
  randomImage,
  restore,
  type Operator,
} from './support/backup-client';
import { openEventStream } from './support/event-stream';
import { Client, ManualClock, startTestSite, type TestSite } from './support/test-site';

const reason = 'maintenance window';

/**
 * Builds the transfers of one generation whose data key rotates mid-stream
 * (RC-4): chunks before the announcement of epoch 1 use epoch 0, after it 1.
 */
async function rotatingStream(
  op: Operator,
  site: TestSite,
  volumeId: string,
  image: Uint8Array,
  rotateAfter: number,
) {
  const claim = (
    await op.client.request('POST', `/api/volumes/${enc(volumeId)}/claim`, { json: {} })
  ).json as Claim;
  const chunkIdKey = await generateChunkIdKey({ extractable: true });
  const keys = [
    await generateDataKey({ extractable: true }),
    await generateDataKey({ extractable: true }),
  ];
  const announce = async (epoch: number) => ({
    header: { kind: 'epoch-key', volumeId, epoch } as TransferHeader,
    payload: utf8(
      await sealEnvelope(
        { volumeId, chunkIdKey, dataKeys: new Map([[epoch, keys[epoch]!]]) },
        site.site.info.escrowKey.jwk,
        { purpose: 'escrow' },
      ),
    ),
  });
  const transfers = [await announce(0)];
  const entries = [];
  for (let i = 0, offset = 0; offset < image.length; i++, offset += CHUNK_SIZE) {
    if (i === rotateAfter) transfers.push(await announce(1));
    const epoch = i < rotateAfter ? 0 : 1;
    const chunk = await sealChunk(image.subarray(offset, offset + CHUNK_SIZE), {
      volumeId,
      epoch,
      chunkIdKey,
      dataKey: keys[epoch]!,
    });
    transfers.push({
      header: { kind: 'chunk', volumeId, chunkId: chunk.chunkId },
      payload: chunk.blob,
    });
    entries.push({
      chunkId: chunk.chunkId,
      ciphertextSha256: chunk.ciphertextSha256,
      length: chunk.length,
      epoch,
    });
  }
  const manifest = await signManifest(
    await buildManifest(
      {
        volumeId,
        generation: 1,
        previousManifestHash: null,
        chunks: entries,
        deviceKeyFingerprint: op.fingerprint,
      },
      {
        imageSha256: createHash('sha256').update(image).digest('hex'),
        fileName: 'rotating.img',
        size: image.length,
      },
      { dataKey: keys[1]!, epoch: 1 },
    ),
    op.device.privateKey,
  );
  transfers.push({
    header: { kind: 'commit', volumeId },
    payload: canonicalJson({
      manifest,
      restorers: [op.userId, 'restorer'],
      policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
    } as unknown as JsonValue),
  });
  return { claim, transfers };
}

describe('remote copy at the secondary (RC-1..RC-7)', () => {
  let site: TestSite;
  let clock: ManualClock;
  let operator: Operator;
  let admin: Client;

  beforeEach(async () => {
    clock = new ManualClock(new Date());
    site = await startTestSite({ clock, env: { CUSTODIAN_GAP_TIMEOUT: '60' } });
    const client = new Client(site.site.url);
    await client.signIn('operator');
    operator = await newOperator(client);
    admin = new Client(site.site.url);
    await admin.signIn('admin');
  });
  afterEach(() => site.stop());

  const pairOf = async (volumeId: string) =>
    ((await admin.request('GET', '/api/admin/pairs')).json as { pairs: PairSummary[] }).pairs.find(
      (p) => p.volumeId === volumeId,
    )!;
  const detailOf = async (pairId: string) =>
    (await admin.request('GET', `/api/admin/pairs/${pairId}`)).json as PairDetail;

  it("002's example: data 1 2 3, key 4, data 5, with 3 delivered after 4, restores across both epochs", async () => {
    const image = randomImage(4 * CHUNK_SIZE, 17);
    const { claim, transfers } = await rotatingStream(operator, site, 'ext4:rotate', image, 3);
    // seq: 1 key(0), 2-4 data, 5 key(1), 6 data, 7 commit; deliver 4 after 5.
    const order = [0, 1, 2, 4, 3, 5, 6];
    const acks: TransferAck[] = [];
    for (const i of order) {
      const answer = await putTransfer(
        operator.client,
        claim.pairId,
        i + 1,
        transfers[i]!.header,
        transfers[i]!.payload,
      );
      acks.push(answer.json as TransferAck);
    }
    expect(acks[3]!.status).toBe('buffered');
    expect(acks.at(-1)!.receipt).toBeDefined();
    const pair = await pairOf('ext4:rotate');
    expect(pair).toMatchObject({ state: 'PAIR', seqApplied: 7, epochSecondary: 1 });
    const restorer = new Client(site.site.url);
    await restorer.signIn('restorer');
    expect(
      Buffer.compare(
        Buffer.from((await restore(restorer, 'ext4:rotate')).image),
        Buffer.from(image),
      ),
    ).toBe(0);
  });

  it('applies in sequence order whatever the delivery order (property)', async () => {
    const image = randomImage(CHUNK_SIZE + 3, 23); // key 0, chunk, key 1, chunk, commit
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 5, maxLength: 5 }),
        async (order) => {
          const volumeId = `ext4:order-${run++}`;
          const { claim, transfers } = await rotatingStream(operator, site, volumeId, image, 1);
          for (const i of order) {
            const answer = await putTransfer(
              operator.client,
              claim.pairId,
              i + 1,
              transfers[i]!.header,
              transfers[i]!.payload,
            );
            expect([200, 202]).toContain(answer.status);
          }
          const pair = await pairOf(volumeId);
          expect(pair).toMatchObject({
            state: 'PAIR',
            seqApplied: 5,
            seqAcknowledged: 5,
            epochSecondary: 1,
          });
          const history = (await detailOf(pair.pairId)).history.map((h) => h.to);
          expect(history).toEqual(['PAIR']);
        },
      ),
      { numRuns: 8 },
    );
  });

  it('gives key announcements and data transfers the same body size', async () => {
    const { transfers } = await rotatingStream(
      operator,
      site,
      'ext4:sizes',
      randomImage(CHUNK_SIZE + 1),
      1,
    );
    const sizes = new Set(transfers.map((t) => encodeTransfer(t.header, t.payload).length));
    expect([...sizes]).toEqual([paddedTransferSize()]);
    expect(transfers.map((t) => t.header.kind)).toEqual([
      'epoch-key',
      'chunk',
      'epoch-key',
      'chunk',
      'commit',
    ]);
  });

  it('times a gap out to PSUE with its cause, and recovers by itself when the gap fills', async () => {
    const { claim, transfers } = await rotatingStream(
      operator,
      site,
      'ext4:gap',
      randomImage(CHUNK_SIZE + 1),
      1,
    );
    await putTransfer(
      operator.client,
      claim.pairId,
      1,
      transfers[0]!.header,
      transfers[0]!.payload,
    );
    await putTransfer(
      operator.client,
      claim.pairId,
      3,
      transfers[2]!.header,
      transfers[2]!.payload,
    );
    clock.advance(61_000);
    await site.site.pairs.checkGaps();
    let pair = await pairOf('ext4:gap');
    expect(pair.state).toBe('PSUE');
    expect(pair.group).toBe('error');
    expect(pair.unhealthyReason).toMatch(/transfer 2 has been missing/);
    await putTransfer(
      operator.client,
      claim.pairId,
      2,
      transfers[1]!.header,
      transfers[1]!.payload,
    );
    pair = await pairOf('ext4:gap');
    expect(pair.state).toBe('COPY');
    for (const i of [3, 4])
      await putTransfer(
        operator.client,
        claim.pairId,
        i + 1,
        transfers[i]!.header,
        transfers[i]!.payload,
      );
    pair = await pairOf('ext4:gap');
    expect(pair.state).toBe('PAIR');
    expect((await detailOf(pair.pairId)).history.map((h) => `${h.from}>${h.to}`)).toEqual([
      'COPY>PSUE',
      'PSUE>COPY',
      'COPY>PAIR',
    ]);
  });

  it('turns PSUE with the refusal as its last error when a transfer is rejected in sequence', async () => {
    const { claim, transfers } = await rotatingStream(
      operator,
      site,
      'ext4:rejected',
      randomImage(CHUNK_SIZE + 1),
      1,
    );
    // A commit that arrives before its chunks and keys lists what is missing: refused.
    const commit = transfers[transfers.length - 1]!;
    await putTransfer(operator.client, claim.pairId, 1, commit.header, commit.payload);
    const pair = await pairOf('ext4:rejected');
    expect(pair.state).toBe('PSUE');
    expect(pair.group).toBe('error');
    expect(pair.lastError).toMatch(/^transfer 1 refused: /);
    expect(pair.unhealthyReason).toMatch(/transfer rejected/);
    expect((await detailOf(pair.pairId)).history.map((h) => `${h.from}>${h.to}`)).toEqual([
      'COPY>PSUE',
    ]);
  });

  it('records a primary-reported PSUE episode and returns to PAIR when the primary reaches the site again', async () => {
    const { claim } = await backUp(operator, site.site.info, 'ext4:beat', randomImage(1000));
    const beat = (state: string, reasonText: string | null, pending = 0) =>
      operator.client.request('POST', `/api/pairs/${claim.pairId}/heartbeat`, {
        json: {
          state,
          reason: reasonText,
          seqSent: 3 + pending,
          pending,
          pendingBytes: pending * 4096,
          oldestPendingAt: pending ? new Date(clock.now().getTime() - 30_000).toISOString() : null,
          epoch: 0,
          nextRotationAt: null,
          bytesPerSecond: 1024,
        },
      });
    expect((await beat('PSUE', 'site unreachable for 95 s', 2)).status).toBe(200);
    let pair = await pairOf('ext4:beat');
    expect(pair).toMatchObject({
      state: 'PSUE',
      unhealthyReason: 'site unreachable for 95 s',
      pendingChunks: 2,
      lagSeconds: 30,
      timeToSyncSeconds: 8,
    });
    await beat('PAIR', null);
    pair = await pairOf('ext4:beat');
    expect(pair).toMatchObject({
      state: 'PAIR',
      group: 'in_step',
      unhealthyReason: null,
      lagSeconds: 0,
    });
    const history = (await detailOf(pair.pairId)).history;
    expect(history.map((h) => h.to)).toEqual(['PAIR', 'PSUE', 'PAIR']);
    expect(history[1]!.reason).toContain('site unreachable');
    const other = new Client(site.site.url);
    await other.signIn('operator2');
    expect(
      (
        await other.request('POST', `/api/pairs/${claim.pairId}/heartbeat`, {
          json: {
            state: 'PAIR',
            seqSent: 0,
            pending: 0,
            pendingBytes: 0,
            oldestPendingAt: null,
            epoch: null,
            nextRotationAt: null,
          },
        })
      ).status,
    ).toBe(403);
  });

  it('stops vouching for a pair whose primary has been silent past the window, until it is heard again', async () => {
    const { claim } = await backUp(operator, site.site.info, 'ext4:quiet', randomImage(1000));
    const committedAt = clock.now().toISOString();
    expect(await pairOf('ext4:quiet')).toMatchObject({ state: 'PAIR', silentSince: null });
    clock.advance(PAIR_SILENCE_MS);
    expect((await pairOf('ext4:quiet')).silentSince).toBeNull();
    clock.advance(1_000);
    // The state stays the last one known; the summary says since when nothing was heard.
    expect(await pairOf('ext4:quiet')).toMatchObject({ state: 'PAIR', silentSince: committedAt });
    const heard = await operator.client.request('POST', `/api/pairs/${claim.pairId}/heartbeat`, {
      json: {
        state: 'PAIR',
        reason: null,
        seqSent: 3,
        pending: 0,
        pendingBytes: 0,
        oldestPendingAt: null,
        epoch: 0,
        nextRotationAt: null,
        bytesPerSecond: null,
      },
    });
    expect(heard.status).toBe(200);
    expect((await pairOf('ext4:quiet')).silentSince).toBeNull();
  });

  it('delivers an administrator suspend to the primary, which acknowledges it with the cut; resume returns to PAIR', async () => {
    const { claim } = await backUp(operator, site.site.info, 'ext4:suspend', randomImage(1000));
    const ownerStream = await openEventStream(site.site.url, operator.client.cookieHeader);
    await ownerStream.next('hello');
    const acted = await admin.request('POST', '/api/admin/pairs/actions', {
      json: { pairIds: [claim.pairId], action: 'suspend', reason },
    });
    const instruction = (acted.json as { instructions: Instruction[] }).instructions[0]!;
    expect(instruction.state).toBe('requested');
    expect(await ownerStream.next('instruction')).toMatchObject({
      pairId: claim.pairId,
      instruction: { action: 'suspend' },
    });
    ownerStream.close();
    expect((await pairOf('ext4:suspend')).instructions.map((i) => i.state)).toEqual(['requested']);

    const heard = await operator.client.request('POST', `/api/pairs/${claim.pairId}/heartbeat`, {
      json: {
        state: 'PAIR',
        seqSent: 3,
        pending: 0,
        pendingBytes: 0,
        oldestPendingAt: null,
        epoch: 0,
        nextRotationAt: null,
      },
    });
    expect((heard.json as { instructions: Instruction[] }).instructions).toMatchObject([
      { id: instruction.id, state: 'delivered' },
    ]);
    await operator.client.request(
      'POST',
      `/api/pairs/${claim.pairId}/instructions/${instruction.id}/ack`,
      { json: { cutSeq: 3 } },
    );
    let pair = await pairOf('ext4:suspend');
    expect(pair).toMatchObject({ state: 'PSUS', cutSeq: 3, instructions: [] });

    const resume = (
      (
        await admin.request('POST', '/api/admin/pairs/actions', {
          json: { pairIds: [claim.pairId], action: 'resume', reason },
        })
      ).json as { instructions: Instruction[] }
    ).instructions[0]!;
    await operator.client.request(
      'POST',
      `/api/pairs/${claim.pairId}/instructions/${resume.id}/ack`,
      { json: {} },
    );
    pair = await pairOf('ext4:suspend');
    expect(pair).toMatchObject({ state: 'PAIR', cutSeq: null });
    expect(
      (
        await admin.request('POST', '/api/admin/pairs/actions', {
          json: { pairIds: [claim.pairId], action: 'explode', reason },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await admin.request('POST', '/api/admin/pairs/actions', {
          json: { pairIds: [claim.pairId], action: 'flush', reason: '' },
        })
      ).status,
    ).toBe(400);
  });

  it('gives each pair a key rotation policy: T from the time-to-break estimate by default, set by an administrator, audited, and handed to the primary with its claim (RC-4)', async () => {
    const claimOf = async (volumeId: string) =>
      (
        await operator.client.request('POST', `/api/volumes/${enc(volumeId)}/claim`, {
          json: { resume: true },
        })
      ).json as Claim;
    const { claim } = await backUp(operator, site.site.info, 'ext4:rotation', randomImage(1000));
    const t = rotationIntervalMs(DATA_KEY_BITS, ASSUMED_GUESSES_PER_SECOND);
    // A 256-bit key outlives any estimate: the interval is the 30-day bound.
    expect(t).toBe(ROTATION_BOUNDS.maxMs);
    expect(t).toBe(30 * 24 * 3600_000);
    const byDefault = { everyBytes: DEFAULT_ROTATION.everyBytes, everyMs: t };
    expect(claim.rotation).toEqual(byDefault);
    expect((await pairOf('ext4:rotation')).rotation).toEqual({ ...byDefault, siteDefault: true });

    const set = async (body: unknown) =>
      admin.request('POST', `/api/admin/pairs/${claim.pairId}/rotation`, { json: body });
    const answer = await set({ everyMiB: 512, everyMinutes: 90, reason });
    expect(answer.status).toBe(200);
    const changed = { everyBytes: 512 * 1024 ** 2, everyMs: 90 * 60_000 };
    expect(answer.json as PairRotationResponse).toMatchObject({
      clamped: false,
      requested: changed,
      pair: { pairId: claim.pairId, rotation: { ...changed, siteDefault: false } },
    });
    expect((await detailOf(claim.pairId)).pair.rotation).toEqual({
      ...changed,
      siteDefault: false,
    });
    const mine = (await operator.client.request('GET', '/api/pairs/mine')).json as {
      pairs: PairSummary[];
    };
    expect(mine.pairs.find((p) => p.pairId === claim.pairId)!.rotation).toEqual({
      ...changed,
      siteDefault: false,
    });
    expect((await claimOf('ext4:rotation')).rotation).toEqual(changed);

    const audit = (await admin.request('GET', '/api/admin/audit?event=pair_rotation_changed'))
      .json as { entries: AuditEntry[] };
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]).toMatchObject({
      actor: 'admin',
      volumeId: 'ext4:rotation',
      details: {
        pairId: claim.pairId,
        old: { ...byDefault, siteDefault: true },
        new: changed,
        reason,
      },
    });

    // Outside the bounds: moved to the nearest bound, and the answer says so.
    const clamped = (await set({ everyMiB: 1, everyMinutes: 1e9, reason }))
      .json as PairRotationResponse;
    expect(clamped).toMatchObject({
      clamped: true,
      requested: { everyBytes: 1024 ** 2, everyMs: 1e9 * 60_000 },
      pair: {
        rotation: { everyBytes: ROTATION_BOUNDS.minBytes, everyMs: ROTATION_BOUNDS.maxMs },
      },
    });

    for (const [body, message] of [
      [{ everyMiB: 0, everyMinutes: 60, reason }, /everyMiB: give a size of at least 1 MiB/],
      [{ everyMiB: -5, everyMinutes: 60, reason }, /everyMiB: give a size of at least 1 MiB/],
      [{ everyMiB: '512', everyMinutes: 60, reason }, /everyMiB: give the size in MiB as a number/],
      [{ everyMinutes: 60, reason }, /everyMiB: give the size in MiB as a number/],
      [{ everyMiB: 1.5, everyMinutes: 60, reason }, /everyMiB: give a whole number of MiB/],
      [
        { everyMiB: 512, everyMinutes: 0, reason },
        /everyMinutes: give a time of at least 1 minute/,
      ],
      [{ everyMiB: 512, everyMinutes: 60, reason: '' }, /reason: give a reason/],
    ] as const) {
      const refused = await set(body);
      expect(refused.status).toBe(400);
      expect((refused.json as { message: string }).message).toMatch(message);
    }
    const unknown = await admin.request(
      'POST',
      '/api/admin/pairs/00000000-0000-4000-8000-000000000000/rotation',
      { json: { everyMiB: 512, everyMinutes: 60, reason } },
    );
    expect(unknown.status).toBe(404);
    // The refused requests changed nothing.
    expect((await pairOf('ext4:rotation')).rotation).toEqual({
      everyBytes: ROTATION_BOUNDS.minBytes,
      everyMs: ROTATION_BOUNDS.maxMs,
      siteDefault: false,
    });
  });

  it('takes a pair over (SSWS): the old stream is refused until a new claim makes a new primary', async () => {
    const image = randomImage(1000);
    const { claim } = await backUp(operator, site.site.info, 'ext4:takeover', image, {
      restorers: ['restorer'],
    });
    await admin.request('POST', '/api/admin/pairs/actions', {
      json: { pairIds: [claim.pairId], action: 'takeover', reason },
    });
    expect((await pairOf('ext4:takeover')).state).toBe('SSWS');
    const refused = await putTransfer(
      operator.client,
      claim.pairId,
      99,
      { kind: 'commit', volumeId: 'ext4:takeover' },
      new Uint8Array(1),
    );
    expect(refused.json).toMatchObject({ code: 'pair_taken_over' });
    const restorer = new Client(site.site.url);
    await restorer.signIn('restorer');
    expect((await restore(restorer, 'ext4:takeover')).image.length).toBe(image.length);
    await operator.client.request('POST', `/api/volumes/${enc('ext4:takeover')}/claim`, {
      json: {},
    });
    expect((await pairOf('ext4:takeover')).state).toBe('COPY');
  });
});
