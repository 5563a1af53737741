import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, KeyRelease, RestorableVolume, TransferAck } from '../../src/core/contract';
import { CHUNK_SIZE } from '../../src/core/crypto/constants';
import { verifyReceipt } from '../../src/core/crypto/receipt';
import {
  backUp,
  enc,
  newOperator,
  putTransfer,
  randomImage,
  requestRelease,
  restore,
  type Operator,
} from './support/backup-client';
import { Client, startTestSite, type TestSite } from './support/test-site';

const VOLUME = 'ext4:0b3f6c9e-1d2a-4c5b-9e8f-7a6b5c4d3e2f';

describe('backing up and releasing keys (BK-3, BK-8, BK-10, RS-2, RS-3)', () => {
  let site: TestSite;
  let operator: Operator;
  let admin: Client;

  beforeEach(async () => {
    site = await startTestSite();
    const client = new Client(site.site.url);
    await client.signIn('operator');
    operator = await newOperator(client);
    admin = new Client(site.site.url);
    await admin.signIn('admin');
  });
  afterEach(() => site.stop());

  const signedIn = async (userId: string, address?: string) => {
    const c = new Client(site.site.url, address);
    await c.signIn(userId);
    return c;
  };
  const alerts = async (kind: string) =>
    ((await admin.request('GET', `/api/admin/alerts?kind=${kind}`)).json as { alerts: Alert[] })
      .alerts;

  it('backs up a multi-chunk image, verifies the receipt, and a registered restorer restores it byte for byte', async () => {
    const image = randomImage(2 * CHUNK_SIZE + 12345);
    const { receipt, sentChunks } = await backUp(operator, site.site.info, VOLUME, image, {
      restorers: ['restorer'],
    });
    expect(sentChunks).toBe(3);
    const signingKey = await globalThis.crypto.subtle.importKey(
      'jwk',
      site.site.info.signingKey.jwk,
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['verify'],
    );
    const statement = await verifyReceipt(receipt, signingKey, { volumeId: VOLUME, generation: 1 });
    expect(statement.owner).toBe('operator');
    expect(statement.deviceKeyFingerprint).toBe(operator.fingerprint);
    expect(statement.auditChainHead).toMatch(/^[0-9a-f]{64}$/);

    const restorer = await signedIn('restorer');
    const list = (
      (await restorer.request('GET', '/api/restorable')).json as { volumes: RestorableVolume[] }
    ).volumes;
    expect(list).toMatchObject([
      {
        volumeId: VOLUME,
        owner: 'operator',
        unavailable: null,
        generations: [{ generation: 1, size: image.length, chunks: 3 }],
      },
    ]);
    const { image: restored } = await restore(restorer, VOLUME);
    expect(Buffer.compare(Buffer.from(restored), Buffer.from(image))).toBe(0);
    // The owner may always restore (seed 004 E8).
    expect((await restore(operator.client, VOLUME)).image.length).toBe(image.length);
  });

  it('refuses an unregistered user with "unauthorized use" and an alert, whatever the state, and serves them nothing', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(1000), {
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });
    const outsider = await signedIn('outsider', '127.0.0.7');
    const { answer } = await requestRelease(outsider, VOLUME, 1);
    expect(answer.status).toBe(403);
    expect((answer.json as { message: string }).message).toContain('unauthorized use');
    expect(
      (await outsider.request('GET', `/api/volumes/${enc(VOLUME)}/generations/1/manifest`)).status,
    ).toBe(403);
    const found = await alerts('unauthorized_restorer');
    expect(found[0]).toMatchObject({
      userId: 'outsider',
      volumeId: VOLUME,
      clientAddress: '127.0.0.7',
    });
    expect(
      ((await outsider.request('GET', '/api/restorable')).json as { volumes: unknown[] }).volumes,
    ).toEqual([]);
    // Still unauthorized after the record is burned: registration is checked first.
    await restore(await signedIn('restorer'), VOLUME);
    const again = await requestRelease(outsider, VOLUME, 1);
    expect((again.answer.json as { code: string }).code).toBe('unauthorized_use');
  });

  it('burns a one-time record: the second restore gets "may already have been decrypted" and an alert', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(5000), {
      restorers: ['restorer', 'restorer2'],
      policy: { kind: 'one-time' },
    });
    const restorer = await signedIn('restorer');
    await restore(restorer, VOLUME);
    const second = await requestRelease(await signedIn('restorer2'), VOLUME, 1);
    expect(second.answer.status).toBe(404);
    expect((second.answer.json as { message: string }).message).toContain(
      'may already have been decrypted',
    );
    expect((await alerts('key_not_found'))[0]).toMatchObject({
      userId: 'restorer2',
      volumeId: VOLUME,
    });
    const row = (
      (await restorer.request('GET', '/api/restorable')).json as { volumes: RestorableVolume[] }
    ).volumes[0];
    expect(row?.unavailable).toBe('burned');
  });

  it('releases a one-time record exactly once to 20 parallel requests', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(5000), {
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });
    const restorer = await signedIn('restorer');
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => requestRelease(restorer, VOLUME, 1)),
    );
    expect(answers.filter((a) => a.answer.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.answer.status === 404)).toHaveLength(19);
  });

  it('gives a lost answer again to the same user with the same request ID, and nothing to anyone else', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(5000), {
      restorers: ['restorer', 'restorer2'],
      policy: { kind: 'one-time' },
    });
    const restorer = await signedIn('restorer');
    const first = await requestRelease(restorer, VOLUME, 1);
    const again = await restorer.request(
      'GET',
      `/api/volumes/${enc(VOLUME)}/key-release/${first.requestId}`,
    );
    expect((again.json as KeyRelease).state).toBe('released');
    expect((again.json as { envelope: string }).envelope).toBe(
      (first.answer.json as { envelope: string }).envelope,
    );
    const replayAsPost = await requestRelease(restorer, VOLUME, 1, first.requestId);
    expect(replayAsPost.answer.status).toBe(200);

    const thief = await signedIn('restorer2');
    expect(
      (await thief.request('GET', `/api/volumes/${enc(VOLUME)}/key-release/${first.requestId}`))
        .status,
    ).toBe(404);
    expect((await requestRelease(thief, VOLUME, 1, first.requestId)).answer.status).toBe(404);
    expect((await alerts('replayed_request')).length).toBe(2);
  });

  it('releases once per restorer under that policy', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(5000), {
      restorers: ['restorer', 'restorer2'],
      policy: { kind: 'once-per-restorer' },
    });
    const restorer = await signedIn('restorer');
    await restore(restorer, VOLUME);
    expect((await requestRelease(restorer, VOLUME, 1)).answer.status).toBe(404);
    await restore(await signedIn('restorer2'), VOLUME);
  });

  it('refuses another operator with "registered to another operator" and an overwrite alert', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(5000));
    const other = await signedIn('operator2', '127.0.0.9');
    const owner = await other.request('GET', `/api/volumes/${enc(VOLUME)}/owner`);
    expect(owner.json).toEqual({
      volumeId: VOLUME,
      state: 'registered',
      owner: 'operator',
      mine: false,
    });
    const claim = await other.request('POST', `/api/volumes/${enc(VOLUME)}/claim`, { json: {} });
    expect(claim.status).toBe(409);
    expect((claim.json as { message: string }).message).toContain('registered to another operator');
    expect((await alerts('overwrite_attempt'))[0]).toMatchObject({
      userId: 'operator2',
      volumeId: VOLUME,
      clientAddress: '127.0.0.9',
    });
  });

  it('lets only one of two racing operators claim a new volume', async () => {
    const other = await newOperator(await signedIn('operator2'), 'operator2');
    const [a, b] = await Promise.all([
      operator.client.request('POST', `/api/volumes/${enc(VOLUME)}/claim`, { json: {} }),
      other.client.request('POST', `/api/volumes/${enc(VOLUME)}/claim`, { json: {} }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
  });

  it('sends only changed chunks in a second generation, which names the first', async () => {
    const image = randomImage(3 * CHUNK_SIZE, 7);
    const first = await backUp(operator, site.site.info, VOLUME, image, {
      restorers: ['restorer'],
    });
    const changed = image.slice();
    changed[CHUNK_SIZE + 10] = (changed[CHUNK_SIZE + 10]! + 1) & 0xff;
    const second = await backUp(operator, site.site.info, VOLUME, changed, {
      restorers: ['restorer'],
    });
    expect(first.sentChunks).toBe(3);
    expect(second.sentChunks).toBe(1);
    expect(second.claim.nextGeneration).toBe(2);
    expect(second.claim.previousManifestHash).toBe(first.receipt.statement.manifestHash);
    const restorer = await signedIn('restorer');
    expect(
      Buffer.compare(Buffer.from((await restore(restorer, VOLUME, 2)).image), Buffer.from(changed)),
    ).toBe(0);
    expect(
      Buffer.compare(Buffer.from((await restore(restorer, VOLUME, 1)).image), Buffer.from(image)),
    ).toBe(0);
  });

  it('applies transfers in sequence order when they arrive out of order', async () => {
    const image = randomImage(3 * CHUNK_SIZE + 1, 3);
    const result = await backUp(operator, site.site.info, VOLUME, image, {
      restorers: ['restorer'],
      deliveryOrder: (n) => Array.from({ length: n }, (_, i) => n - 1 - i), // commit first, key last
    });
    expect(result.acks.slice(0, -1).every((a) => a.status === 'buffered')).toBe(true);
    expect(result.acks.at(-1)).toMatchObject({ status: 'applied', seqApplied: 6 });
    expect((await restore(await signedIn('restorer'), VOLUME)).image.length).toBe(image.length);
  });

  it('keeps every committed record across a restart', async () => {
    const image = randomImage(CHUNK_SIZE + 99, 5);
    await backUp(operator, site.site.info, VOLUME, image, { restorers: ['restorer'] });
    site = await site.restart();
    const restorer = new Client(site.site.url);
    await restorer.signIn('restorer');
    expect(
      Buffer.compare(Buffer.from((await restore(restorer, VOLUME)).image), Buffer.from(image)),
    ).toBe(0);
  });
});

describe('transfers: bad input (RC-2)', () => {
  let site: TestSite;
  let operator: Operator;
  beforeEach(async () => {
    site = await startTestSite();
    const client = new Client(site.site.url);
    await client.signIn('operator');
    operator = await newOperator(client);
  });
  afterEach(() => site.stop());

  const claim = async () =>
    (await operator.client.request('POST', `/api/volumes/${enc(VOLUME)}/claim`, { json: {} }))
      .json as { pairId: string };

  it('is idempotent per (pair, seq) and refuses other content under a used seq', async () => {
    const { pairId } = await claim();
    const blob = new Uint8Array(100);
    blob.set([0x43, 0x53, 0x54, 0x43, 1]);
    const chunkId = 'a'.repeat(64);
    const first = await putTransfer(
      operator.client,
      pairId,
      1,
      { kind: 'chunk', volumeId: VOLUME, chunkId },
      blob,
    );
    expect((first.json as TransferAck).status).toBe('applied');
    const again = await putTransfer(
      operator.client,
      pairId,
      1,
      { kind: 'chunk', volumeId: VOLUME, chunkId },
      blob,
    );
    expect((again.json as TransferAck).status).toBe('duplicate');
    const other = await putTransfer(
      operator.client,
      pairId,
      1,
      { kind: 'chunk', volumeId: VOLUME, chunkId: 'b'.repeat(64) },
      blob,
    );
    expect(other.status).toBe(409);
    expect(other.json).toMatchObject({ code: 'sequence_conflict' });
  });

  it('refuses a body whose SHA-256 does not match, a wrong size, and garbage', async () => {
    const { pairId } = await claim();
    const wrongHash = await operator.client.request('PUT', `/api/pairs/${pairId}/transfers/1`, {
      raw: Buffer.alloc(CHUNK_SIZE + 16 * 1024),
      headers: {
        'content-type': 'application/octet-stream',
        'x-custodian-body-sha256': '0'.repeat(64),
      },
    });
    expect(wrongHash.json).toMatchObject({ code: 'body_hash_mismatch' });
    const short = await operator.client.request('PUT', `/api/pairs/${pairId}/transfers/1`, {
      raw: Buffer.alloc(10),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(short.json).toMatchObject({ code: 'malformed_transfer' });
    const oversized = await operator.client.request('PUT', `/api/pairs/${pairId}/transfers/1`, {
      raw: Buffer.alloc(CHUNK_SIZE + 17 * 1024),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(oversized.status).toBe(413);
    const { createHash } = await import('node:crypto');
    const garbage = Buffer.alloc(CHUNK_SIZE + 16 * 1024, 0xff);
    const answer = await operator.client.request('PUT', `/api/pairs/${pairId}/transfers/1`, {
      raw: garbage,
      headers: {
        'content-type': 'application/octet-stream',
        'x-custodian-body-sha256': createHash('sha256').update(garbage).digest('hex'),
      },
    });
    expect(answer.json).toMatchObject({ code: 'malformed_transfer' });
  });

  it("refuses another operator's transfer into a pair", async () => {
    const { pairId } = await claim();
    const other = new Client(site.site.url);
    await other.signIn('operator2');
    const answer = await putTransfer(
      other,
      pairId,
      1,
      { kind: 'commit', volumeId: VOLUME },
      new Uint8Array(2),
    );
    expect(answer.status).toBe(409);
    expect(answer.json).toMatchObject({ code: 'registered_to_another_operator' });
  });

  it('refuses a commit whose chunks are missing, listing them, and one signed by an unregistered key', async () => {
    const image = randomImage(2 * CHUNK_SIZE, 11);
    // A stranger device key, never registered: same flow, other signer.
    const stranger = {
      ...operator,
      device: await (await import('../../src/core/crypto/device-key')).generateDeviceKeyPair(),
    };
    const unregistered = {
      ...stranger,
      fingerprint: await (
        await import('../../src/core/crypto/device-key')
      ).publicKeyFingerprint(stranger.device.publicKey),
    };
    await expect(backUp(unregistered, site.site.info, VOLUME, image)).rejects.toMatchObject({
      answer: { json: { code: 'unknown_device_key' } },
    });
    // A commit whose manifest lists a chunk that was never sent.
    const missing = await backUp(
      operator,
      site.site.info,
      'iso9660:OTHER:2026-01-01-00-00-00-00',
      image,
      { omitChunk: 1 },
    ).catch(
      (error: {
        answer: {
          status: number;
          json: { code: string; details: { missing: { index: number }[] } };
        };
      }) => error.answer,
    );
    expect(missing).toMatchObject({
      status: 409,
      json: { code: 'chunks_missing', details: { missing: [{ index: 1 }] } },
    });
  });
});
