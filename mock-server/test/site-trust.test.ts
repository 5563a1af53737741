import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  Alert,
  AuditEntry,
  SiteCheck,
  SiteList,
  SitePreview,
  TrustedSite,
} from '../../src/core/contract';
import { siteFingerprints } from '../../src/core/crypto/site-fingerprint';
import { Client, startTestSite, type TestSite } from './support/test-site';

/** A worker script as the console's build names it (`<name>.worker-<hash>.js`). */
const WORKER = 'restore-decrypt.worker-AbC123.js';

/**
 * MS-1 over real HTTP: two sites, Tokyo trusting Osaka by its fingerprint,
 * and the refusals around it.
 */

async function signedIn(site: TestSite, userId: string): Promise<Client> {
  const client = new Client(site.site.url);
  await client.signIn(userId);
  return client;
}

async function fingerprintOf(site: TestSite): Promise<string> {
  return (await siteFingerprints(site.site.info)).site;
}

async function audit(client: Client, event: string): Promise<AuditEntry[]> {
  return (
    (await client.request('GET', `/api/admin/audit?event=${event}`)).json as {
      entries: AuditEntry[];
    }
  ).entries;
}

async function alerts(client: Client, kind: string): Promise<Alert[]> {
  return (
    (await client.request('GET', `/api/admin/alerts?kind=${kind}`)).json as {
      alerts: Alert[];
    }
  ).alerts;
}

async function trusted(client: Client): Promise<TrustedSite[]> {
  return ((await client.request('GET', '/api/admin/sites')).json as SiteList).trusted;
}

/** An HTTP server on loopback answering every request with `answer`. */
async function otherServer(
  answer: (res: http.ServerResponse) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => answer(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A loopback address where nothing listens. */
async function closedPort(): Promise<string> {
  const server = await otherServer(() => undefined);
  await server.close();
  return server.url;
}

describe('trusting another site by its fingerprint (MS-1)', { timeout: 60_000 }, () => {
  let tokyo: TestSite;
  let osaka: TestSite;
  let admin: Client;

  beforeAll(async () => {
    // Tokyo serves a console page, whose policy names the sites it may call.
    const consoleDir = mkdtempSync(path.join(os.tmpdir(), 'custodian-console-'));
    writeFileSync(path.join(consoleDir, 'index.html'), '<!doctype html><title>Custodian</title>');
    mkdirSync(path.join(consoleDir, 'assets'));
    writeFileSync(path.join(consoleDir, 'assets', WORKER), 'self.onmessage = () => {};');
    writeFileSync(path.join(consoleDir, 'assets', 'index-AbC123.js'), 'export {};');
    [tokyo, osaka] = await Promise.all([
      startTestSite({
        consoleDir,
        siteId: 'test-site-tokyo',
        env: { CUSTODIAN_SITE_NAME: 'Tokyo' },
      }),
      startTestSite({ siteId: 'test-site-osaka', env: { CUSTODIAN_SITE_NAME: 'Osaka' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([tokyo.stop(), osaka.stop()]);
  });
  beforeEach(async () => {
    admin = await signedIn(tokyo, 'admin');
    for (const site of await trusted(admin)) {
      await admin.request('POST', `/api/admin/sites/${site.siteId}/withdraw`, {
        json: { reason: 'fresh start' },
      });
    }
  });

  it('lists this site first, at its public address, with its fingerprints', async () => {
    const answer = await admin.request('GET', '/api/admin/sites');
    expect(answer.status).toBe(200);
    const { home } = answer.json as SiteList;
    expect(home).toMatchObject({
      siteId: tokyo.site.info.siteId,
      name: 'Tokyo',
      url: tokyo.site.publicUrl,
      fingerprint: await fingerprintOf(tokyo),
      escrowKey: { fingerprint: tokyo.site.info.escrowKey.fingerprint },
      signingKey: { fingerprint: tokyo.site.info.signingKey.fingerprint },
    });
    expect(home.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fetches a site, trusts it with the fingerprint shown, and withdraws it with a reason, all audited', async () => {
    const preview = await admin.request('POST', '/api/admin/sites/preview', {
      json: { url: `${osaka.site.publicUrl}/` },
    });
    expect(preview.status).toBe(200);
    const shown = preview.json as SitePreview;
    expect(shown).toMatchObject({
      url: osaka.site.publicUrl,
      site: { siteId: osaka.site.info.siteId, name: 'Osaka' },
      fingerprint: await fingerprintOf(osaka),
    });
    // Fetching stores nothing.
    expect(await trusted(admin)).toEqual([]);

    const trust = await admin.request('POST', '/api/admin/sites', {
      json: { url: shown.url, fingerprint: shown.fingerprint, reason: 'the Osaka branch' },
    });
    expect(trust.status).toBe(201);
    const [site] = await trusted(admin);
    expect(site).toMatchObject({
      siteId: osaka.site.info.siteId,
      name: 'Osaka',
      url: osaka.site.publicUrl,
      fingerprint: shown.fingerprint,
      escrowKey: osaka.site.info.escrowKey,
      signingKey: osaka.site.info.signingKey,
      trustedBy: 'admin',
      reachable: true,
      refusedFingerprint: null,
    });
    expect(site!.lastContactAt).not.toBeNull();
    expect((await audit(admin, 'site_trusted')).at(0)).toMatchObject({
      actor: 'admin',
      details: {
        siteId: osaka.site.info.siteId,
        name: 'Osaka',
        url: osaka.site.publicUrl,
        fingerprint: shown.fingerprint,
        reason: 'the Osaka branch',
      },
    });

    const again = await admin.request('POST', '/api/admin/sites', {
      json: { url: shown.url, fingerprint: shown.fingerprint },
    });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ code: 'site_already_trusted' });

    const withdrawPath = `/api/admin/sites/${osaka.site.info.siteId}/withdraw`;
    const noReason = await admin.request('POST', withdrawPath, { json: { reason: ' ' } });
    expect(noReason.json).toMatchObject({ code: 'reason_required' });
    expect(await trusted(admin)).toHaveLength(1);
    const withdrawn = await admin.request('POST', withdrawPath, {
      json: { reason: 'branch closed' },
    });
    expect(withdrawn.status).toBe(200);
    expect(await trusted(admin)).toEqual([]);
    expect((await audit(admin, 'site_trust_withdrawn')).at(0)).toMatchObject({
      actor: 'admin',
      details: {
        siteId: osaka.site.info.siteId,
        name: 'Osaka',
        url: osaka.site.publicUrl,
        fingerprint: shown.fingerprint,
        reason: 'branch closed',
      },
    });
  });

  it("lets the console's page and its workers call exactly the trusted sites (connect-src), and no longer once withdrawn", async () => {
    const connectSrcOf = async (pathName: string): Promise<string[]> => {
      const page = await new Client(tokyo.site.url).request('GET', pathName);
      expect(page.status).toBe(200);
      const policy = String(page.headers['content-security-policy']);
      const directive = policy.split('; ').find((d) => d.startsWith('connect-src '));
      return directive!.split(' ').slice(1);
    };
    // A worker runs under its own script's policy: restore workers read chunks from other sites.
    const connectSrc = async (): Promise<string[]> => {
      const page = await connectSrcOf('/login');
      expect(await connectSrcOf(`/assets/${WORKER}`)).toEqual(page);
      return page;
    };
    expect(await connectSrc()).toEqual(["'self'"]);
    // Other scripts keep the default policy and their cache.
    expect(await connectSrcOf('/assets/index-AbC123.js')).toEqual(["'self'"]);
    const worker = await new Client(tokyo.site.url).request('GET', `/assets/${WORKER}`);
    expect(worker.headers['cache-control']).toBe('no-store');
    const { fingerprint } = (
      await admin.request('POST', '/api/admin/sites/preview', {
        json: { url: osaka.site.publicUrl },
      })
    ).json as SitePreview;
    await admin.request('POST', '/api/admin/sites', {
      json: { url: osaka.site.publicUrl, fingerprint },
    });
    expect(await connectSrc()).toEqual(["'self'", osaka.site.publicUrl]);
    expect(await connectSrcOf('/assets/index-AbC123.js')).toEqual(["'self'"]);
    await admin.request('POST', `/api/admin/sites/${osaka.site.info.siteId}/withdraw`, {
      json: { reason: 'branch closed' },
    });
    expect(await connectSrc()).toEqual(["'self'"]);
  });

  it('refuses a fingerprint the site does not present, names the one it does, and stores nothing', async () => {
    const wrong = 'ab'.repeat(32);
    const answer = await admin.request('POST', '/api/admin/sites', {
      json: { url: osaka.site.publicUrl, fingerprint: wrong },
    });
    expect(answer.status).toBe(409);
    expect(answer.json).toMatchObject({
      code: 'fingerprint_mismatch',
      details: { siteId: osaka.site.info.siteId, fingerprint: await fingerprintOf(osaka) },
    });
    expect(await trusted(admin)).toEqual([]);
    expect((await audit(admin, 'site_trust_refused')).at(0)).toMatchObject({
      actor: 'admin',
      details: { confirmed: wrong, presented: await fingerprintOf(osaka) },
    });
  });

  it('refuses what is not a Custodian site, what does not answer, and this site itself', async () => {
    const html = await otherServer((res) => res.end('<html>a web page</html>'));
    const lookalike = await otherServer((res) => {
      res.setHeader('content-type', 'application/json');
      const { info } = osaka.site;
      const escrowKey = { ...tokyo.site.info.escrowKey, fingerprint: info.escrowKey.fingerprint };
      res.end(JSON.stringify({ ...info, escrowKey }));
    });
    const forwarded = await otherServer((res) => {
      res.writeHead(302, { location: `${osaka.site.publicUrl}/api/site` }).end();
    });
    try {
      const cases: [string, number, string][] = [
        [html.url, 422, 'not_a_custodian_site'],
        // Tokyo's escrow key under Osaka's fingerprint: the keys do not match what it states.
        [lookalike.url, 422, 'not_a_custodian_site'],
        // The address trusted must be the site's own, not one that sends elsewhere.
        [forwarded.url, 422, 'not_a_custodian_site'],
        [await closedPort(), 502, 'site_unreachable'],
        [tokyo.site.publicUrl, 409, 'own_site'],
        [tokyo.site.publicUrl.replace('127.0.0.1', 'localhost'), 409, 'own_site'],
        ['osaka.example:8787', 400, 'invalid_site_address'],
        [`${osaka.site.publicUrl}/admin/sites`, 400, 'invalid_site_address'],
        ['ftp://osaka.example', 400, 'invalid_site_address'],
      ];
      for (const [url, status, code] of cases) {
        for (const [route, body] of [
          ['/api/admin/sites/preview', { url }],
          ['/api/admin/sites', { url, fingerprint: await fingerprintOf(osaka) }],
        ] as const) {
          const answer = await admin.request('POST', route, { json: body });
          expect([url, route, answer.status, answer.json]).toMatchObject([
            url,
            route,
            status,
            { code },
          ]);
        }
      }
      expect(await trusted(admin)).toEqual([]);
    } finally {
      await Promise.all([html.close(), lookalike.close(), forwarded.close()]);
    }
  });

  it('lets only administrators see, fetch, trust and withdraw sites', async () => {
    const operator = await signedIn(tokyo, 'operator');
    const fingerprint = await fingerprintOf(osaka);
    const calls: [string, string, unknown][] = [
      ['GET', '/api/admin/sites', undefined],
      ['POST', '/api/admin/sites/preview', { url: osaka.site.publicUrl }],
      ['POST', '/api/admin/sites', { url: osaka.site.publicUrl, fingerprint }],
      ['POST', `/api/admin/sites/${osaka.site.info.siteId}/withdraw`, { reason: 'x' }],
      ['POST', `/api/admin/sites/${osaka.site.info.siteId}/check`, undefined],
    ];
    for (const [method, route, json] of calls) {
      const answer = await operator.request(method, route, json === undefined ? {} : { json });
      expect([route, answer.status, answer.json]).toMatchObject([
        route,
        403,
        { code: 'forbidden' },
      ]);
    }
    expect(await trusted(admin)).toEqual([]);
  });

  it('contacts a trusted site and tells whether it answers', async () => {
    await admin.request('POST', '/api/admin/sites', {
      json: { url: osaka.site.publicUrl, fingerprint: await fingerprintOf(osaka) },
    });
    const check = `/api/admin/sites/${osaka.site.info.siteId}/check`;
    const first = (await admin.request('POST', check)).json as SiteCheck;
    expect(first).toMatchObject({ outcome: 'reachable', site: { reachable: true } });
    expect((await admin.request('POST', '/api/admin/sites/not-trusted/check')).status).toBe(404);
  });
});

describe('a trusted site that presents another key (MS-1)', { timeout: 60_000 }, () => {
  it('is refused and alerted once, its pins stay, and it is accepted again with its pinned key', async () => {
    const tokyo = await startTestSite({
      siteId: 'test-site-tokyo',
      env: { CUSTODIAN_SITE_NAME: 'Tokyo' },
      siteContactMs: 200,
    });
    let osaka: TestSite | undefined = await startTestSite({
      siteId: 'test-site-osaka',
      env: { CUSTODIAN_SITE_NAME: 'Osaka' },
    });
    const { dataDir } = osaka;
    const port = Number(new URL(osaka.site.publicUrl).port);
    /** Stops Osaka, edits its stored keys, and starts it again at the same address. */
    const restartOsaka = async (edit: (sqlite: SQLite.Database) => void): Promise<TestSite> => {
      await osaka?.stop();
      osaka = undefined;
      const sqlite = new SQLite(path.join(dataDir, 'custodian.sqlite'));
      edit(sqlite);
      sqlite.close();
      osaka = await startTestSite({ dataDir, port, env: { CUSTODIAN_SITE_NAME: 'Osaka' } });
      return osaka;
    };
    try {
      const admin = await signedIn(tokyo, 'admin');
      const pinned = await fingerprintOf(osaka);
      const trust = await admin.request('POST', '/api/admin/sites', {
        json: { url: osaka.site.publicUrl, fingerprint: pinned },
      });
      expect(trust.status).toBe(201);
      const before = (trust.json as { site: TrustedSite }).site;

      // Osaka comes back at the same address with the same site ID and a new escrow key.
      let oldKey: unknown;
      const changed = await restartOsaka((sqlite) => {
        oldKey = sqlite.prepare("select * from site_keys where purpose = 'escrow'").get();
        sqlite.prepare("delete from site_keys where purpose = 'escrow'").run();
      });
      const presented = await fingerprintOf(changed);
      expect(changed.site.info.siteId).toBe(before.siteId);
      expect(presented).not.toBe(pinned);

      // The periodic contact finds it by itself.
      await vi.waitFor(
        async () => expect(await alerts(admin, 'pinned_key_changed')).toHaveLength(1),
        {
          timeout: 10_000,
        },
      );
      const check = `/api/admin/sites/${before.siteId}/check`;
      const refused = (await admin.request('POST', check)).json as SiteCheck;
      expect(refused.outcome).toBe('keys_changed');
      expect(refused.site).toMatchObject({
        fingerprint: pinned,
        escrowKey: before.escrowKey,
        signingKey: before.signingKey,
        refusedFingerprint: presented,
      });
      // Contact after contact, one alert and one audit entry for this key, and no "last contact".
      await new Promise((resolve) => setTimeout(resolve, 600));
      const later = (await admin.request('POST', check)).json as SiteCheck;
      expect(later.site.lastContactAt).toBe(refused.site.lastContactAt);
      const [alert] = await alerts(admin, 'pinned_key_changed');
      expect(await alerts(admin, 'pinned_key_changed')).toHaveLength(1);
      expect(alert!.sentence).toContain('a different escrow key');
      expect(alert!.sentence).toContain(presented);
      const entries = await audit(admin, 'pinned_site_refused');
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        actor: null,
        details: {
          siteId: before.siteId,
          pinned,
          presented,
          changed: ['a different escrow key'],
        },
      });
      // Its console is not answered while it presents another key.
      const fromOsaka = await new Client(tokyo.site.url).request('GET', '/api/site', {
        headers: { origin: changed.site.publicUrl },
      });
      expect(fromOsaka.status).toBe(403);
      // Trusting it again under the new fingerprint needs the old trust withdrawn first.
      const anew = await admin.request('POST', '/api/admin/sites', {
        json: { url: changed.site.publicUrl, fingerprint: presented },
      });
      expect(anew.json).toMatchObject({ code: 'site_already_trusted' });

      // Unreachable is not a key change: no alert, the pins and the refusal stay.
      await osaka?.stop();
      osaka = undefined;
      const away = (await admin.request('POST', check)).json as SiteCheck;
      expect(away.outcome).toBe('unreachable');
      expect(away.site).toMatchObject({ reachable: false, refusedFingerprint: presented });
      expect(await alerts(admin, 'pinned_key_changed')).toHaveLength(1);

      // With its pinned key back, it is accepted again.
      await restartOsaka((sqlite) => {
        sqlite.prepare("delete from site_keys where purpose = 'escrow'").run();
        sqlite
          .prepare(
            'insert into site_keys (purpose, public_jwk, wrapped_private, created_at) values (@purpose, @public_jwk, @wrapped_private, @created_at)',
          )
          .run(oldKey);
      });
      const back = (await admin.request('POST', check)).json as SiteCheck;
      expect(back.outcome).toBe('reachable');
      expect(back.site).toMatchObject({ reachable: true, refusedFingerprint: null });
      const answered = await new Client(tokyo.site.url).request('GET', '/api/site', {
        headers: { origin: osaka!.site.publicUrl },
      });
      expect(answered.status).toBe(200);
    } finally {
      await osaka?.stop();
      await tokyo.stop();
    }
  });
});

/**
 * `npm run site -- <args>` on a site's data directory, as the operator on its
 * host runs it; asynchronously, so that the sites of this process keep answering.
 */
function runSite(
  site: TestSite,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'mock-server/src/main.ts', ...args, '--data-dir', site.dataDir],
    {
      env: { ...process.env, CUSTODIAN_MASTER_KEY_FILE: site.config.masterKeyFile! },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

// Each case starts the site's command line (a Node process each).
describe('trusting a site from the command line (MS-1)', { timeout: 120_000 }, () => {
  it('trusts only the fingerprint the site presents, audited as the host, and lists and withdraws', async () => {
    const [tokyo, osaka] = await Promise.all([
      startTestSite({ siteId: 'test-site-tokyo', env: { CUSTODIAN_SITE_NAME: 'Tokyo' } }),
      startTestSite({ siteId: 'test-site-osaka', env: { CUSTODIAN_SITE_NAME: 'Osaka' } }),
    ]);
    try {
      const admin = await signedIn(tokyo, 'admin');
      const fingerprint = await fingerprintOf(osaka);
      const url = osaka.site.publicUrl;

      const wrong = await runSite(tokyo, ['trust', '--url', url, '--fingerprint', 'cd'.repeat(32)]);
      expect(wrong.status).toBe(1);
      expect(wrong.stderr).toContain(fingerprint);
      expect(wrong.stderr).toContain(osaka.site.info.siteId);
      expect(wrong.stderr).toContain('Nothing was trusted');
      expect(await trusted(admin)).toEqual([]);

      const shown = await runSite(tokyo, ['trust', '--url', url]);
      expect(shown.status).toBe(2);
      expect(shown.stdout).toContain(fingerprint);
      expect(await trusted(admin)).toEqual([]);

      // Typed in capitals and grouped, as someone may read it out.
      const grouped = fingerprint.toUpperCase().match(/.{4}/g)!.join(':');
      const done = await runSite(tokyo, ['trust', '--url', url, '--fingerprint', grouped]);
      expect(done.stderr).toBe('');
      expect(done.status).toBe(0);
      for (const part of [
        'Osaka',
        osaka.site.info.siteId,
        fingerprint,
        osaka.site.info.escrowKey.fingerprint,
        osaka.site.info.signingKey.fingerprint,
      ]) {
        expect(done.stdout).toContain(part);
      }
      expect(await trusted(admin)).toMatchObject([
        { siteId: osaka.site.info.siteId, url, fingerprint, trustedBy: null },
      ]);
      expect((await audit(admin, 'site_trusted')).at(0)).toMatchObject({
        actor: null,
        clientAddress: 'cli',
        details: { siteId: osaka.site.info.siteId, name: 'Osaka', url, fingerprint },
      });

      const listed = await runSite(tokyo, ['sites']);
      expect(listed.status).toBe(0);
      expect(listed.stdout).toContain(await fingerprintOf(tokyo));
      expect(listed.stdout).toContain(fingerprint);

      const withdrawn = await runSite(tokyo, [
        'withdraw',
        '--site-id',
        osaka.site.info.siteId,
        '--reason',
        'moved',
      ]);
      expect(withdrawn.status).toBe(0);
      expect(await trusted(admin)).toEqual([]);
      expect((await audit(admin, 'site_trust_withdrawn')).at(0)).toMatchObject({
        actor: null,
        clientAddress: 'cli',
        details: { reason: 'moved' },
      });
    } finally {
      await Promise.all([tokyo.stop(), osaka.stop()]);
    }
  });
});
