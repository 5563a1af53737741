import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, AuditEntry, Claim, SiteList } from '../../src/core/contract';
import { siteFingerprints } from '../../src/core/crypto/site-fingerprint';
import {
  backUp,
  enc,
  newOperator,
  randomImage,
  requestRelease,
  type Operator,
} from './support/backup-client';
import type { HttpAnswer } from './support/test-site';
import { Client, startTestSite, type TestSite } from './support/test-site';

/**
 * MS-3 at the site: a copy whose keys another site escrows. Osaka keeps
 * Tokyo's copy as ciphertext only (seed 003's safe box): it holds no key,
 * authorizes chunk reads against its own record, and refuses every key
 * release with the name of the site that has the keys, audited and alerted.
 */

async function signedIn(site: TestSite, userId: string): Promise<Client> {
  const client = new Client(site.site.url);
  await client.signIn(userId);
  return client;
}

function refusalOf(error: unknown): { status: number; code: unknown } {
  const answer = (error as { answer?: HttpAnswer }).answer;
  return { status: answer?.status ?? 0, code: (answer?.json as { code?: unknown })?.code };
}

describe('a copy kept as ciphertext only (MS-3)', { timeout: 60_000 }, () => {
  let tokyo: TestSite;
  let osaka: TestSite;
  let operator: Operator;
  let admin: Client;

  beforeAll(async () => {
    [tokyo, osaka] = await Promise.all([
      startTestSite({ siteId: 'test-site-tokyo', env: { CUSTODIAN_SITE_NAME: 'Tokyo' } }),
      startTestSite({ siteId: 'test-site-osaka', env: { CUSTODIAN_SITE_NAME: 'Osaka' } }),
    ]);
    admin = await signedIn(osaka, 'admin');
    const fingerprint = (await siteFingerprints(tokyo.site.info)).site;
    const trust = await admin.request('POST', '/api/admin/sites', {
      json: { url: tokyo.site.publicUrl, fingerprint, reason: 'Tokyo keeps the keys' },
    });
    expect(trust.status).toBe(201);
    expect(
      ((await admin.request('GET', '/api/admin/sites')).json as SiteList).trusted,
    ).toHaveLength(1);
    operator = await newOperator(await signedIn(osaka, 'operator'));
  });
  afterAll(async () => {
    await Promise.all([tokyo.stop(), osaka.stop()]);
  });

  it('commits a copy with no key when the keys are at a site it trusts, and holds no key for it', async () => {
    const volume = 'ext4:copy-without-keys';
    const { receipt } = await backUp(operator, osaka.site.info, volume, randomImage(3000), {
      restorers: ['restorer'],
      keysAt: tokyo.site.info.siteId,
    });
    expect(receipt.statement).toMatchObject({ volumeId: volume, generation: 1 });
    const claim = (
      await operator.client.request('POST', `/api/volumes/${enc(volume)}/claim`, {
        json: { resume: false },
      })
    ).json as Claim;
    expect(claim.nextGeneration).toBe(2);
    expect(claim.epochs).toEqual([]);
    await operator.client.request('DELETE', `/api/volumes/${enc(volume)}/claim`);

    // A registered restorer reads the ciphertext from this site's own record.
    const restorer = await signedIn(osaka, 'restorer');
    const manifest = await restorer.request(
      'GET',
      `/api/volumes/${enc(volume)}/generations/1/manifest`,
    );
    expect(manifest.status).toBe(200);
    const { chunkId } = (
      manifest.json as { manifest: { index: { chunks: { chunkId: string }[] } } }
    ).manifest.index.chunks[0]!;
    expect(
      (await restorer.request('GET', `/api/volumes/${enc(volume)}/chunks/${chunkId}`)).status,
    ).toBe(200);
  });

  it("refuses a key release with the keeper's name, and audits and alerts the refusal", async () => {
    const volume = 'ext4:copy-release-refused';
    await backUp(operator, osaka.site.info, volume, randomImage(2000, 2), {
      restorers: ['restorer'],
      keysAt: tokyo.site.info.siteId,
    });
    const restorer = await signedIn(osaka, 'restorer');
    const { answer } = await requestRelease(restorer, volume, 1);
    expect(answer.status).toBe(409);
    expect(answer.json).toMatchObject({
      code: 'keys_elsewhere',
      details: { keysAt: tokyo.site.info.siteId, keeper: 'Tokyo' },
    });
    expect(JSON.stringify(answer.json)).toContain('escrowed at Tokyo');

    const audit = (
      (await admin.request('GET', `/api/admin/audit?event=key_not_found`)).json as {
        entries: AuditEntry[];
      }
    ).entries.filter((e) => e.volumeId === volume);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'restorer', details: { keysAt: 'test-site-tokyo' } });
    const alerts = (
      (await admin.request('GET', `/api/admin/alerts?kind=key_not_found`)).json as {
        alerts: Alert[];
      }
    ).alerts.filter((a) => a.volumeId === volume);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.sentence).toContain('escrowed at Tokyo');
  });

  it('refuses a copy whose keys are said to be at a site it does not trust', async () => {
    const volume = 'ext4:copy-untrusted-keeper';
    const refused = await backUp(operator, osaka.site.info, volume, randomImage(2000, 3), {
      keysAt: 'test-site-nowhere',
    }).catch((error: unknown) => error);
    expect(refusalOf(refused)).toEqual({ status: 409, code: 'key_site_not_trusted' });
  });

  it('refuses a commit without keys that names no other site, as before', async () => {
    const volume = 'ext4:copy-names-itself';
    const refused = await backUp(operator, osaka.site.info, volume, randomImage(2000, 4), {
      keysAt: osaka.site.info.siteId,
    }).catch((error: unknown) => error);
    expect(refusalOf(refused)).toEqual({ status: 409, code: 'keys_missing' });
  });
});
