import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import {
  BODY_SHA256_HEADER,
  CHUNK_EPOCH_HEADER,
  CIPHERTEXT_SHA256_HEADER,
  CSRF_HEADER,
} from '@/core/contract';
import { server } from '@/mocks/node';
import { ApiError } from './request';
import { headChunk, putTransfer } from './transfers';

const PAIR = '6f1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const CHUNK = 'a'.repeat(64);
const body = new Uint8Array([1, 2, 3, 4]);

describe('transfer calls (RC-2)', () => {
  it('PUTs the padded body with its SHA-256 and the CSRF header, and reads the ack', async () => {
    let seen: Request | undefined;
    let bytes: Uint8Array | undefined;
    server.use(
      http.put('*/api/pairs/:pairId/transfers/:seq', async ({ request, params }) => {
        seen = request;
        bytes = new Uint8Array(await request.arrayBuffer());
        return HttpResponse.json({
          pairId: String(params['pairId']),
          seq: Number(params['seq']),
          status: 'applied',
          seqApplied: 7,
        });
      }),
    );
    const ack = await putTransfer(PAIR, 7, body, 'f'.repeat(64));
    expect(ack).toMatchObject({ status: 'applied', seqApplied: 7 });
    expect(seen?.headers.get(BODY_SHA256_HEADER)).toBe('f'.repeat(64));
    expect(seen?.headers.get(CSRF_HEADER)).toBe('1');
    expect(seen?.headers.get('content-type')).toBe('application/octet-stream');
    expect(bytes).toEqual(body);
  });

  it('takes 202 as buffered (received, waiting for a gap to fill)', async () => {
    server.use(
      http.put('*/api/pairs/:pairId/transfers/:seq', ({ params }) =>
        HttpResponse.json(
          { pairId: String(params['pairId']), seq: 9, status: 'buffered', seqApplied: 7 },
          { status: 202 },
        ),
      ),
    );
    expect(await putTransfer(PAIR, 9, body, 'f'.repeat(64))).toMatchObject({ status: 'buffered' });
  });

  it('retries a 5xx and a dropped connection, then succeeds', async () => {
    let calls = 0;
    server.use(
      http.put('*/api/pairs/:pairId/transfers/:seq', () => {
        calls += 1;
        if (calls === 1) return HttpResponse.error();
        if (calls === 2) return new HttpResponse(null, { status: 503 });
        return HttpResponse.json({ pairId: PAIR, seq: 1, status: 'duplicate', seqApplied: 1 });
      }),
    );
    expect(await putTransfer(PAIR, 1, body, 'f'.repeat(64))).toMatchObject({
      status: 'duplicate',
    });
    expect(calls).toBe(3);
  });

  it('gives up on an unreachable site with network_error, and passes a refusal on as it is', async () => {
    server.use(http.put('*/api/pairs/:pairId/transfers/:seq', () => HttpResponse.error()));
    await expect(putTransfer(PAIR, 1, body, 'f'.repeat(64))).rejects.toMatchObject({
      code: 'network_error',
    });
    server.use(
      http.put('*/api/pairs/:pairId/transfers/:seq', () =>
        HttpResponse.json(
          { code: 'sequence_conflict', message: 'Transfer 1 was already applied.' },
          { status: 409 },
        ),
      ),
    );
    const error = await putTransfer(PAIR, 1, body, 'f'.repeat(64)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'sequence_conflict', status: 409 });
  }, 20_000);

  it('HEAD says whether the site holds a chunk, and which blob', async () => {
    server.use(
      http.head('*/api/volumes/:volumeId/chunks/:chunkId', ({ params }) =>
        params['chunkId'] === CHUNK
          ? new HttpResponse(null, {
              status: 200,
              headers: { [CIPHERTEXT_SHA256_HEADER]: 'b'.repeat(64), [CHUNK_EPOCH_HEADER]: '3' },
            })
          : new HttpResponse(null, { status: 404 }),
      ),
    );
    expect(await headChunk('ext4:x', CHUNK)).toEqual({
      present: true,
      ciphertextSha256: 'b'.repeat(64),
      epoch: 3,
    });
    expect(await headChunk('ext4:x', 'c'.repeat(64))).toEqual({ present: false });
  });
});
