/**
 * `npx tsx bench/profile.ts [stage ...]`: a CPU profile (CDP Profiler) of
 * the stage page's main thread while it runs the named stages of
 * bench/page/stages.ts on the 256 MiB random image, printed as the
 * functions with the most self time. For finding where a stage's CPU goes;
 * not part of `npm run bench`.
 */
import path from 'node:path';
import { BenchSite, WORK_DIR, buildConsole, launchBrowser } from './browser';
import { randomImage, MiB } from './images';
import { openStagePage } from './stages';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The functions with the most self time in a CDP CPU profile, one line each. */
export function topSelfTime(profile: Profile, count = 15): string[] {
  const self = new Map<string, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${path.basename(f.url)}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(
      ([key, us]) =>
        `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${key}`,
    );
}

const stages = process.argv.slice(2);
const log = (line: string): void => console.info(line);

async function main(): Promise<void> {
  await buildConsole(log);
  const image = await randomImage(WORK_DIR, 'random-256MiB', 256 * MiB);
  const site = new BenchSite();
  await site.start();
  const browser = await launchBrowser(site.url);
  try {
    const page = await openStagePage(browser, image);
    if (stages.some((s) => s === 'indexedDb' || s === 'upload')) {
      await page.evaluate('window.custodianBench.prepare()');
    }
    await page.send('Profiler.enable');
    await page.send('Profiler.setSamplingInterval', { interval: 200 });
    for (const stage of stages.length ? stages : ['hash']) {
      await page.send('Profiler.start');
      const timing = await page.evaluate<{ ms: number; bytes: number }>(
        `window.custodianBench.${stage}()`,
      );
      const { profile } = await page.send<{ profile: Profile }>('Profiler.stop');
      log(`${stage}: ${timing.ms.toFixed(0)} ms for ${timing.bytes} bytes; main thread self time:`);
      for (const line of topSelfTime(profile)) log(`  ${line}`);
    }
    await page.close();
  } finally {
    await browser.close();
    await site.stop();
  }
}

if (process.argv[1] && /profile\.ts$/.test(process.argv[1])) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
