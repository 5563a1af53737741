/**
 * `npm run demo:sites`: three demo sites on this machine, each a whole site
 * of its own (data directory, master key, keys, demo accounts), each
 * trusting the other two by their fingerprints (MS-7). Stopping this
 * process (Ctrl-C) stops the three. Started again, the sites keep their data
 * and their trust.
 *
 * Environment: CUSTODIAN_DEMO_SITES_DIR (default ./data/demo-sites) and
 * CUSTODIAN_DEMO_SITES_PORT, the first of three consecutive ports (default 8801).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { siteInfoSchema } from '../src/core/contract';
import { siteFingerprints } from '../src/core/crypto/site-fingerprint';
import { trustSite } from '../mock-server/src/cli/sites';
import { DomainError } from '../mock-server/src/domain/errors';

const NAMES = ['Tokyo', 'Osaka', 'Sapporo'] as const;
const STARTUP_TIMEOUT_MS = 90_000;

interface DemoSite {
  readonly name: string;
  readonly url: string;
  readonly dataDir: string;
  readonly masterKeyFile: string;
  readonly process: ChildProcess;
}

const root = path.resolve(process.env.CUSTODIAN_DEMO_SITES_DIR ?? 'data/demo-sites');
const firstPort = Number(process.env.CUSTODIAN_DEMO_SITES_PORT ?? 8801);
if (!Number.isInteger(firstPort) || firstPort < 1 || firstPort > 65533) {
  process.stderr.write(
    `CUSTODIAN_DEMO_SITES_PORT must be a port number, not "${String(process.env.CUSTODIAN_DEMO_SITES_PORT)}".\n`,
  );
  process.exit(2);
}

for (let i = 0; i < NAMES.length; i += 1) {
  if (await answers(`http://127.0.0.1:${firstPort + i}`)) {
    process.stderr.write(
      `Something already answers on port ${firstPort + i} (demo sites started before?). Stop it, or set CUSTODIAN_DEMO_SITES_PORT to another first port.\n`,
    );
    process.exit(2);
  }
}
const sites: DemoSite[] = NAMES.map((name, i) => start(name, firstPort + i));
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(0));
for (const site of sites) {
  site.process.on('exit', (code) => {
    if (stopping) return;
    process.stderr.write(
      `Site "${site.name}" stopped (exit ${String(code)}); stopping the others.\n`,
    );
    stop(1);
  });
}

try {
  await Promise.all(sites.map(waitUntilServing));
  await trustEachOther(sites);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  stop(1);
}
if (!stopping) {
  const lines = ['Three demo sites trust each other:'];
  for (const site of sites) lines.push(`  ${site.name.padEnd(8)} ${site.url}/`);
  lines.push(
    'Each has the demo accounts (password = custodian-<user ID>, e.g. operator / custodian-operator).',
    `Data and master keys: ${root}`,
    'Ctrl-C stops all three.',
  );
  process.stdout.write(`\n${lines.join('\n')}\n\n`);
}

function start(name: string, port: number): DemoSite {
  const dir = path.join(root, name.toLowerCase());
  const dataDir = path.join(dir, 'data');
  // The master key is kept apart from the data, as on a real site.
  const masterKeyFile = path.join(dir, 'secrets', 'master.key');
  mkdirSync(path.dirname(masterKeyFile), { recursive: true });
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'mock-server/src/main.ts',
      'start',
      '--demo',
      '--port',
      String(port),
      '--public-url',
      url,
      '--site-name',
      name,
      '--data-dir',
      dataDir,
    ],
    {
      env: { ...process.env, CUSTODIAN_MASTER_KEY_FILE: masterKeyFile },
      // Each site's own banner would repeat the accounts three times; errors still show.
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return { name, url, dataDir, masterKeyFile, process: child };
}

async function waitUntilServing(site: DemoSite): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (stopping) return;
    if (await answers(site.url)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `Site "${site.name}" did not answer on ${site.url} within ${STARTUP_TIMEOUT_MS / 1000} s.`,
  );
}

/** Whether a site answers its health check at `url`. */
async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/api/health`)).ok;
  } catch {
    return false;
  }
}

/**
 * Each site pins the other two by the fingerprints they present now, through
 * the same command an operator runs (`npm run site -- trust`), audited as
 * coming from the command line. A pin kept from an earlier start stays.
 */
async function trustEachOther(all: readonly DemoSite[]): Promise<void> {
  const fingerprints = new Map<string, string>();
  for (const site of all) {
    const info = siteInfoSchema.parse(await (await fetch(`${site.url}/api/site`)).json());
    fingerprints.set(site.url, (await siteFingerprints(info)).site);
  }
  for (const site of all) {
    process.stdout.write(`${site.name} trusts:\n`);
    for (const other of all) {
      if (other === site) continue;
      try {
        await trustSite([
          '--url',
          other.url,
          '--fingerprint',
          fingerprints.get(other.url)!,
          '--reason',
          'the demo sites trust each other',
          '--data-dir',
          site.dataDir,
          '--master-key-file',
          site.masterKeyFile,
        ]);
      } catch (error) {
        if (error instanceof DomainError && error.code === 'site_already_trusted') {
          process.stdout.write(`"${other.name}" at ${other.url}, pinned at an earlier start\n`);
          continue;
        }
        throw error;
      }
      if (process.exitCode) throw new Error(`"${site.name}" could not trust "${other.name}".`);
    }
  }
}

function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const site of sites) site.process.kill('SIGTERM');
  process.exitCode = code;
}
