import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, AuditEntry, GenerationManifest } from '../../src/core/contract';
import { INTEGRITY_REPORT_WINDOW_MS, INTEGRITY_REPORTS_PER_WINDOW } from '../src/domain/alerts';
import { backUp, enc, newOperator, randomImage, type Operator } from './support/backup-client';
import {
  Client,
  ManualClock,
  startTestSite,
  type HttpAnswer,
  type TestSite,
} from './support/test-site';

const VOLUME = 'ext4:1c9e5a7b-2f30-4d8e-b6a1-0e4c7d2f9a13';
const UNKNOWN = 'ext4:99999999-8888-7777-6666-555555555555';

describe('integrity reports from clients (RS-5, AL-1, AL-2)', () => {
  let site: TestSite;
  let clock: ManualClock;
  let operator: Operator;
  let admin: Client;
  let restorer: Client;
  let chunkIds: string[];

  const signedIn = async (userId: string) => {
    const client = new Client(site.site.url);
    await client.signIn(userId);
    return client;
  };
  const report = (client: Client, json: Record<string, unknown>) =>
    client.request('POST', '/api/alerts/integrity', { json });
  const valid = () => ({
    volumeId: VOLUME,
    generation: 1,
    source: 'site',
    check: 'aead',
    chunkIndex: 0,
    chunkId: chunkIds[0]!,
  });
  const integrityAlerts = async () =>
    (
      (await admin.request('GET', '/api/admin/alerts?kind=integrity_failure&pageSize=500'))
        .json as {
        alerts: Alert[];
      }
    ).alerts;

  beforeEach(async () => {
    clock = new ManualClock(new Date());
    site = await startTestSite({ clock });
    operator = await newOperator(await signedIn('operator'));
    admin = await signedIn('admin');
    restorer = await signedIn('restorer');
    await backUp(operator, site.site.info, VOLUME, randomImage(9000, 3), {
      restorers: ['restorer'],
    });
    const manifest = (
      await operator.client.request('GET', `/api/volumes/${enc(VOLUME)}/generations/1/manifest`)
    ).json as GenerationManifest;
    chunkIds = manifest.manifest.index.chunks.map((c) => c.chunkId);
  });
  afterEach(() => site.stop());

  it('turns a registered restorer’s structured report into an alert worded by the site', async () => {
    const answer = await report(restorer, valid());
    expect(answer.status).toBe(200);
    const [alert] = await integrityAlerts();
    expect(alert).toMatchObject({ userId: 'restorer', volumeId: VOLUME });
    expect(alert!.sentence).toBe(
      `restorer reports that chunk #0 (${chunkIds[0]!.slice(0, 16)}…) of generation 1 of volume ${VOLUME}, read from the copy at this site (${site.site.info.siteId}), failed authenticated decryption.`,
    );
    const audit = (
      (await admin.request('GET', '/api/admin/audit?event=integrity_failure_reported')).json as {
        entries: AuditEntry[];
      }
    ).entries;
    expect(audit.map((e) => [e.actor, e.details])).toEqual([['restorer', valid()]]);
    // The owner reports too, here about their own local copy and the manifest.
    const owner = await report(operator.client, {
      volumeId: VOLUME,
      generation: 1,
      source: 'local',
      check: 'manifest',
    });
    expect(owner.status).toBe(200);
    expect((await integrityAlerts())[0]!.sentence).toBe(
      `operator reports that generation 1 of volume ${VOLUME}, read from operator's local copy, has a signed index that does not verify.`,
    );
  });

  it('refuses a report about a volume the reporter may not restore as if the volume were unknown, and audits it', async () => {
    for (const userId of ['outsider', 'operator2']) {
      const client = await signedIn(userId);
      const forbidden = await report(client, valid());
      const unknown = await report(client, { ...valid(), volumeId: UNKNOWN });
      expect(forbidden.status).toBe(404);
      expect(forbidden.json).toMatchObject({
        code: 'volume_not_found',
        message: expect.any(String),
      });
      expect(sameShape(forbidden, VOLUME)).toEqual(sameShape(unknown, UNKNOWN));
    }
    expect(await integrityAlerts()).toEqual([]);
    const refused = (
      (await admin.request('GET', '/api/admin/audit?event=integrity_report_refused')).json as {
        entries: AuditEntry[];
      }
    ).entries;
    expect(refused.map((e) => [e.actor, e.volumeId]).sort()).toEqual([
      ['operator2', VOLUME],
      ['outsider', VOLUME],
    ]);
  });

  it('takes structured fields only: free text, unknown checks and chunks the index does not list are refused', async () => {
    const refusals: [Record<string, unknown>, number, string][] = [
      [{ ...valid(), what: 'all fine\nadmin: ignore the next alerts' }, 400, 'invalid_request'],
      [{ ...valid(), check: 'the site is compromised' }, 400, 'invalid_request'],
      [{ ...valid(), source: 'elsewhere' }, 400, 'invalid_request'],
      [{ ...valid(), chunkIndex: 0, chunkId: 'ab'.repeat(32) }, 400, 'unknown_chunk'],
      [{ ...valid(), chunkIndex: 5000, chunkId: undefined }, 400, 'unknown_chunk'],
      [{ ...valid(), generation: 7 }, 404, 'generation_not_found'],
      [{ volumeId: VOLUME, what: 'the old free-text report' }, 400, 'invalid_request'],
    ];
    for (const [body, status, code] of refusals) {
      const answer = await report(restorer, body);
      expect([answer.status, answer.json]).toEqual([
        status,
        expect.objectContaining({ code, message: expect.any(String) }),
      ]);
    }
    expect(await integrityAlerts()).toEqual([]);
  });

  it('limits reports per user and tells administrators once, not once per report', async () => {
    const flood = INTEGRITY_REPORTS_PER_WINDOW + 15;
    const answers: HttpAnswer[] = [];
    for (let i = 0; i < flood; i++) answers.push(await report(restorer, valid()));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(INTEGRITY_REPORTS_PER_WINDOW);
    const limited = answers.slice(INTEGRITY_REPORTS_PER_WINDOW);
    expect(limited.every((a) => a.status === 429)).toBe(true);
    expect(limited[0]!.json).toMatchObject({
      code: 'too_many_reports',
      message: expect.stringContaining('integrity reports'),
    });
    // Another user is not held back by the flood.
    expect((await report(operator.client, valid())).status).toBe(200);

    const alerts = await integrityAlerts();
    const summaries = alerts.filter((a) => a.volumeId === null);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ userId: 'restorer' });
    expect(summaries[0]!.sentence).toContain(
      `more than ${INTEGRITY_REPORTS_PER_WINDOW} integrity reports`,
    );
    expect(alerts).toHaveLength(INTEGRITY_REPORTS_PER_WINDOW + 1 + 1);

    clock.advance(INTEGRITY_REPORT_WINDOW_MS);
    expect((await report(restorer, valid())).status).toBe(200);
  });
});

/** An answer with the volume ID it names replaced, to compare two answers as a client sees them. */
function sameShape(answer: HttpAnswer, volumeId: string) {
  return {
    status: answer.status,
    body: answer.text.split(JSON.stringify(volumeId).slice(1, -1)).join('<volume>'),
  };
}
