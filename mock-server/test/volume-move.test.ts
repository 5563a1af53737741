import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, AuditEntry, EscrowRecord, VolumeMove } from '../../src/core/contract';
import { exportRawKey, openEnvelope, signVolumeMove, toHex } from '../../src/core/crypto';
import {
  exportEnvelopePublicKeyJwk,
  generateEnvelopeKeyPair,
} from '../../src/core/crypto/envelope-key';
import { backUp, enc, newOperator, randomImage, type Operator } from './support/backup-client';
import { Client, startTestSite, type TestSite } from './support/test-site';

const VOLUME = 'ext4:0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9';

/**
 * A volume is not hostage to one browser: the owner's new browser gets the
 * volume's chunk-ID key (never a data key) for its own registered device
 * key, audited as a move; nobody else gets it.
 */
describe('moving a volume to another browser of its owner', () => {
  let site: TestSite;
  let first: Operator;
  let admin: Client;

  beforeEach(async () => {
    site = await startTestSite();
    const client = new Client(site.site.url);
    await client.signIn('operator');
    first = await newOperator(client);
    admin = new Client(site.site.url);
    await admin.signIn('admin');
  });
  afterEach(() => site.stop());

  /** A second browser of `userId`: its own session and device key. */
  const browser = async (userId: string): Promise<Operator> => {
    const client = new Client(site.site.url);
    await client.signIn(userId);
    return newOperator(client, userId);
  };

  const ask = async (
    op: Operator,
    options: { signer?: CryptoKey; fingerprint?: string; generation?: number } = {},
  ) => {
    const pair = await generateEnvelopeKeyPair();
    const jwk = await exportEnvelopePublicKeyJwk(pair.publicKey);
    const ephemeralPublicKey = { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! } as const;
    const generation = options.generation ?? 1;
    const deviceFingerprint = options.fingerprint ?? op.fingerprint;
    const signature = await signVolumeMove(options.signer ?? op.device.privateKey, {
      volumeId: VOLUME,
      generation,
      deviceFingerprint,
      ephemeralPublicKey,
    });
    const answer = await op.client.request('POST', `/api/volumes/${enc(VOLUME)}/move`, {
      json: { generation, deviceFingerprint, ephemeralPublicKey, signature },
    });
    return { answer, pair };
  };

  const audit = async (event: string) =>
    (
      (await admin.request('GET', `/api/admin/audit?event=${event}`)).json as {
        entries: AuditEntry[];
      }
    ).entries;

  it("hands the owner's new device the chunk-ID key alone, audited as a move and counted as no restore", async () => {
    await backUp(first, site.site.info, VOLUME, randomImage(9000), {
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });
    const second = await browser('operator');
    const { answer, pair } = await ask(second);
    expect(answer.status).toBe(200);
    const move = answer.json as VolumeMove;
    const { context, keys } = await openEnvelope(
      move.envelope,
      pair.privateKey,
      { purpose: 'move', volumeId: VOLUME, generation: 1 },
      { extractable: true },
    );
    expect(context.epochs).toEqual([]);
    expect(keys.dataKeys.size).toBe(0);
    const original = first.chunkIdKeys.get(VOLUME)!;
    expect(toHex(await exportRawKey(keys.chunkIdKey))).toBe(toHex(await exportRawKey(original)));
    // A move envelope is no release: it does not open as one.
    await expect(
      openEnvelope(move.envelope, pair.privateKey, { purpose: 'release', volumeId: VOLUME }),
    ).rejects.toThrow(/purpose/);

    const moved = await audit('volume_moved');
    expect(moved).toHaveLength(1);
    expect(moved[0]).toMatchObject({
      actor: 'operator',
      volumeId: VOLUME,
      details: { device: second.fingerprint, generation: 1 },
    });
    // The one-time record is still armed: nothing was released.
    const detail = (await admin.request('GET', `/api/admin/records/${enc(VOLUME)}`)).json as {
      record: EscrowRecord;
      releases: unknown[];
    };
    expect(detail.record.state).toBe('active');
    expect(detail.releases).toEqual([]);
    expect(await audit('key_released')).toEqual([]);
  });

  it('refuses another operator, audited and alerted, and gives nothing', async () => {
    await backUp(first, site.site.info, VOLUME, randomImage(5000));
    const stranger = await browser('operator2');
    const { answer } = await ask(stranger);
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ code: 'forbidden' });
    expect(answer.text).not.toContain('envelope');
    expect(await audit('volume_move_refused')).toMatchObject([
      { actor: 'operator2', volumeId: VOLUME, details: { why: 'not the owner' } },
    ]);
    const alerts = (await admin.request('GET', '/api/admin/alerts?kind=overwrite_attempt'))
      .json as { alerts: Alert[] };
    expect(alerts.alerts.map((a) => [a.userId, a.volumeId])).toEqual([['operator2', VOLUME]]);
  });

  it('refuses a device key that is not the signer, or not registered to the owner', async () => {
    await backUp(first, site.site.info, VOLUME, randomImage(5000));
    const second = await browser('operator');
    // Signed with the first browser's key while naming the second's.
    const forged = await ask(second, { signer: first.device.privateKey });
    expect(forged.answer.status).toBe(400);
    expect(forged.answer.json).toMatchObject({ code: 'bad_signature' });
    // A device key registered to someone else.
    const other = await browser('operator2');
    const foreign = await ask(second, {
      fingerprint: other.fingerprint,
      signer: other.device.privateKey,
    });
    expect(foreign.answer.status).toBe(403);
    expect(foreign.answer.json).toMatchObject({ code: 'device_not_registered' });
    const refused = await audit('volume_move_refused');
    expect(refused.map((e) => e.details['why'])).toEqual([
      'device key not registered to the owner',
      'signature does not verify',
    ]);
    expect(await audit('volume_moved')).toEqual([]);
  });

  it('says when there is nothing to continue: no committed generation, or no such generation', async () => {
    const second = await browser('operator');
    const none = await ask(second);
    expect(none.answer.status).toBe(404);
    expect(none.answer.json).toMatchObject({ code: 'volume_not_found' });
    await backUp(first, site.site.info, VOLUME, randomImage(5000));
    const later = await ask(second, { generation: 7 });
    expect(later.answer.status).toBe(404);
    expect(later.answer.json).toMatchObject({ code: 'generation_not_found' });
  });
});
