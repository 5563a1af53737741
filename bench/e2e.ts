/**
 * End to end through the product (issue "Benchmark" item 3), the way an
 * operator and a restorer do it in the console: /backup ("Image file",
 * "Back up", wait for "Backup complete" with the image's SHA-256), then
 * /restore ("Restore" on the volume's row, wait until the browser's
 * download of the image has finished) from this browser's local copy, and
 * by the named restorer in a fresh browser, i.e. from the site. Wall-clock
 * time from the click; peak resident memory and CPU of Chromium's processes
 * (and CPU of the site) from /proc.
 */
import fs from 'node:fs';
import { deriveSiteCredential } from '../src/core/crypto/site-credential';
import { BenchSite, launchBrowser, type BenchBrowser } from './browser';
import type { CdpPage } from './cdp';
import { sha256File, type BenchImage } from './images';
import { topSelfTime, type Profile } from './profile';
import { CpuMeter, MemorySampler, residentBytes, threadCpuSeconds, threadTicks } from './proc';

const GiB = 1024 ** 3;
const TIMEOUT_MS = 60 * 60_000;
const IDLE_MS = 1_500;

export interface TimedRun {
  readonly mbps: number;
  /** Resident memory of the browser just before the click. */
  readonly idleMemoryBytes: number;
  readonly seconds: number;
  readonly cpuSecondsPerGiB: number;
  /** Chromium's and the site's idle CPU (measured just before) over the run's duration, per GiB; included above. */
  readonly idleCpuSecondsPerGiB: number;
  /** CPU seconds per second while idle, by "process kind / thread". */
  readonly idleCpuByThread: Record<string, number>;
  readonly peakMemoryBytes: number;
  readonly memorySamples: number;
  /** CPU seconds per GiB by "process kind / thread" (Chromium's and the site's). */
  readonly cpuByThread: Record<string, number>;
}

export interface E2eRun {
  readonly volumeId: string;
  readonly backup: TimedRun & { readonly shownSpeed: string };
  readonly restoreLocal: TimedRun;
  readonly restoreSite: TimedRun;
}

/**
 * Signs in through the site's API from the console's origin, as the login
 * form does: the site's ID, the password's credential for it (MS-2), then
 * the login with the credential alone.
 */
async function signIn(page: CdpPage, userId: string): Promise<void> {
  const siteId = await page.call(async () => {
    const answer = await fetch('/api/site');
    return ((await answer.json()) as { siteId: string }).siteId;
  });
  const credential = await deriveSiteCredential(`custodian-${userId}`, siteId);
  const status = await page.call(
    async (body: { userId: string; credential: string }) => {
      const answer = await fetch('/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-custodian-csrf': '1' },
        body: JSON.stringify(body),
        credentials: 'same-origin',
      });
      return answer.status;
    },
    { userId, credential },
  );
  if (status !== 200) throw new Error(`${userId} could not sign in (${status})`);
}

/** Times `work` over `size` bytes, with the memory of `browser` and the CPU of it and the site. */
async function timed(
  browser: BenchBrowser,
  site: BenchSite,
  size: number,
  work: () => Promise<void>,
): Promise<TimedRun> {
  const idle = new CpuMeter([browser.pid, site.pid]);
  const idleThreads = threadTicks([browser.pid, site.pid]);
  const idleStarted = performance.now();
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const idleSeconds = (performance.now() - idleStarted) / 1000;
  const idleRate = idle.stop() / idleSeconds;
  const idleByThread = threadCpuSeconds(idleThreads, threadTicks([browser.pid, site.pid]));
  const idleMemoryBytes = residentBytes([browser.pid]);
  const memory = new MemorySampler([browser.pid], 200);
  const cpu = new CpuMeter([browser.pid, site.pid]);
  const threadsBefore = threadTicks([browser.pid, site.pid]);
  const started = performance.now();
  try {
    await work();
  } catch (error) {
    memory.stop();
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpu.stop();
  const threads = threadCpuSeconds(threadsBefore, threadTicks([browser.pid, site.pid]));
  const { peakBytes, samples } = memory.stop();
  return {
    mbps: size / 1e6 / seconds,
    idleMemoryBytes,
    seconds,
    cpuSecondsPerGiB: cpuSeconds / (size / GiB),
    idleCpuSecondsPerGiB: (idleRate * seconds) / (size / GiB),
    idleCpuByThread: Object.fromEntries(
      Object.entries(idleByThread).map(([key, value]) => [key, value / idleSeconds]),
    ),
    peakMemoryBytes: peakBytes,
    memorySamples: samples,
    cpuByThread: Object.fromEntries(
      Object.entries(threads).map(([key, value]) => [key, value / (size / GiB)]),
    ),
  };
}

/** The input a <label> with this text names. */
function labelledInput(text: string): HTMLInputElement | null {
  const label = [...document.querySelectorAll('label')].find((l) => l.textContent?.trim() === text);
  return label
    ? (document.getElementById(label.getAttribute('for') ?? '') as HTMLInputElement)
    : null;
}

async function backUp(
  browser: BenchBrowser,
  site: BenchSite,
  image: BenchImage,
  sha256: string,
): Promise<{ volumeId: string; run: TimedRun & { shownSpeed: string } }> {
  const { page } = browser;
  await page.goto(`${browser.baseURL}/backup`);
  await page.waitFor(labelledInput, 'Image file');
  const fileInputId = await page.call((find: string) => {
    const label = [...document.querySelectorAll('label')].find(
      (l) => l.textContent?.trim() === find,
    );
    return label?.getAttribute('for') ?? '';
  }, 'Image file');
  await page.setInputFiles(`[id="${fileInputId}"]`, [image.path]);
  const volumeId = await page.waitFor(() => {
    const label = [...document.querySelectorAll('label')].find(
      (l) => l.textContent?.trim() === 'Volume ID',
    );
    const input = label && document.getElementById(label.getAttribute('for') ?? '');
    return (input as HTMLInputElement | null)?.value ?? '';
  });
  // Name the restorer as a person does: type the ID, press Enter.
  await page.call(() => {
    const label = [...document.querySelectorAll('label')].find(
      (l) => l.textContent?.trim() === 'Restorers',
    );
    (document.getElementById(label?.getAttribute('for') ?? '') as HTMLInputElement).focus();
  });
  await page.typeAndEnter('restorer');
  await page.waitFor(() => document.querySelector('button[aria-label="Remove restorer"]'));
  await page.waitFor(() =>
    [...document.querySelectorAll('button')].some(
      (b) => b.textContent?.trim() === 'Back up' && !b.disabled,
    ),
  );
  // CUSTODIAN_BENCH_PROFILE=1: a CPU profile of the console's main thread during the backup.
  const profiling = process.env.CUSTODIAN_BENCH_PROFILE === '1';
  if (profiling) {
    await page.send('Profiler.enable');
    await page.send('Profiler.setSamplingInterval', { interval: 500 });
    await page.send('Profiler.start');
  }
  const run = await timed(browser, site, image.size, async () => {
    await page.call(() => {
      [...document.querySelectorAll('button')]
        .find((b) => b.textContent?.trim() === 'Back up')!
        .click();
    });
    const outcome = await page.waitFor(
      (expected: string) => {
        const region = document.querySelector('[role="region"][aria-label="Backup status"]');
        const text = region?.textContent ?? '';
        if (text.includes('Backup complete') && text.includes(expected)) return 'complete';
        const error = region?.querySelector('.p-message-error');
        return error ? `failed: ${error.textContent ?? ''}` : '';
      },
      sha256,
      TIMEOUT_MS,
    );
    if (outcome !== 'complete') throw new Error(`the backup ${outcome}`);
  });
  if (profiling) {
    const { profile } = await page.send<{ profile: Profile }>('Profiler.stop');
    console.info('    backup, main thread self time:');
    for (const line of topSelfTime(profile, 25)) console.info(`      ${line}`);
  }
  const status = await page.call(
    () => document.querySelector('[role="region"][aria-label="Backup status"]')?.textContent ?? '',
  );
  const shownSpeed = /(\d[\d.,]*\s*[kMG]?B\/s)/.exec(status)?.[1] ?? '';
  return { volumeId, run: { ...run, shownSpeed } };
}

/** The "Restore" button of the volume's row (clicked when `click`), found afresh each time. */
function restoreButton(args: { id: string; click: boolean }): boolean {
  const table = document.querySelector('table[aria-label="Restorable volumes"]');
  const row = [...(table?.querySelectorAll('tr') ?? [])].find((r) =>
    r.textContent?.includes(args.id),
  );
  const button = [...(row?.querySelectorAll('button') ?? [])].find(
    (b) => b.textContent?.trim() === 'Restore',
  );
  if (button && args.click) button.click();
  return button !== undefined;
}

/** "Restore" on the volume's row; done when the browser's download of the image has finished. */
async function restore(
  browser: BenchBrowser,
  site: BenchSite,
  image: BenchImage,
  volumeId: string,
  sha256: string,
): Promise<TimedRun> {
  const { page } = browser;
  await page.goto(`${browser.baseURL}/restore`);
  await page.waitFor(restoreButton, { id: volumeId, click: false });
  // The screen looks for an interrupted restore to resume right after the list loads; a
  // click inside that moment races it (RestoreView's onMounted), so wait as a person would.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  let saved = '';
  const run = await timed(browser, site, image.size, async () => {
    const download = browser.nextDownload(TIMEOUT_MS);
    await page.call(restoreButton, { id: volumeId, click: true });
    const failure = page
      .waitFor(
        () => {
          const region = document.querySelector('[role="region"][aria-label="Restore status"]');
          const error = region?.querySelector('.p-message-error');
          return error ? (region?.textContent ?? 'failed') : '';
        },
        undefined,
        TIMEOUT_MS,
        false,
      )
      .then((text) => {
        throw new Error(`the restore failed: ${text}`);
      });
    failure.catch(() => undefined);
    saved = await Promise.race([download, failure]);
  });
  const got = sha256File(saved);
  fs.rmSync(saved, { force: true });
  if (got !== sha256) throw new Error(`the restored image differs: ${got} ≠ ${sha256}`);
  return run;
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}

/** One backup and two restores of `image` on a fresh site with fresh browsers. */
export async function runEndToEnd(
  image: BenchImage,
  sha256: string,
  log: (line: string) => void,
): Promise<E2eRun> {
  const site = new BenchSite();
  await site.start();
  let operator: BenchBrowser | undefined;
  let restorer: BenchBrowser | undefined;
  try {
    operator = await launchBrowser(site.url);
    await signIn(operator.page, 'operator');
    const { volumeId, run: backup } = await backUp(operator, site, image, sha256);
    log(
      `    backup                  ${backup.mbps.toFixed(0).padStart(5)} MB/s  ${backup.seconds.toFixed(1)} s, shown ${backup.shownSpeed}, peak ${mib(backup.peakMemoryBytes)} MiB (idle ${mib(backup.idleMemoryBytes)}), ${backup.cpuSecondsPerGiB.toFixed(2)} CPU s/GiB (idle baseline ${backup.idleCpuSecondsPerGiB.toFixed(2)})`,
    );
    log(
      `      idle before it, CPU s per s: ${Object.entries(backup.idleCpuByThread)
        .slice(0, 6)
        .map(([key, value]) => `${key} ${value.toFixed(2)}`)
        .join(', ')}`,
    );
    const restoreLocal = await restore(operator, site, image, volumeId, sha256);
    log(
      `    restore (local copy)    ${restoreLocal.mbps.toFixed(0).padStart(5)} MB/s  ${restoreLocal.seconds.toFixed(1)} s, peak ${mib(restoreLocal.peakMemoryBytes)} MiB, ${restoreLocal.cpuSecondsPerGiB.toFixed(2)} CPU s/GiB`,
    );
    await operator.close();
    operator = undefined;
    restorer = await launchBrowser(site.url);
    await signIn(restorer.page, 'restorer');
    const restoreSite = await restore(restorer, site, image, volumeId, sha256);
    log(
      `    restore (from the site) ${restoreSite.mbps.toFixed(0).padStart(5)} MB/s  ${restoreSite.seconds.toFixed(1)} s, peak ${mib(restoreSite.peakMemoryBytes)} MiB, ${restoreSite.cpuSecondsPerGiB.toFixed(2)} CPU s/GiB`,
    );
    return { volumeId, backup, restoreLocal, restoreSite };
  } finally {
    await operator?.close();
    await restorer?.close();
    await site.stop();
  }
}
