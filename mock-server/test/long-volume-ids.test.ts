import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry, KeyRelease, RecordDetail } from '../../src/core/contract';
import { utf8 } from '../../src/core/crypto/bytes';
import {
  backUp,
  enc,
  newOperator,
  randomImage,
  requestRelease,
  restore,
  type Operator,
} from './support/backup-client';
import { Client, startTestSite, type TestSite } from './support/test-site';

// docs/FORMAT.md §1: a volume ID is 1 to 1024 bytes of UTF-8, labels verbatim.
// Two bytes per "Ä": the longest ID percent-encodes to about three times its length.
const LONGEST = `iso9660:${'Ä'.repeat(508)}`;
const TOO_LONG = `${LONGEST}x`;

describe('volume IDs as long as the format allows (FORMAT §1)', () => {
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

  it('backs up, looks up and releases the keys of a volume whose ID is 1024 bytes', async () => {
    expect(utf8(LONGEST).length).toBe(1024);
    const image = randomImage(5000, 7);
    const backup = await backUp(operator, site.site.info, LONGEST, image, {
      restorers: ['restorer'],
    });
    expect(backup.receipt.statement.volumeId).toBe(LONGEST);

    const owner = await operator.client.request('GET', `/api/volumes/${enc(LONGEST)}/owner`);
    expect(owner.json).toMatchObject({ volumeId: LONGEST, owner: 'operator', mine: true });
    const detail = await admin.request('GET', `/api/admin/records/${enc(LONGEST)}`);
    expect(detail.status).toBe(200);
    expect((detail.json as RecordDetail).record.volumeId).toBe(LONGEST);
    // Administrators find what happened to it by its whole ID.
    const audit = await admin.request('GET', `/api/admin/audit?volume=${enc(LONGEST)}`);
    expect(audit.status).toBe(200);
    expect((audit.json as { entries: AuditEntry[] }).entries.map((e) => e.event)).toContain(
      'volume_claimed',
    );
    const alerts = await admin.request('GET', `/api/admin/alerts?volume=${enc(LONGEST)}`);
    expect(alerts.status).toBe(200);

    const restorer = new Client(site.site.url);
    await restorer.signIn('restorer');
    const restored = await restore(restorer, LONGEST);
    expect(Buffer.from(restored.image).equals(Buffer.from(image))).toBe(true);
    const again = await restorer.request(
      'GET',
      `/api/volumes/${enc(LONGEST)}/key-release/${restored.release.requestId}`,
    );
    expect(again.status).toBe(200);
    expect((again.json as KeyRelease).state).toBe('released');
  });

  it('refuses a 1025-byte volume ID with 400 and {code, message} on every route', async () => {
    expect(utf8(TOO_LONG).length).toBe(1025);
    const restorer = new Client(site.site.url);
    await restorer.signIn('restorer');
    const answers = [
      await operator.client.request('POST', `/api/volumes/${enc(TOO_LONG)}/claim`, {
        json: { resume: false },
      }),
      await operator.client.request('GET', `/api/volumes/${enc(TOO_LONG)}/owner`),
      await admin.request('GET', `/api/admin/records/${enc(TOO_LONG)}`),
      (await requestRelease(restorer, TOO_LONG, 1)).answer,
      await restorer.request(
        'GET',
        `/api/volumes/${enc(TOO_LONG)}/key-release/abcdefghijklmnop0123`,
      ),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({
        code: 'invalid_request',
        message: expect.stringContaining('at most 1024 bytes of UTF-8'),
      });
    }
  });
});
