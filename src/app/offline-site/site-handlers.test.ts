import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Alert, Claim, KeyRelease, SiteInfo, TransferAck } from '@/core/contract';
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
import { siteRepositories } from '@/testing/site-repositories';
import { credentialFor, TEST_SITE_ID } from '../../../mock-server/test/support/credentials';

const BASE = 'http://localhost';
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

/** A new site with the test sites' ID, whose demo accounts' credentials the tests have derived. */
async function cachedSite() {
  return {
    repositories: await siteRepositories(),
    siteId: TEST_SITE_ID,
    deriveCredential: credentialFor,
  };
}

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
    /** As the console signs in: the site's ID, then the password's credential for it (MS-2). */
    signIn: async (userId: string, password = `custodian-${userId}`) => {
      const { siteId } = (await call('GET', '/api/site')).json as SiteInfo;
      return call('POST', '/api/auth/login', {
        userId,
        credential: await credentialFor(password, siteId),
      });
    },
  };
}

describe("the site's own rules in the page (MSW on the site's repositories in memory, SPEC §5)", () => {
  it('signs in with the real identity rules: "unauthorized user" for a wrong password', async () => {
    // A site of its own ID, its demo accounts derived as in the offline demo.
    const { handlers } = await createBrowserSite({ repositories: await siteRepositories() });
    server.use(...handlers);
    const withPassword = await tab().call('POST', '/api/auth/login', {
      userId: 'operator',
      password: 'custodian-operator',
    });
    expect(withPassword).toMatchObject({ status: 400, json: { code: 'invalid_request' } });
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
    const { handlers, site } = await createBrowserSite(await cachedSite());
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

  it('streams events (AL-2) to a signed-in tab only, each hearing what its user may see', async () => {
    const { handlers, site } = await createBrowserSite(await cachedSite());
    server.use(...handlers);
    const refused = await fetch(`${BASE}/api/events`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'not_signed_in' });

    const open = async (userId: string) => {
      const { token } = await site.identity.signIn(
        userId,
        await credentialFor(`custodian-${userId}`, site.info.siteId),
        '127.0.0.1',
      );
      const tab = new AbortController();
      const response = await fetch(`${BASE}/api/events`, {
        headers: { cookie: `custodian_session=${token}` },
        signal: tab.signal,
      });
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      return {
        /** The next event's type and data, as framed on the wire. */
        async next(): Promise<{ type: string; data: Record<string, unknown> }> {
          while (!buffer.includes('\n\n')) buffer += (await reader.read()).value ?? '';
          const end = buffer.indexOf('\n\n');
          const [event, data] = buffer.slice(0, end).split('\n');
          buffer = buffer.slice(end + 2);
          return {
            type: event!.replace('event: ', ''),
            data: JSON.parse(data!.replace('data: ', '')) as Record<string, unknown>,
          };
        },
        /** The tab goes away (an EventSource's close aborts its request). */
        close: () => tab.abort(),
      };
    };
    const operator = await open('operator');
    const admin = await open('admin');
    expect(await operator.next()).toMatchObject({ type: 'hello', data: { userId: 'operator' } });
    expect(await admin.next()).toMatchObject({ type: 'hello', data: { userId: 'admin' } });
    expect(site.events.size).toBe(2);

    // An alert is for administrators; a pair's instruction is for its owner (and admins).
    await site.alerts.raise({
      kind: 'unknown_user',
      userId: 'ghost',
      volumeId: null,
      clientAddress: '10.0.0.9',
      sentence: 'Sign-in attempt for unknown user "ghost" from 10.0.0.9.',
      message: { code: 'unknown_user', params: { userId: 'ghost', clientAddress: '10.0.0.9' } },
    });
    const instruction = {
      type: 'instruction',
      pairId: '11111111-1111-4111-8111-111111111111',
      volumeId: 'ext4:demo',
      instruction: {
        id: '22222222-2222-4222-8222-222222222222',
        action: 'suspend',
        requestedBy: 'admin',
        requestedAt: '2026-11-21T08:00:00.000Z',
        reason: 'maintenance',
        state: 'requested',
        acknowledgedAt: null,
      },
    } as const;
    site.events.publish(instruction, { kind: 'user', userId: 'operator' });
    expect(await admin.next()).toMatchObject({
      type: 'alert',
      data: { alert: { userId: 'ghost' } },
    });
    expect(await admin.next()).toMatchObject({ type: 'instruction' });
    // The operator never hears the alert: the instruction is the next thing on their stream.
    expect(await operator.next()).toMatchObject({ type: 'instruction', data: instruction });

    operator.close();
    admin.close();
    await vi.waitFor(() => expect(site.events.size).toBe(0));
  });
});
