import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordDetail } from '../../src/core/contract';
import { backUp, enc, newOperator, randomImage, type Operator } from './support/backup-client';
import { Client, startTestSite, type TestSite } from './support/test-site';

const VOLUME = 'ext4:7f3a9c21-commit-policy';
const reason = 'ticket 99';
const EXPIRY = '2099-01-01T00:00:00.000Z';

/**
 * What an owner's commit may change on the escrow record
 * (docs/REQUIREMENTS.md, "What an owner's commit may change"): never loosen, silently, what an
 * administrator decided; every policy change is audited with old and new.
 */
describe("the owner's commit and an administrator's decisions (ES-2, BK-10)", () => {
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

  const policyOf = async () =>
    ((await admin.request('GET', `/api/admin/records/${enc(VOLUME)}`)).json as RecordDetail).record
      .policy;
  const lastCommitted = async () =>
    (await site.site.audit.all({ event: 'generation_committed' })).at(-1)!.details;

  it("keeps an administrator's expiry through the owner's next backup, and says so in the receipt and the audit entry", async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(1000), { restorers: ['restorer'] });
    const set = await admin.request('POST', `/api/admin/records/${enc(VOLUME)}/expiry`, {
      json: { expiresAt: EXPIRY, reason },
    });
    expect(set.status).toBe(200);

    const second = await backUp(operator, site.site.info, VOLUME, randomImage(1000, 2), {
      restorers: ['restorer'],
    });
    expect((await policyOf()).expiresAt).toBe(EXPIRY);
    expect(second.receipt.statement.policy.expiresAt).toBe(EXPIRY);
    expect(await lastCommitted()).toMatchObject({
      policyChanges: [],
      policyKept: [{ field: 'expiresAt', value: EXPIRY, asked: null }],
    });
  });

  it('keeps a one-time, approval-required registration by an administrator when the first backup asks for a reusable key', async () => {
    const registered = await admin.request('POST', '/api/admin/records', {
      json: {
        volumeId: VOLUME,
        owner: 'operator',
        restorers: ['restorer'],
        policy: { kind: 'one-time', approvalRequired: true, expiresAt: null },
        reason,
      },
    });
    expect(registered.status).toBe(200);
    const first = await backUp(operator, site.site.info, VOLUME, randomImage(1000), {
      restorers: ['restorer'],
    });
    expect(await policyOf()).toEqual({ kind: 'one-time', approvalRequired: true, expiresAt: null });
    expect(first.receipt.statement.policy).toMatchObject({
      kind: 'one-time',
      approvalRequired: true,
    });
    expect((await lastCommitted()).policyKept).toEqual([
      { field: 'kind', value: 'one-time', asked: 'reusable' },
      { field: 'approvalRequired', value: true, asked: false },
    ]);
  });

  it('lets the owner change what the owner set, and audits each changed field with old and new', async () => {
    await backUp(operator, site.site.info, VOLUME, randomImage(1000), {
      restorers: ['restorer'],
      policy: { approvalRequired: true },
    });
    await backUp(operator, site.site.info, VOLUME, randomImage(1000, 2), {
      restorers: ['restorer'],
      policy: { approvalRequired: false, expiresAt: EXPIRY },
    });
    expect(await policyOf()).toMatchObject({ approvalRequired: false, expiresAt: EXPIRY });
    expect(await lastCommitted()).toMatchObject({
      policyChanges: [
        { field: 'approvalRequired', from: true, to: false },
        { field: 'expiresAt', from: null, to: EXPIRY },
      ],
      policyKept: [],
    });
  });
});
