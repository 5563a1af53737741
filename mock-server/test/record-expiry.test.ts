import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EscrowRecord, RecordPage } from '../../src/core/contract';
import { backUp, enc, newOperator, randomImage, type Operator } from './support/backup-client';
import { startMailReceiver } from './support/mail-receiver';
import { Client, ManualClock, startTestSite, type TestSite } from './support/test-site';

const VOLUME = 'ext4:5c0e11aa-record-expiry';
const DAY = 86_400_000;
const reason = 'ticket 1207';

/**
 * Records about to expire: one notice a set number of days before the
 * expiry (an alert, mailed when mail is set up, and an audit entry), the
 * owner's change of the expiry within what an administrator allows, and
 * the administrators' filter of records expiring soon.
 */
describe('records about to expire', () => {
  let clock: ManualClock;
  let site: TestSite;
  let owner: Client;
  let operator: Operator;
  let admin: Client;

  const inDays = (days: number) => new Date(clock.now().getTime() + days * DAY).toISOString();
  const expiringAlerts = async () =>
    (await site.site.alerts.all({ kind: 'record_expiring' })).filter((a) => a.volumeId === VOLUME);
  const auditOf = async (event: 'expiry_noticed' | 'expiry_changed' | 'expiry_change_refused') =>
    (await site.site.audit.all({ event })).filter((e) => e.volumeId === VOLUME);
  /** Sessions end after 8 hours: after the clock moved on, everyone signs in again. */
  const signInAgain = async () => {
    await owner.signIn('operator');
    await admin.signIn('admin');
  };
  const changeExpiry = (expiresAt: string | null, client = owner) =>
    client.request('POST', `/api/volumes/${enc(VOLUME)}/expiry`, { json: { expiresAt } });

  beforeEach(async () => {
    clock = new ManualClock();
    site = await startTestSite({ clock });
    owner = new Client(site.site.url);
    await owner.signIn('operator');
    operator = await newOperator(owner);
    admin = new Client(site.site.url);
    await admin.signIn('admin');
  });
  afterEach(() => site.stop());

  it('sends one notice per expiry, N days before it, and another for a new date', async () => {
    const expiresAt = inDays(20);
    await backUp(operator, site.site.info, VOLUME, randomImage(1000), {
      restorers: ['restorer'],
      policy: { expiresAt },
    });
    expect(await site.site.records.noticeExpiring(14)).toBe(0);

    clock.advance(7 * DAY);
    expect(await site.site.records.noticeExpiring(14)).toBe(1);
    expect(await site.site.records.noticeExpiring(14)).toBe(0);
    const [alert, ...more] = await expiringAlerts();
    expect(more).toEqual([]);
    expect(alert).toMatchObject({
      userId: 'operator',
      message: {
        code: 'record_expiring',
        params: { volumeId: VOLUME, owner: 'operator', expiresAt, days: 13 },
      },
    });
    expect(alert!.sentence).toContain(`expires on ${expiresAt}, in 13 days`);
    expect((await auditOf('expiry_noticed')).map((e) => e.details)).toEqual([
      { owner: 'operator', expiresAt, days: 13 },
    ]);

    // The owner extends: recorded, and the new date earns its own notice when it comes near.
    await signInAgain();
    const later = inDays(60);
    const extended = await changeExpiry(later);
    expect(extended.status).toBe(200);
    expect((extended.json as EscrowRecord).policy.expiresAt).toBe(later);
    expect((await auditOf('expiry_changed')).map((e) => [e.actor, e.details])).toEqual([
      ['operator', { from: expiresAt, to: later, by: 'owner' }],
    ]);
    expect(await site.site.records.noticeExpiring(14)).toBe(0);
    clock.advance(50 * DAY);
    expect(await site.site.records.noticeExpiring(14)).toBe(1);
    expect(await expiringAlerts()).toHaveLength(2);
  });

  it('gives no notice for a revoked record, nor for one already expired', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(1000), {
      policy: { expiresAt: inDays(10) },
    });
    const revoked = await admin.request('POST', `/api/admin/records/${enc(VOLUME)}/revoke`, {
      json: { reason },
    });
    expect(revoked.status).toBe(200);
    expect(await site.site.records.noticeExpiring(14)).toBe(0);
    clock.advance(11 * DAY);
    expect(await site.site.records.noticeExpiring(14)).toBe(0);
    expect(await expiringAlerts()).toEqual([]);
  });

  it("lets the owner bring an administrator's expiry forward but not past it, and audits the refusal", async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(1000));
    const ceiling = inDays(30);
    const set = await admin.request('POST', `/api/admin/records/${enc(VOLUME)}/expiry`, {
      json: { expiresAt: ceiling, reason },
    });
    expect(set.status).toBe(200);

    for (const asked of [inDays(40), null]) {
      const refused = await changeExpiry(asked);
      expect(refused.status).toBe(403);
      expect(refused.json).toMatchObject({ code: 'expiry_set_by_administrator' });
    }
    expect((await auditOf('expiry_change_refused')).map((e) => e.details)).toEqual([
      { code: 'expiry_set_by_administrator', from: ceiling, asked: inDays(40) },
      { code: 'expiry_set_by_administrator', from: ceiling, asked: null },
    ]);

    const earlier = inDays(20);
    expect((await changeExpiry(earlier)).status).toBe(200);
    // Brought forward, the expiry may go back up to the administrator's date, not beyond.
    expect((await changeExpiry(ceiling)).status).toBe(200);
    expect((await changeExpiry(inDays(31))).status).toBe(403);

    // The owner's next backup asking for no expiry keeps the administrator's.
    await backUp(operator, site.site.info, VOLUME, randomImage(1000, 2));
    const record = await admin.request('GET', `/api/admin/records/${enc(VOLUME)}`);
    expect((record.json as { record: EscrowRecord }).record.policy.expiresAt).toBe(ceiling);
  });

  it('refuses, and audits, a past date, a revoked record and anyone but the owner', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(1000), {
      restorers: ['restorer'],
    });
    const past = await changeExpiry(inDays(-1));
    expect(past.status).toBe(400);
    expect(past.json).toMatchObject({ code: 'expired_policy' });

    const restorer = new Client(site.site.url);
    await restorer.signIn('operator2');
    const other = await changeExpiry(inDays(5), restorer);
    expect(other.status).toBe(403);
    expect(other.json).toMatchObject({ code: 'forbidden' });

    const malformed = await owner.request('POST', `/api/volumes/${enc(VOLUME)}/expiry`, {
      json: { expiresAt: 'next tuesday' },
    });
    expect(malformed.status).toBe(400);

    await admin.request('POST', `/api/admin/records/${enc(VOLUME)}/revoke`, { json: { reason } });
    const revoked = await changeExpiry(inDays(5));
    expect(revoked.status).toBe(409);
    expect(revoked.json).toMatchObject({ code: 'record_revoked' });

    expect((await auditOf('expiry_change_refused')).map((e) => [e.actor, e.details.code])).toEqual([
      ['operator', 'expired_policy'],
      ['operator2', 'forbidden'],
      ['operator', 'record_revoked'],
    ]);
  });

  it('lets administrators list the records expiring within a number of days', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(1000), {
      policy: { expiresAt: inDays(5) },
    });
    await backUp(operator, site.site.info, `${VOLUME}-later`, randomImage(1000, 3), {
      policy: { expiresAt: inDays(60) },
    });
    await backUp(operator, site.site.info, `${VOLUME}-never`, randomImage(1000, 4));
    const within = async (days: number) =>
      (
        (await admin.request('GET', `/api/admin/records?expiringWithin=${days}`)).json as RecordPage
      ).records.map((r) => r.volumeId);
    expect(await within(7)).toEqual([VOLUME]);
    expect((await within(90)).sort()).toEqual([VOLUME, `${VOLUME}-later`]);
    const bad = await admin.request('GET', '/api/admin/records?expiringWithin=0');
    expect(bad.status).toBe(400);
    // The export gives what the filtered screen shows.
    const exported = await admin.request(
      'GET',
      '/api/admin/records/export?expiringWithin=7&format=csv',
    );
    expect(exported.status).toBe(200);
    expect(exported.text).toContain(`"${VOLUME}"`);
    expect(exported.text).not.toContain(`${VOLUME}-later`);
  });

  it('looks at start: a site started after the notice period began mails the notice, and only once across restarts', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(1000), {
      policy: { expiresAt: inDays(10) },
    });
    await site.stop();
    const receiver = await startMailReceiver();
    const { mails } = receiver;
    const env = {
      CUSTODIAN_SMTP_URL: receiver.url,
      CUSTODIAN_ALERT_MAIL_TO: 'security@example.test',
    };
    try {
      site = await startTestSite({ clock, dataDir: site.dataDir, env });
      await expect.poll(() => mails.length, { timeout: 10_000 }).toBe(1);
      expect(mails[0]).toMatch(/Subject: \[Custodian escrow site\] Alert: record_expiring/);
      expect(await expiringAlerts()).toHaveLength(1);
      site = await site.restart();
      await expect.poll(async () => (await auditOf('expiry_noticed')).length).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await expiringAlerts()).toHaveLength(1);
      expect(mails).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });
});
