import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, AuditEntry, AuditVerification } from '../../src/core/contract';
import { openEventStream } from './support/event-stream';
import { startMailReceiver } from './support/mail-receiver';
import { Client, startTestSite, type TestSite } from './support/test-site';

describe('alerts (AL-1..AL-3)', () => {
  let site: TestSite;
  let admin: Client;
  beforeEach(async () => {
    site = await startTestSite({ heartbeatMs: 200 });
    admin = new Client(site.site.url);
    await admin.signIn('admin');
  });
  afterEach(() => site.stop());

  it('lists, filters and acknowledges alerts, and counts the unacknowledged', async () => {
    const outsider = new Client(site.site.url, '127.0.0.4');
    await outsider.signIn('outsider', 'wrong-password-1');
    await outsider.signIn('ghost', 'whatever-password');
    const page = (await admin.request('GET', '/api/admin/alerts')).json as {
      alerts: Alert[];
      total: number;
      unacknowledged: number;
    };
    expect(page.total).toBe(2);
    expect(page.unacknowledged).toBe(2);
    expect(page.alerts.map((a) => a.kind)).toEqual(['unknown_user', 'bad_password']);
    expect(page.alerts[0]).toMatchObject({
      userId: 'ghost',
      clientAddress: '127.0.0.4',
      siteId: site.site.info.siteId,
      // Stored as a code and its parameters, for each reader's language (AL-2).
      message: { code: 'unknown_user', params: { userId: 'ghost', clientAddress: '127.0.0.4' } },
    });
    expect(page.alerts[1]!.message).toEqual({
      code: 'wrong_password',
      params: { userId: 'outsider', clientAddress: '127.0.0.4' },
    });

    const filtered = (
      await admin.request('GET', '/api/admin/alerts?kind=bad_password&user=outsider')
    ).json as {
      alerts: Alert[];
    };
    expect(filtered.alerts).toHaveLength(1);
    expect((await admin.request('GET', '/api/admin/alerts?kind=nonsense')).status).toBe(400);
    expect((await admin.request('GET', '/api/admin/alerts?pageSize=100000')).status).toBe(400);

    const ack = await admin.request('POST', '/api/admin/alerts/acknowledge', {
      json: { ids: [filtered.alerts[0]!.id] },
    });
    expect(ack.json).toEqual({ acknowledged: 1 });
    const after = (await admin.request('GET', '/api/admin/alerts?acknowledged=yes')).json as {
      alerts: Alert[];
      unacknowledged: number;
    };
    expect(after.alerts.map((a) => a.acknowledgedBy)).toEqual(['admin']);
    expect(after.unacknowledged).toBe(1);
    expect(
      (await admin.request('POST', '/api/admin/alerts/acknowledge', { json: { ids: [] } })).status,
    ).toBe(400);
  });

  it('exports CSV with cells escaped against formula injection', async () => {
    await new Client(site.site.url).signIn('=HYPERLINK("http://x")', 'whatever-password');
    const csv = await admin.request('GET', '/api/admin/alerts/export');
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.text).not.toMatch(/(^|,)"=/m);
    expect(csv.text).toContain(`"'=HYPERLINK(""http://x"")"`);
    // The code and the English sentence, side by side.
    const [header, row] = csv.text.split('\r\n');
    expect(header).toContain('"message code","message parameters","sentence"');
    expect(row).toContain('"unknown_user"');
    expect(row).toContain('Sign-in attempt for unknown user');
  });

  it('pushes a new alert to an administrator stream at once, and not to other users', async () => {
    const adminStream = await openEventStream(site.site.url, admin.cookieHeader);
    const restorer = new Client(site.site.url);
    await restorer.signIn('restorer');
    const restorerStream = await openEventStream(site.site.url, restorer.cookieHeader);
    try {
      expect(adminStream.status).toBe(200);
      await adminStream.next('hello');
      await new Client(site.site.url).signIn('outsider', 'not-it-at-all');
      const event = await adminStream.next('alert', 3000);
      expect(event).toMatchObject({
        type: 'alert',
        alert: { kind: 'bad_password', userId: 'outsider' },
      });
      await restorerStream.next('heartbeat', 3000);
      expect(restorerStream.events.filter((e) => e.type === 'alert')).toEqual([]);
    } finally {
      adminStream.close();
      restorerStream.close();
    }
  });

  it('refuses the stream to anonymous callers and ends it when the session is revoked', async () => {
    const anonymous = await openEventStream(site.site.url, '');
    expect(anonymous.status).toBe(401);
    anonymous.close();
    const stream = await openEventStream(site.site.url, admin.cookieHeader);
    await stream.next('hello');
    await admin.request('POST', '/api/auth/logout');
    await expect(stream.next('heartbeat', 1000)).rejects.toThrow(/no heartbeat/);
    stream.close();
  });

  // A report about a volume the reporter may restore becomes an alert: integrity-reports.test.ts.
  it('refuses free-text integrity reports and reports about volumes the reporter cannot restore', async () => {
    const restorer = new Client(site.site.url);
    await restorer.signIn('restorer');
    const freeText = await restorer.request('POST', '/api/alerts/integrity', {
      json: { volumeId: 'ext4:1234', generation: 2, chunkIndex: 3, what: 'AEAD tag mismatch' },
    });
    expect([freeText.status, freeText.json]).toEqual([
      400,
      expect.objectContaining({ code: 'invalid_request' }),
    ]);
    const unknown = await restorer.request('POST', '/api/alerts/integrity', {
      json: { volumeId: 'ext4:1234', generation: 2, chunkIndex: 3, source: 'site', check: 'aead' },
    });
    expect([unknown.status, unknown.json]).toEqual([
      404,
      expect.objectContaining({ code: 'volume_not_found' }),
    ]);
    const page = (await admin.request('GET', '/api/admin/alerts?kind=integrity_failure')).json as {
      alerts: Alert[];
    };
    expect(page.alerts).toEqual([]);
    expect(
      (await restorer.request('POST', '/api/alerts/integrity', { json: { volumeId: '' } })).status,
    ).toBe(400);
  });
});

/** The Subject header, unfolded and with RFC 2047 Q-encoded words decoded. */
function subjectOf(mail: string): string {
  const unfolded = mail.split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');
  const raw = /^Subject: (.*)$/m.exec(unfolded)?.[1] ?? '';
  return raw.replace(/\?= =\?/g, '?==?').replace(/=\?UTF-8\?Q\?(.*?)\?=/gi, (_, word: string) =>
    Buffer.from(
      word
        .replace(/_/g, ' ')
        .replace(/=([0-9A-F]{2})/gi, (_m: string, h: string) =>
          String.fromCharCode(parseInt(h, 16)),
        ),
      'latin1',
    ).toString('utf8'),
  );
}

describe('alert mail (AL-3)', () => {
  it('mails the first alert at once and summarises a burst in one mail', async () => {
    const receiver = await startMailReceiver();
    const { mails } = receiver;
    const site = await startTestSite({
      env: {
        CUSTODIAN_SMTP_URL: receiver.url,
        CUSTODIAN_ALERT_MAIL_TO: 'security@example.test',
        // Long enough for ten sign-ins with the slow verifier on a busy machine.
        CUSTODIAN_MAIL_BURST: '15',
      },
    });
    try {
      const attacker = new Client(site.site.url, '127.0.0.5');
      await attacker.signIn('ghost1', 'whatever-password');
      await expect.poll(() => mails.length, { timeout: 3000 }).toBe(1);
      expect(subjectOf(mails[0]!)).toMatch(
        /^\[Custodian escrow site\] Alert: unknown_user - .*"ghost1"/,
      );
      expect(mails[0]).toContain('To: security@example.test');
      // From ten addresses: from one, unknown user IDs are summarised in one alert (ID-3).
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          new Client(site.site.url, `127.0.1.${i + 1}`).signIn(`ghost-${i}`, 'whatever-password'),
        ),
      );
      expect(mails).toHaveLength(1); // the rest of the burst waits for the end of the window
      await expect.poll(() => mails.length, { timeout: 20_000 }).toBe(2);
      expect(subjectOf(mails[1]!)).toBe('[Custodian escrow site] 10 alerts: unknown_user');
      await new Promise((r) => setTimeout(r, 500));
      expect(mails).toHaveLength(2);
    } finally {
      await site.stop();
      await receiver.close();
    }
  });
});

describe('audit log (AL-4)', () => {
  let site: TestSite;
  let admin: Client;
  beforeEach(async () => {
    site = await startTestSite();
    admin = new Client(site.site.url);
    await admin.signIn('admin');
  });
  afterEach(() => site.stop());

  const verify = async () =>
    (await admin.request('POST', '/api/admin/audit/verify')).json as AuditVerification;

  it('records sign-ins and refusals, filters them, and verifies the chain intact', async () => {
    await new Client(site.site.url).signIn('operator', 'wrong-password');
    await new Client(site.site.url).signIn('operator');
    const page = (await admin.request('GET', '/api/admin/audit?user=operator')).json as {
      entries: AuditEntry[];
    };
    expect(page.entries.map((e) => e.event)).toEqual(['sign_in', 'sign_in_refused']);
    const result = await verify();
    expect(result.intact).toBe(true);
    // seven demo accounts, the admin's sign-in and the two above
    expect(result.entries).toBe(10);
  });

  it('names the first altered entry after a direct database edit, and a deleted one', async () => {
    await new Client(site.site.url).signIn('restorer');
    const sqlite = site.site.database.sqlite;
    sqlite.prepare(`update audit_log set actor = 'someone-else' where seq = 9`).run();
    let result = await verify();
    expect(result).toMatchObject({ intact: false, brokenAt: 9 });
    expect(result.intact === false && result.reason).toMatch(/entry 9 was altered/);

    sqlite.prepare(`update audit_log set actor = 'restorer' where seq = 9`).run();
    expect((await verify()).intact).toBe(true);
    sqlite.prepare(`delete from audit_log where seq = 5`).run();
    result = await verify();
    expect(result).toMatchObject({ intact: false, brokenAt: 6 });
  });

  it('exports CSV and JSON', async () => {
    const json = await admin.request('GET', '/api/admin/audit/export?format=json');
    expect((json.json as { entries: AuditEntry[] }).entries[0]!.seq).toBe(1);
    const csv = await admin.request('GET', '/api/admin/audit/export?format=csv&event=sign_in');
    expect(csv.text.split('\r\n')[0]).toContain('"seq"');
    expect(csv.text).toContain('"sign_in"');
    expect((await admin.request('GET', '/api/admin/audit/export?format=xml')).status).toBe(400);
  });

  it('refuses the action when its audit entry cannot be written', async () => {
    site.site.database.sqlite.exec(
      `create trigger no_audit before insert on audit_log begin select raise(abort, 'disk full'); end;`,
    );
    const answer = await new Client(site.site.url).signIn('operator');
    expect(answer.status).toBe(503);
    expect(answer.json).toMatchObject({ code: 'audit_unavailable' });
    expect(answer.headers['set-cookie']).toBeUndefined();
  });
});

describe('site information', () => {
  it('publishes its name, version and public keys with fingerprints, stable across restarts', async () => {
    let site = await startTestSite();
    const client = new Client(site.site.url);
    const first = (await client.request('GET', '/api/site')).json as {
      escrowKey: { fingerprint: string };
      signingKey: { fingerprint: string };
    };
    expect(first.escrowKey.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(first.signingKey.fingerprint).not.toBe(first.escrowKey.fingerprint);
    site = await site.restart();
    const again = (await new Client(site.site.url).request('GET', '/api/site')).json;
    expect(again).toEqual(first);
    await site.stop();
  });

  it('lists the users a volume may name as restorers', async () => {
    const site = await startTestSite();
    const client = new Client(site.site.url);
    expect((await client.request('GET', '/api/users')).status).toBe(401);
    await client.signIn('operator');
    const list = (await client.request('GET', '/api/users')).json as {
      users: { userId: string }[];
    };
    expect(list.users.map((u) => u.userId)).toEqual(['outsider', 'restorer', 'restorer2']);
    await site.stop();
  });
});
