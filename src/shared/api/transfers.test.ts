import { beforeEach, describe, expect, it } from 'vitest';
import {
  BODY_SHA256_HEADER,
  CSRF_HEADER,
  type Claim,
  type GenerationManifest,
} from '@/core/contract';
import { generateChunkIdKey, generateDataKey, sealEnvelope, sha256Hex, utf8 } from '@/core/crypto';
import { encodeTransfer } from '@/core/transfer/frame';
import { testSite, type TestSite } from '@/testing/site';
import { ApiError } from './request';
import { headChunk, putTransfer } from './transfers';

const VOLUME = 'ext4:6f1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

let site: TestSite;

/** The operator's pair of VOLUME, claimed at the site; this page is signed in as the operator. */
async function claimed(): Promise<Claim> {
  const client = await site.browser('operator');
  const answer = await client.request('POST', `/api/volumes/${encodeURIComponent(VOLUME)}/claim`, {
    json: { resume: false },
  });
  if (answer.status !== 200) throw new Error(`claim refused: ${answer.text}`);
  await site.signIn('operator');
  return answer.json as Claim;
}

/** A padded transfer announcing the key of an epoch, sealed to the site's escrow key. */
async function epochKey(epoch: number): Promise<{ body: Uint8Array<ArrayBuffer>; sha256: string }> {
  const envelope = await sealEnvelope(
    {
      volumeId: VOLUME,
      chunkIdKey: await generateChunkIdKey({ extractable: true }),
      dataKeys: new Map([[epoch, await generateDataKey({ extractable: true })]]),
    },
    site.site.info.escrowKey.jwk,
    { purpose: 'escrow' },
  );
  const body = encodeTransfer({ kind: 'epoch-key', volumeId: VOLUME, epoch }, utf8(envelope));
  return { body, sha256: await sha256Hex(body) };
}

beforeEach(async () => {
  site = await testSite();
});

describe('transfer calls (RC-2)', () => {
  it('PUTs the padded body with its SHA-256 and the CSRF header, and reads the ack', async () => {
    const claim = await claimed();
    const seq = claim.seqApplied + 1;
    const { body, sha256 } = await epochKey(0);
    let seen: Request | undefined;
    let bytes: Promise<ArrayBuffer> | undefined;
    site.outage((request) => {
      if (request.method === 'PUT') {
        seen = request;
        bytes = request.clone().arrayBuffer();
      }
      return false;
    });
    const ack = await putTransfer(claim.pairId, seq, body, sha256);
    expect(ack).toMatchObject({ status: 'applied', seqApplied: seq });
    expect(seen?.headers.get(BODY_SHA256_HEADER)).toBe(sha256);
    expect(seen?.headers.get(CSRF_HEADER)).toBe('1');
    expect(seen?.headers.get('content-type')).toBe('application/octet-stream');
    // The bytes sent are the body (compared by hash: 4 MiB element by element is slow).
    const sent = new Uint8Array(await bytes!);
    expect(sent.length).toBe(body.length);
    expect(await sha256Hex(sent)).toBe(sha256);
    // The same transfer again is a duplicate, not a second key.
    expect(await putTransfer(claim.pairId, seq, body, sha256)).toMatchObject({
      status: 'duplicate',
      seqApplied: seq,
    });
  });

  it('takes 202 as buffered (received, waiting for a gap to fill)', async () => {
    const claim = await claimed();
    const { body, sha256 } = await epochKey(1);
    // The transfer after the next one arrives first: the site keeps it until the gap fills.
    expect(await putTransfer(claim.pairId, claim.seqApplied + 2, body, sha256)).toMatchObject({
      status: 'buffered',
      seqApplied: claim.seqApplied,
    });
  });

  it('retries a 5xx and a dropped connection, then succeeds', async () => {
    const claim = await claimed();
    const { body, sha256 } = await epochKey(0);
    let calls = 0;
    site.outage((request) => {
      if (request.method !== 'PUT') return false;
      calls += 1;
      if (calls === 1) return true;
      if (calls === 2) return new Response(null, { status: 503 });
      return false;
    });
    expect(await putTransfer(claim.pairId, claim.seqApplied + 1, body, sha256)).toMatchObject({
      status: 'applied',
    });
    expect(calls).toBe(3);
  });

  it('gives up on an unreachable site with network_error, and passes a refusal on as it is', async () => {
    const claim = await claimed();
    const seq = claim.seqApplied + 1;
    const first = await epochKey(0);
    site.outage(() => true);
    await expect(putTransfer(claim.pairId, seq, first.body, first.sha256)).rejects.toMatchObject({
      code: 'network_error',
    });
    site.outage(undefined);
    await putTransfer(claim.pairId, seq, first.body, first.sha256);
    // Other content under a sequence number the site has applied.
    const other = await epochKey(5);
    const error = await putTransfer(claim.pairId, seq, other.body, other.sha256).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'sequence_conflict', status: 409 });
  }, 20_000);

  it('HEAD says whether the site holds a chunk, and which blob', async () => {
    await site.backUp('operator', VOLUME);
    await site.signIn('operator');
    const client = await site.browser('operator');
    const { manifest } = (
      await client.request(
        'GET',
        `/api/volumes/${encodeURIComponent(VOLUME)}/generations/1/manifest`,
      )
    ).json as GenerationManifest;
    const [stored] = manifest.index.chunks;
    expect(await headChunk(VOLUME, stored!.chunkId)).toEqual({
      present: true,
      ciphertextSha256: stored!.ciphertextSha256,
      epoch: stored!.epoch,
    });
    expect(await headChunk(VOLUME, 'c'.repeat(64))).toEqual({ present: false });
  });
});
