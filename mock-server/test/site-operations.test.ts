import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/core/contract';
import { CHUNK_SIZE } from '../../src/core/crypto/constants';
import { backUp, newOperator, randomImage, restore } from './support/backup-client';
import { Client, startTestSite } from './support/test-site';

const VOLUME = 'gpt:6b1f0a4e-2c3d-4e5f-8a9b-0c1d2e3f4a5b';

function runSite(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'mock-server/src/main.ts', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    input: '',
  });
}

// Each case starts the site's command line several times (a Node process each).
describe('site operations (ES-4)', { timeout: 180_000 }, () => {
  it("exports a volume's keys for an administrator, audited, and the independent decoder restores the same bytes", async () => {
    let site = await startTestSite();
    const client = new Client(site.site.url);
    await client.signIn('operator');
    const operator = await newOperator(client);
    const first = randomImage(2 * CHUNK_SIZE + 77, 21);
    await backUp(operator, site.site.info, VOLUME, first);
    const second = first.slice();
    second[5] = (second[5]! + 1) & 0xff; // a second generation, a second epoch
    await backUp(operator, site.site.info, VOLUME, second);
    await site.stop();

    const env = { CUSTODIAN_MASTER_KEY_FILE: site.config.masterKeyFile! };
    const out = fs.mkdtempSync(path.join(path.dirname(site.dataDir), 'export-'));
    const keys = path.join(out, 'keys.json');
    const manifest = path.join(out, 'manifest.json');
    const refused = runSite(
      [
        'export-key',
        '--volume',
        VOLUME,
        '--out',
        keys,
        '--user',
        'operator',
        '--data-dir',
        site.dataDir,
      ],
      {
        ...env,
        CUSTODIAN_ADMIN_PASSWORD: 'custodian-operator',
      },
    );
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('not an administrator');
    expect(fs.existsSync(keys)).toBe(false);
    const wrong = runSite(
      ['export-key', '--volume', VOLUME, '--out', keys, '--data-dir', site.dataDir],
      { ...env, CUSTODIAN_ADMIN_PASSWORD: 'nope' },
    );
    expect(wrong.stderr).toContain('unauthorized user');

    const exported = runSite(
      [
        'export-key',
        '--volume',
        VOLUME,
        '--out',
        keys,
        '--manifest',
        manifest,
        '--data-dir',
        site.dataDir,
      ],
      {
        ...env,
        CUSTODIAN_ADMIN_PASSWORD: 'custodian-admin',
      },
    );
    expect(exported.stderr).toBe('');
    expect(exported.status).toBe(0);
    expect(fs.statSync(keys).mode & 0o777).toBe(0o600);
    const chunksDir = /chunk blobs are in (\S+)/.exec(exported.stdout)![1]!;
    const image = path.join(out, 'restored.img');
    execFileSync(process.execPath, [
      '--import',
      'tsx',
      'tools/decode/main.ts',
      '--manifest',
      manifest,
      '--keys',
      keys,
      '--chunks',
      chunksDir,
      '--out',
      image,
    ]);
    expect(Buffer.compare(fs.readFileSync(image), Buffer.from(second))).toBe(0);

    site = await site.restart();
    const admin = new Client(site.site.url);
    await admin.signIn('admin');
    const audit = (await admin.request('GET', '/api/admin/audit?event=key_exported')).json as {
      entries: AuditEntry[];
    };
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]).toMatchObject({ actor: 'admin', volumeId: VOLUME });
    expect(
      ((await admin.request('POST', '/api/admin/audit/verify')).json as { intact: boolean }).intact,
    ).toBe(true);
    await site.stop();
  });

  it('makes a consistent copy of the data directory that a site can run from', async () => {
    const site = await startTestSite();
    const client = new Client(site.site.url);
    await client.signIn('operator');
    const image = randomImage(CHUNK_SIZE + 5, 4);
    await backUp(await newOperator(client), site.site.info, VOLUME, image, {
      restorers: ['restorer'],
    });
    const copy = path.join(path.dirname(site.dataDir), 'copy', 'data');
    const result = runSite(['backup', '--out', copy, '--data-dir', site.dataDir], {
      CUSTODIAN_MASTER_KEY_FILE: site.config.masterKeyFile!,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('2 chunk blob(s)');
    expect(runSite(['backup', '--out', copy, '--data-dir', site.dataDir], {}).stderr).toContain(
      'not empty',
    );
    await site.stop();

    fs.copyFileSync(site.config.masterKeyFile!, path.join(path.dirname(copy), 'master.key'));
    const fromCopy = await startTestSite({
      dataDir: copy,
      env: { CUSTODIAN_MASTER_KEY_FILE: path.join(path.dirname(copy), 'master.key') },
    });
    const restorer = new Client(fromCopy.site.url);
    await restorer.signIn('restorer');
    expect(
      Buffer.compare(Buffer.from((await restore(restorer, VOLUME)).image), Buffer.from(image)),
    ).toBe(0);
    await fromCopy.stop();
  });
});
