/**
 * Stage limits (issue "Benchmark" item 2): each stage of the backup
 * pipeline alone, in the stage page (bench/page/stages.ts) that runs the
 * product's own modules in Chromium against the real site. Throughput from
 * the page's clock; CPU from /proc for Chromium's processes and the site's.
 */
import type { BenchSetup, StageTiming } from './page/stages';
import type { BenchBrowser } from './browser';
import { CdpPage } from './cdp';
import type { BenchImage } from './images';
import { CpuMeter, threadCpuSeconds, threadTicks } from './proc';

export const STAGES = ['read', 'hash', 'encrypt', 'indexedDb', 'upload'] as const;
export type StageName = (typeof STAGES)[number];

/** The stages the issue names; `read` is shown for reference (every stage includes it). */
export const LIMIT_STAGES: readonly StageName[] = ['hash', 'encrypt', 'indexedDb', 'upload'];

export const STAGE_LABELS: Record<StageName, string> = {
  read: 'read (File.slice)',
  hash: 'SHA-256 + chunk ID',
  encrypt: 'AES-GCM encrypt + verify (worker pool)',
  indexedDb: 'IndexedDB bulkPut (saveBatch)',
  upload: 'upload to the site (putTransfer)',
};

export interface StageRun {
  readonly mbps: number;
  readonly cpuSeconds: number;
  /** Of which the site's process. */
  readonly siteCpuSeconds: number;
  readonly cpuSecondsPerGiB: number;
  /**
   * What Chromium and the site burn while idle (measured over the pause
   * before the stage), over the stage's duration, per GiB: included in
   * cpuSecondsPerGiB, shown so that a small image's figure can be judged.
   */
  readonly idleCpuSecondsPerGiB: number;
  readonly bytes: number;
  readonly ms: number;
  /** CPU seconds per GiB by "process kind / thread". */
  readonly cpuByThread: Record<string, number>;
}

export type StageRuns = Record<StageName, StageRun>;

const GiB = 1024 ** 3;
const SETTLE_MS = 1_500;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function openStagePage(browser: BenchBrowser, image: BenchImage): Promise<CdpPage> {
  const page = await CdpPage.open(browser.cdp);
  await page.goto(`${browser.baseURL}/bench/page/bench.html`);
  await page.waitFor(() => document.querySelector('#state')?.textContent === 'ready');
  await page.setInputFiles('#image', [image.path]);
  await page.evaluate(`window.custodianBench.signIn('operator')`);
  return page;
}

export async function stageSetup(page: CdpPage): Promise<BenchSetup> {
  return page.evaluate<BenchSetup>('window.custodianBench.setup()');
}

/** One run of every stage on the image in `page`, with the pids of Chromium's browser process and the site. */
export async function runStages(
  page: CdpPage,
  pids: { readonly browser: number; readonly site: number },
  log: (line: string) => void,
): Promise<StageRuns> {
  const measure = async (name: StageName): Promise<StageRun> => {
    const idle = new CpuMeter([pids.browser, pids.site]);
    const idleStarted = performance.now();
    await pause(SETTLE_MS);
    const idleRate = idle.stop() / ((performance.now() - idleStarted) / 1000);
    const browserCpu = new CpuMeter([pids.browser]);
    const siteCpu = new CpuMeter([pids.site]);
    const threadsBefore = threadTicks([pids.browser, pids.site]);
    const timing = await page.evaluate<StageTiming>(`window.custodianBench.${name}()`);
    const siteCpuSeconds = siteCpu.stop();
    const cpuSeconds = browserCpu.stop() + siteCpuSeconds;
    const threads = threadCpuSeconds(threadsBefore, threadTicks([pids.browser, pids.site]));
    const gib = timing.bytes / GiB;
    const run: StageRun = {
      mbps: timing.bytes / 1e6 / (timing.ms / 1000),
      cpuSeconds,
      siteCpuSeconds,
      cpuSecondsPerGiB: cpuSeconds / (timing.bytes / GiB),
      idleCpuSecondsPerGiB: (idleRate * timing.ms) / 1000 / gib,
      bytes: timing.bytes,
      ms: timing.ms,
      cpuByThread: Object.fromEntries(Object.entries(threads).map(([k, v]) => [k, v / gib])),
    };
    log(
      `    ${STAGE_LABELS[name].padEnd(40)} ${run.mbps.toFixed(0).padStart(5)} MB/s  ${run.cpuSecondsPerGiB.toFixed(2)} CPU s/GiB (site ${(siteCpuSeconds / (timing.bytes / GiB)).toFixed(2)}, idle baseline ${run.idleCpuSecondsPerGiB.toFixed(2)})`,
    );
    return run;
  };
  const read = await measure('read');
  const hash = await measure('hash');
  const encrypt = await measure('encrypt');
  await page.evaluate('window.custodianBench.prepare()');
  const indexedDb = await measure('indexedDb');
  const upload = await measure('upload');
  await page.evaluate('window.custodianBench.release()');
  return { read, hash, encrypt, indexedDb, upload };
}
