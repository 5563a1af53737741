/**
 * `npm run bench` (SPEC §4 Performance, issue "Benchmark"): how fast
 * Custodian backs up and restores, against the limits of the machine (each
 * pipeline stage alone, and the CPU) and against restic, in one run, in
 * headless Debian Chromium driving the real console and site on loopback.
 *
 *   npm run bench                   full run: 3 runs, 256 MiB, 1 GiB and an ext4 image
 *   npm run bench -- --quick        small images, 1 run (development)
 *   npm run bench -- --runs 5       more runs
 *   npm run bench -- --only stages  one part: stages | e2e | peer | site (comma-separated)
 *   npm run bench -- --images random-256MiB  only these images (comma-separated names)
 *
 * CUSTODIAN_BENCH_CONSOLE_DIR=dir builds the console there instead of
 * bench/.work/console, so that a run never serves another run's build.
 *
 * A full run writes bench/results.json; --quick and --only write
 * bench/.work/results.partial.json instead, so a partial run never replaces
 * the figures of a full one. Not part of `npm test`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BenchSite, REPO, WORK_DIR, buildConsole, chromiumVersion, launchBrowser } from './browser';
import { runEndToEnd, type E2eRun } from './e2e';
import { ext4Image, randomImage, sha256File, MiB, type BenchImage } from './images';
import { ensurePeerTools, runPeer, toolVersion, type PeerRun } from './peer';
import { loadAverage } from './proc';
import { measureSite, stat, type SiteFigures, type Stat } from './site';
import {
  LIMIT_STAGES,
  STAGES,
  STAGE_LABELS,
  openStagePage,
  runStages,
  stageSetup,
  type StageName,
  type StageRuns,
} from './stages';
import type { BenchSetup } from './page/stages';
import { renderTable, type Results } from './report';

const PARTS = ['stages', 'e2e', 'peer', 'site'] as const;
type Part = (typeof PARTS)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string' },
    images: { type: 'string' },
  },
  strict: true,
});

const quick = values.quick ?? false;
const runs = Number(values.runs ?? (quick ? 1 : 3));
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number ≥ 1');
const only = new Set<Part>(
  (values.only ?? PARTS.join(','))
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      if (!(PARTS as readonly string[]).includes(p)) {
        throw new Error(`--only takes ${PARTS.join(' | ')}, not "${p}"`);
      }
      return p as Part;
    }),
);
const imageNames = values.images
  ?.split(',')
  .map((n) => n.trim())
  .filter(Boolean);
const partial = quick || values.only !== undefined || imageNames !== undefined;
const outFile = path.resolve(
  values.out ??
    (partial
      ? path.join(WORK_DIR, 'results.partial.json')
      : path.join(REPO, 'bench', 'results.json')),
);

const startedAt = Date.now();
function log(line: string): void {
  const t = ((Date.now() - startedAt) / 1000).toFixed(0).padStart(5);
  console.info(`[${t} s] ${line}`);
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

function machine(): Results['machine'] {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const flags = /^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.split(' ') ?? [];
  return {
    cpuModel: model,
    cores: os.cpus().length,
    cpuFeatures: ['aes', 'sha_ni', 'avx2', 'vaes'].filter((f) => flags.includes(f)),
    memoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()} ${os.machine()}`,
  };
}

async function images(): Promise<BenchImage[]> {
  const all = await allImages();
  if (!imageNames) return all;
  const unknown = imageNames.filter((n) => !all.some((i) => i.name === n));
  if (unknown.length) {
    throw new Error(
      `--images takes ${all.map((i) => i.name).join(' | ')}, not "${unknown.join(', ')}"`,
    );
  }
  return all.filter((i) => imageNames.includes(i.name));
}

async function allImages(): Promise<BenchImage[]> {
  fs.mkdirSync(WORK_DIR, { recursive: true });
  if (quick) {
    return [
      await randomImage(WORK_DIR, 'random-32MiB', 32 * MiB),
      await randomImage(WORK_DIR, 'random-128MiB', 128 * MiB),
      await ext4Image(WORK_DIR, 'ext4-64MiB', 64),
    ];
  }
  return [
    await randomImage(WORK_DIR, 'random-256MiB', 256 * MiB),
    await randomImage(WORK_DIR, 'random-1GiB', 1024 * MiB),
    await ext4Image(WORK_DIR, 'ext4-512MiB', 512),
  ];
}

async function stagesOf(image: BenchImage): Promise<{ runs: StageRuns; setup: BenchSetup }> {
  const site = new BenchSite();
  await site.start();
  const browser = await launchBrowser(site.url);
  try {
    const page = await openStagePage(browser, image);
    const setup = await stageSetup(page);
    const stageRuns = await runStages(page, { browser: browser.pid, site: site.pid }, log);
    await page.close();
    return { runs: stageRuns, setup };
  } finally {
    await browser.close();
    await site.stop();
  }
}

interface ImageRuns {
  stages: StageRuns[];
  e2e: E2eRun[];
  peer: PeerRun[];
}

/** The median of each key over runs (a key missing from a run counts as 0), largest first. */
function medianRecord(records: Record<string, number>[]): Record<string, number> {
  const keys = new Set(records.flatMap((r) => Object.keys(r)));
  const medians = [...keys].map(
    (key) => [key, stat(records.map((r) => r[key] ?? 0)).median] as const,
  );
  return Object.fromEntries(
    medians
      .filter(([, v]) => v >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, Number(v.toFixed(2))]),
  );
}

function statOf(values: number[]): Stat | null {
  return values.length ? stat(values) : null;
}

/** Per-run ratios a[i] / b[i] of the runs both have. */
function ratios(a: number[], b: number[]): Stat | null {
  const n = Math.min(a.length, b.length);
  return n ? stat(Array.from({ length: n }, (_, i) => a[i]! / b[i]!)) : null;
}

function slowestOf(run: StageRuns): { stage: StageName; mbps: number } {
  let slowest: StageName = LIMIT_STAGES[0]!;
  for (const name of LIMIT_STAGES) if (run[name].mbps < run[slowest].mbps) slowest = name;
  return { stage: slowest, mbps: run[slowest].mbps };
}

function mostCommon<T>(items: T[]): T | null {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  let best: T | null = null;
  for (const [item, n] of counts) if (best === null || n > counts.get(best)!) best = item;
  return best;
}

async function main(): Promise<void> {
  const loadAtStart = loadAverage();
  // The 1-minute load average every 30 s while the bench runs (its own work included).
  const loadSamples: number[] = [loadAtStart[0]];
  const loadTimer = setInterval(() => loadSamples.push(loadAverage()[0]), 30_000);
  // The console is built from the working tree as it is now, and the site runs from it.
  const custodianVersion = `${git(['rev-parse', '--short', 'HEAD'])}${
    git(['status', '--porcelain', '--', 'src', 'mock-server']) ? ' with uncommitted changes' : ''
  }`;
  log(
    `load average ${loadAtStart.join(' ')}; ${runs} run(s)${quick ? ', quick' : ''}; parts: ${[...only].join(', ')}`,
  );
  if (only.has('peer')) ensurePeerTools(log);
  if (only.has('stages') || only.has('e2e')) await buildConsole(log);
  const list = only.has('site') && only.size === 1 ? [] : await images();
  const sha = new Map<string, string>();
  for (const image of list) {
    sha.set(image.name, sha256File(image.path));
    log(
      `image ${image.name}: ${image.description}, ${image.size} bytes, sha256 ${sha.get(image.name)!.slice(0, 16)}…`,
    );
  }

  const perImage = new Map<string, ImageRuns>(
    list.map((i) => [i.name, { stages: [], e2e: [], peer: [] }]),
  );
  let setup: unknown = null;
  const errors: string[] = [];
  /** Runs `measure`, once more if it fails; a run that fails twice is left out for this image. */
  const attempt = async <T>(what: string, measure: () => Promise<T>): Promise<T | undefined> => {
    for (let tries = 1; tries <= 2; tries++) {
      try {
        return await measure();
      } catch (error) {
        const message = `${what}, attempt ${tries}: ${error instanceof Error ? error.message : String(error)}`;
        errors.push(message);
        log(`  FAILED ${message.slice(0, 500)}`);
      }
    }
    return undefined;
  };
  for (let run = 1; run <= runs; run++) {
    for (const image of list) {
      const into = perImage.get(image.name)!;
      const what = `run ${run}/${runs}, ${image.name}`;
      log(what);
      const stages = only.has('stages')
        ? await attempt(`${what}, stages`, () => stagesOf(image))
        : undefined;
      const e2e = only.has('e2e')
        ? await attempt(`${what}, end to end`, () => runEndToEnd(image, sha.get(image.name)!, log))
        : undefined;
      const peer = only.has('peer')
        ? await attempt(`${what}, peer`, () => runPeer(image, sha.get(image.name)!, WORK_DIR, log))
        : undefined;
      // Ratios pair the parts of one run: keep a run only if every part asked for succeeded.
      const complete =
        (!only.has('stages') || stages) && (!only.has('e2e') || e2e) && (!only.has('peer') || peer);
      if (!complete) {
        log(`  ${what} is left out of the figures`);
        continue;
      }
      if (stages) {
        const { fileSize: _fileSize, ...settings } = stages.setup;
        setup = settings;
        into.stages.push(stages.runs);
      }
      if (e2e) into.e2e.push(e2e);
      if (peer) into.peer.push(peer);
    }
  }

  let site: SiteFigures | null = null;
  if (only.has('site')) {
    log('site: key release and restorer DB');
    site =
      (await attempt('site', () =>
        measureSite({
          runs,
          seconds: quick ? 5 : 20,
          records: quick ? 10_000 : 100_000,
          log: (line) => log(`  ${line}`),
        }),
      )) ?? null;
  }

  const cores = os.cpus().length;
  const GiBInMB = 1024 ** 3 / 1e6;
  const results: Results = {
    date: new Date().toISOString(),
    quick,
    runs,
    parts: [...only],
    machine: machine(),
    versions: {
      node: process.version,
      chromium: chromiumVersion(),
      restic: toolVersion('restic', ['version']),
      age: toolVersion('age', ['--version']),
      custodian: custodianVersion,
    },
    load: { atStart: loadAtStart, atEnd: loadAverage(), oneMinuteDuringRun: stat(loadSamples) },
    settings: setup,
    units: {
      mbps: 'MB/s, 1 MB = 10^6 bytes, of image (plaintext) bytes per second of wall-clock time',
      cpuSecondsPerGiB:
        'CPU seconds (user + system) of all Chromium processes and the site per GiB of image',
      memory:
        'sum of VmRSS of the Chromium browser process and all its children, peak of samples every 200 ms',
    },
    images: Object.fromEntries(
      list.map((i) => [
        i.name,
        { size: i.size, description: i.description, sha256: sha.get(i.name)! },
      ]),
    ),
    stages: {},
    backup: {},
    restore: {},
    ratios: {
      backupVsSlowestStage: {},
      restoreVsSlowestStage: {},
      restoreFromSiteVsSlowestStage: {},
      cpuBound: {},
    },
    peer: {
      restic: { backup: {}, restore: {} },
      age: { encrypt: {} },
      backupVsRestic: {},
      restoreVsRestic: {},
      restoreFromSiteVsRestic: {},
    },
    errors,
    memory: {
      backupPeakBytes: {},
      backupIdleBytes: {},
      restorePeakBytes: {},
      largeVsSmall: null,
      compared: null,
    },
    site,
  };

  for (const image of list) {
    const r = perImage.get(image.name)!;
    const name = image.name;
    if (r.stages.length) {
      const entry: Results['stages'][string] = {
        slowest: {
          stage: mostCommon(r.stages.map((s) => slowestOf(s).stage))!,
          mbps: stat(r.stages.map((s) => slowestOf(s).mbps)),
        },
        figures: {},
      };
      for (const stage of STAGES) {
        entry.figures[stage] = {
          label: STAGE_LABELS[stage],
          mbps: stat(r.stages.map((s) => s[stage].mbps)),
          cpuSecondsPerGiB: stat(r.stages.map((s) => s[stage].cpuSecondsPerGiB)),
          cpuSecondsPerGiBByThread: medianRecord(r.stages.map((s) => s[stage].cpuByThread)),
        };
      }
      results.stages[name] = entry;
      const stageCpu = r.stages.map((s) =>
        LIMIT_STAGES.reduce((sum, st) => sum + s[st].cpuSecondsPerGiB, 0),
      );
      const limit = stageCpu.map((cpu) => (cores / cpu) * GiBInMB);
      results.ratios.cpuBound[name] = {
        stagesCpuSecondsPerGiB: stat(stageCpu),
        cores,
        limitMbps: stat(limit),
        backupVsCpuLimit: ratios(
          r.e2e.map((e) => e.backup.mbps),
          limit,
        ),
        backupCpuSecondsPerGiB: statOf(r.e2e.map((e) => e.backup.cpuSecondsPerGiB)),
      };
    }
    if (r.e2e.length) {
      results.backup[name] = {
        mbps: stat(r.e2e.map((e) => e.backup.mbps)),
        seconds: stat(r.e2e.map((e) => e.backup.seconds)),
        cpuSecondsPerGiB: stat(r.e2e.map((e) => e.backup.cpuSecondsPerGiB)),
        shownSpeed: r.e2e.map((e) => e.backup.shownSpeed),
        cpuSecondsPerGiBByThread: medianRecord(r.e2e.map((e) => e.backup.cpuByThread)),
      };
      const restoreFigures = (pick: (e: E2eRun) => E2eRun['restoreLocal']) => ({
        mbps: stat(r.e2e.map((e) => pick(e).mbps)),
        seconds: stat(r.e2e.map((e) => pick(e).seconds)),
        cpuSecondsPerGiB: stat(r.e2e.map((e) => pick(e).cpuSecondsPerGiB)),
        cpuSecondsPerGiBByThread: medianRecord(r.e2e.map((e) => pick(e).cpuByThread)),
      });
      results.restore[name] = {
        localCopy: restoreFigures((e) => e.restoreLocal),
        site: restoreFigures((e) => e.restoreSite),
      };
      results.memory.backupPeakBytes[name] = stat(r.e2e.map((e) => e.backup.peakMemoryBytes));
      results.memory.backupIdleBytes[name] = stat(r.e2e.map((e) => e.backup.idleMemoryBytes));
      results.memory.restorePeakBytes[name] = {
        localCopy: stat(r.e2e.map((e) => e.restoreLocal.peakMemoryBytes)),
        site: stat(r.e2e.map((e) => e.restoreSite.peakMemoryBytes)),
      };
    }
    if (r.stages.length && r.e2e.length) {
      const slowest = r.stages.map((s) => slowestOf(s).mbps);
      results.ratios.backupVsSlowestStage[name] = ratios(
        r.e2e.map((e) => e.backup.mbps),
        slowest,
      );
      results.ratios.restoreVsSlowestStage[name] = ratios(
        r.e2e.map((e) => e.restoreLocal.mbps),
        slowest,
      );
      results.ratios.restoreFromSiteVsSlowestStage[name] = ratios(
        r.e2e.map((e) => e.restoreSite.mbps),
        slowest,
      );
    }
    if (r.peer.length) {
      const figures = (pick: (p: PeerRun) => PeerRun['resticBackup']) => ({
        mbps: stat(r.peer.map((p) => pick(p).mbps)),
        seconds: stat(r.peer.map((p) => pick(p).seconds)),
        cpuSecondsPerGiB: stat(r.peer.map((p) => pick(p).cpuSecondsPerGiB)),
      });
      results.peer.restic.backup[name] = figures((p) => p.resticBackup);
      results.peer.restic.restore[name] = figures((p) => p.resticRestore);
      results.peer.age.encrypt[name] = figures((p) => p.ageEncrypt);
      if (r.e2e.length) {
        results.peer.backupVsRestic[name] = ratios(
          r.e2e.map((e) => e.backup.mbps),
          r.peer.map((p) => p.resticBackup.mbps),
        );
        results.peer.restoreVsRestic[name] = ratios(
          r.e2e.map((e) => e.restoreLocal.mbps),
          r.peer.map((p) => p.resticRestore.mbps),
        );
        results.peer.restoreFromSiteVsRestic[name] = ratios(
          r.e2e.map((e) => e.restoreSite.mbps),
          r.peer.map((p) => p.resticRestore.mbps),
        );
      }
    }
  }
  const [small, large] = list.filter((i) => i.name.startsWith('random-'));
  if (
    small &&
    large &&
    perImage.get(small.name)!.e2e.length &&
    perImage.get(large.name)!.e2e.length
  ) {
    results.memory.compared = [small.name, large.name];
    results.memory.largeVsSmall = ratios(
      perImage.get(large.name)!.e2e.map((e) => e.backup.peakMemoryBytes),
      perImage.get(small.name)!.e2e.map((e) => e.backup.peakMemoryBytes),
    );
  }

  clearInterval(loadTimer);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  console.info('');
  console.info(renderTable(results));
  console.info('');
  log(
    `results in ${path.relative(process.cwd(), outFile)}; load average at the end ${results.load.atEnd.join(' ')}`,
  );
}

await main();
