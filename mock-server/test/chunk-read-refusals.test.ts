import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, AuditEntry, GenerationManifest } from '../../src/core/contract';
import { backUp, enc, newOperator, randomImage, type Operator } from './support/backup-client';
import { Client, startTestSite, type HttpAnswer, type TestSite } from './support/test-site';

const VOLUME = 'ext4:6f1c2a9e-0d4b-4c1e-9a57-3b2d8e4f1a60';
const UNKNOWN = 'ext4:00000000-1111-2222-3333-444444444444';
const CLAIMED = 'vfat:CLAIMED:0A0B-0C0D';

/** An answer with the volume ID it names replaced, to compare two answers byte for byte. */
function shapeOf(answer: HttpAnswer, volumeId: string) {
  return {
    status: answer.status,
    contentType: answer.headers['content-type'],
    body: answer.text.split(JSON.stringify(volumeId).slice(1, -1)).join('<volume>'),
  };
}

describe('chunk reads answer alike for unknown and forbidden volumes (RS-4, AL-4)', () => {
  let site: TestSite;
  let operator: Operator;
  let admin: Client;
  let chunkId: string;

  const signedIn = async (userId: string) => {
    const client = new Client(site.site.url);
    await client.signIn(userId);
    return client;
  };
  const readChunk = (client: Client, volumeId: string) =>
    client.request('GET', `/api/volumes/${enc(volumeId)}/chunks/${chunkId}`);

  beforeEach(async () => {
    site = await startTestSite();
    operator = await newOperator(await signedIn('operator'));
    admin = await signedIn('admin');
    await backUp(operator, site.site.info, VOLUME, randomImage(3000), {
      restorers: ['restorer'],
    });
    const manifest = (
      await operator.client.request('GET', `/api/volumes/${enc(VOLUME)}/generations/1/manifest`)
    ).json as GenerationManifest;
    chunkId = manifest.manifest.index.chunks[0]!.chunkId;
  });
  afterEach(() => site.stop());

  it('gives an outsider and another operator the unknown-volume answer, and audits and alerts it', async () => {
    for (const userId of ['outsider', 'operator2']) {
      const client = await signedIn(userId);
      const forbidden = await readChunk(client, VOLUME);
      const unknown = await readChunk(client, UNKNOWN);
      expect(unknown.status).toBe(404);
      expect(unknown.json).toMatchObject({ code: 'volume_not_found', message: expect.any(String) });
      expect(shapeOf(forbidden, VOLUME)).toEqual(shapeOf(unknown, UNKNOWN));
    }

    const audit = (
      (await admin.request('GET', `/api/admin/audit?event=restore_refused`)).json as {
        entries: AuditEntry[];
      }
    ).entries;
    expect(audit.map((e) => [e.actor, e.volumeId, e.details])).toEqual(
      expect.arrayContaining([
        ['outsider', VOLUME, { reason: 'not_registered', action: 'read_chunk' }],
        ['operator2', VOLUME, { reason: 'not_registered', action: 'read_chunk' }],
      ]),
    );
    expect(audit.some((e) => e.volumeId === UNKNOWN)).toBe(false);
    const alerts = (
      (await admin.request('GET', '/api/admin/alerts?kind=unauthorized_restorer')).json as {
        alerts: Alert[];
      }
    ).alerts;
    expect(alerts.map((a) => [a.userId, a.volumeId]).sort()).toEqual([
      ['operator2', VOLUME],
      ['outsider', VOLUME],
    ]);
  });

  it('answers alike for a volume only claimed by another operator, and audits that too', async () => {
    const claim = await operator.client.request('POST', `/api/volumes/${enc(CLAIMED)}/claim`, {
      json: { resume: false },
    });
    expect(claim.status).toBe(200);
    const other = await signedIn('operator2');
    expect(shapeOf(await readChunk(other, CLAIMED), CLAIMED)).toEqual(
      shapeOf(await readChunk(other, UNKNOWN), UNKNOWN),
    );
    const audit = (
      (await admin.request('GET', `/api/admin/audit?volume=${enc(CLAIMED)}`)).json as {
        entries: AuditEntry[];
      }
    ).entries;
    expect(audit.map((e) => [e.event, e.actor])).toContainEqual(['restore_refused', 'operator2']);
  });

  it('still serves the owner, a registered restorer and an administrator', async () => {
    for (const client of [operator.client, await signedIn('restorer'), admin]) {
      const answer = await readChunk(client, VOLUME);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/octet-stream');
    }
  });
});
