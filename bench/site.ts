/**
 * Site figures of the benchmark (SPEC §4, issue "Benchmark" item 7): key
 * release throughput and latency at 50 concurrent clients on a reusable
 * volume, and restorer DB page latency with 100 000 records. The site runs
 * in its own process, as in production; the load comes from autocannon.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import {
  exportEnvelopePublicKeyJwk,
  generateEnvelopeKeyPair,
} from '../src/core/crypto/envelope-key';
import { backUp, enc, newOperator, randomImage } from '../mock-server/test/support/backup-client';
import { startSiteProcess } from '../mock-server/test/support/site-process';
import { Client } from '../mock-server/test/support/test-site';

export interface Stat {
  readonly min: number;
  readonly median: number;
  readonly max: number;
  readonly runs: number[];
}

export function stat(runs: number[]): Stat {
  const sorted = [...runs].sort((a, b) => a - b);
  return {
    min: sorted[0]!,
    median: sorted[Math.floor(sorted.length / 2)]!,
    max: sorted.at(-1)!,
    runs,
  };
}

export interface SiteFigures {
  keyRelease: {
    requestsPerSecond: Stat;
    p50Ms: Stat;
    p99Ms: Stat;
    errors: number;
    connections: number;
    durationSeconds: number;
  };
  restorerDbPage: { records: number; queries: Record<string, Stat> };
}

async function keyReleaseRun(
  url: string,
  cookie: string,
  volumeId: string,
  jwk: JsonWebKey,
  seconds: number,
) {
  let n = 0;
  const result = await autocannon({
    url: `${url}/api/volumes/${enc(volumeId)}/key-release`,
    method: 'POST',
    connections: 50,
    duration: seconds,
    headers: { cookie, 'content-type': 'application/json', 'x-custodian-csrf': '1' },
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({
            requestId: `bench-${process.pid}-${Date.now()}-${n++}`,
            generation: 1,
            ephemeralPublicKey: jwk,
          }),
        }),
      },
    ],
  });
  return result;
}

export async function measureSite(options: {
  runs: number;
  seconds: number;
  records: number;
  log: (line: string) => void;
}): Promise<SiteFigures> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-bench-site-'));
  let site = await startSiteProcess(root);
  try {
    const operatorClient = new Client(site.url);
    await operatorClient.signIn('operator');
    const info = (await operatorClient.request('GET', '/api/site')).json as Parameters<
      typeof backUp
    >[1];
    const volumeId = 'bench:reusable';
    await backUp(await newOperator(operatorClient), info, volumeId, randomImage(3 * 1024 * 1024), {
      restorers: ['restorer'],
      policy: { kind: 'reusable' },
    });
    const restorer = new Client(site.url);
    await restorer.signIn('restorer');
    const jwk = await exportEnvelopePublicKeyJwk((await generateEnvelopeKeyPair()).publicKey);

    options.log(`key release: ${options.runs} runs of ${options.seconds} s at 50 connections`);
    await keyReleaseRun(site.url, restorer.cookieHeader, volumeId, jwk, 2); // warm-up
    const rps: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    let errors = 0;
    for (let i = 0; i < options.runs; i++) {
      const r = await keyReleaseRun(
        site.url,
        restorer.cookieHeader,
        volumeId,
        jwk,
        options.seconds,
      );
      errors += r.errors + r.non2xx;
      rps.push(r.requests.average);
      p50.push(r.latency.p50);
      p99.push(r.latency.p99);
      options.log(
        `  run ${i + 1}: ${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${r.non2xx} non-2xx`,
      );
    }
    await site.kill('SIGTERM');

    options.log(`restorer DB: seeding ${options.records} records`);
    const seeded = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'mock-server/src/main.ts',
        'seed',
        '--records',
        String(options.records),
        '--data-dir',
        site.dataDir,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, CUSTODIAN_MASTER_KEY_FILE: path.join(root, 'master.key') },
      },
    );
    if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr}`);
    site = await startSiteProcess(root);
    const admin = new Client(site.url);
    await admin.signIn('admin');
    const queries: Record<string, string> = {
      'first page': 'pageSize=50',
      'state + policy': 'state=burned&policy=reusable&pageSize=50',
      'owner, sorted, page 500': 'owner=operator2&sort=volumeId&order=asc&page=500&pageSize=50',
      restorer: 'restorer=outsider&page=20&pageSize=50',
      'search, many matches': 'q=restorer2&pageSize=50',
      'search, one match': 'q=0000abc&pageSize=50',
      'search, no match': 'q=zzzz&pageSize=50',
    };
    const figures: Record<string, Stat> = {};
    for (const [name, query] of Object.entries(queries)) {
      await admin.request('GET', `/api/admin/records?${query}`); // warm-up
      const times: number[] = [];
      for (let i = 0; i < Math.max(options.runs, 5); i++) {
        const started = performance.now();
        const answer = await admin.request('GET', `/api/admin/records?${query}`);
        times.push(performance.now() - started);
        if (answer.status !== 200) throw new Error(`${query} answered ${answer.status}`);
      }
      figures[name] = stat(times);
      options.log(
        `  ${name}: median ${figures[name].median.toFixed(1)} ms (max ${figures[name].max.toFixed(1)})`,
      );
    }
    return {
      keyRelease: {
        requestsPerSecond: stat(rps),
        p50Ms: stat(p50),
        p99Ms: stat(p99),
        errors,
        connections: 50,
        durationSeconds: options.seconds,
      },
      restorerDbPage: { records: options.records, queries: figures },
    };
  } finally {
    await site.kill('SIGTERM');
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await measureSite({
    runs: 3,
    seconds: 20,
    records: 100_000,
    log: (l) => console.info(l),
  });
  console.info(JSON.stringify(figures, null, 2));
}
