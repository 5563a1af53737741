import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, Claim, KeyRelease, TransferAck } from '@/core/contract';
import { sha256Hex, utf8 } from '@/core/crypto/bytes';
import { canonicalJson, type JsonValue } from '@/core/crypto/canonical-json';
import { sealChunk } from '@/core/crypto/chunk';
import { generateDeviceKeyPair, publicKeyFingerprint } from '@/core/crypto/device-key';
import { sealEnvelope } from '@/core/crypto/envelope';
import { exportEnvelopePublicKeyJwk, generateEnvelopeKeyPair } from '@/core/crypto/envelope-key';
import { generateChunkIdKey, generateDataKey } from '@/core/crypto/keys';
import { buildManifest, signManifest } from '@/core/crypto/manifest';
import { encodeTransfer } from '@/core/transfer/frame';
import { createBrowserSite } from './browser-site';

const BASE = 'http://localhost';
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

/** A caller of the in-page site with its own session cookie, as one browser tab. */
function tab() {
  let cookie = '';
  const call = async (method: string, path: string, body?: unknown, binary?: Uint8Array) => {
    const headers: Record<string, string> = { cookie, 'x-custodian-csrf': '1' };
    let payload: BodyInit | undefined;
    if (binary) {
      headers['content-type'] = 'application/octet-stream';
      headers['x-custodian-body-sha256'] = await sha256Hex(binary);
      payload = binary.slice().buffer;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const response = await fetch(`${BASE}${path}`, { method, headers, body: payload });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) cookie = setCookie.split(';')[0]!;
    const text = await response.text();
    return { status: response.status, json: (text ? JSON.parse(text) : undefined) as unknown };
  };
  return {
    call,
    signIn: (userId: string, password = `custodian-${userId}`) =>
      call('POST', '/api/auth/login', { userId, password }),
  };
}

describe("the site's own rules in the page (MSW on in-memory repositories, SPEC §5)", () => {
  it('signs in with the real identity rules: "unauthorized user" for a wrong password', async () => {
    const { handlers } = await createBrowserSite();
    server.use(...handlers);
    const wrong = await tab().signIn('operator', 'not-the-password');
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({
      code: 'unauthorized_user',
      message: expect.stringContaining('unauthorized user'),
    });
    const right = tab();
    expect((await right.signIn('operator')).json).toMatchObject({
      userId: 'operator',
      roles: ['operator'],
    });
    expect((await right.call('GET', '/api/admin/users')).status).toBe(403);
  });

  it('backs up through the transfer stream, releases keys to a registered restorer and refuses an outsider with an alert', async () => {
    const { handlers, site } = await createBrowserSite();
    server.use(...handlers);
    const operator = tab();
    await operator.signIn('operator');
    const device = await generateDeviceKeyPair();
    const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', device.publicKey);
    expect(
      (await operator.call('POST', '/api/devices', { publicKey: { kty, crv, x, y } })).status,
    ).toBe(200);

    const volumeId = 'iso9660:DEMO:2026-11-21-13-30-00-00';
    const claim = (
      await operator.call('POST', `/api/volumes/${encodeURIComponent(volumeId)}/claim`, {})
    ).json as Claim;
    const chunkIdKey = await generateChunkIdKey({ extractable: true });
    const dataKey = await generateDataKey({ extractable: true });
    const image = crypto.getRandomValues(new Uint8Array(50_000));
    const chunk = await sealChunk(image, { volumeId, epoch: 0, chunkIdKey, dataKey });
    const envelope = await sealEnvelope(
      { volumeId, chunkIdKey, dataKeys: new Map([[0, dataKey]]) },
      site.info.escrowKey.jwk,
      { purpose: 'escrow' },
    );
    const manifest = await signManifest(
      await buildManifest(
        {
          volumeId,
          generation: 1,
          previousManifestHash: null,
          chunks: [
            {
              chunkId: chunk.chunkId,
              ciphertextSha256: chunk.ciphertextSha256,
              length: chunk.length,
              epoch: 0,
            },
          ],
          deviceKeyFingerprint: await publicKeyFingerprint(device.publicKey),
        },
        { imageSha256: await sha256Hex(image), fileName: 'demo.iso', size: image.length },
        { dataKey, epoch: 0 },
      ),
      device.privateKey,
    );
    const transfers = [
      encodeTransfer({ kind: 'epoch-key', volumeId, epoch: 0 }, utf8(envelope)),
      encodeTransfer({ kind: 'chunk', volumeId, chunkId: chunk.chunkId }, chunk.blob),
      encodeTransfer(
        { kind: 'commit', volumeId },
        canonicalJson({
          manifest,
          restorers: ['operator', 'restorer'],
          policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
        } as unknown as JsonValue),
      ),
    ];
    let ack: TransferAck | undefined;
    for (const [i, body] of transfers.entries()) {
      const answer = await operator.call(
        'PUT',
        `/api/pairs/${claim.pairId}/transfers/${i + 1}`,
        undefined,
        body,
      );
      expect(answer.status).toBe(200);
      ack = answer.json as TransferAck;
    }
    expect(ack?.receipt?.statement).toMatchObject({ volumeId, generation: 1, owner: 'operator' });

    const ephemeral = await exportEnvelopePublicKeyJwk((await generateEnvelopeKeyPair()).publicKey);
    const release = (who: ReturnType<typeof tab>, requestId: string) =>
      who.call('POST', `/api/volumes/${encodeURIComponent(volumeId)}/key-release`, {
        requestId,
        generation: 1,
        ephemeralPublicKey: ephemeral,
      });
    const restorer = tab();
    await restorer.signIn('restorer');
    expect(((await release(restorer, 'request-restorer-0001')).json as KeyRelease).state).toBe(
      'released',
    );
    const outsider = tab();
    await outsider.signIn('outsider');
    const refused = await release(outsider, 'request-outsider-0001');
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ message: expect.stringContaining('unauthorized use') });
    const admin = tab();
    await admin.signIn('admin');
    const alerts = (
      (await admin.call('GET', '/api/admin/alerts?kind=unauthorized_restorer')).json as {
        alerts: Alert[];
      }
    ).alerts;
    expect(alerts.map((a) => a.userId)).toEqual(['outsider']);
  });
});
