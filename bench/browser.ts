/**
 * The pieces every browser measurement needs: the console built together
 * with the stage page, the real site serving it on loopback (its own
 * process, a fresh data directory), and headless Debian Chromium with a
 * persistent profile on a temporary directory, with the project's Chromium
 * flags (CHROMIUM_ARGS of playwright.config.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, mergeConfig, type InlineConfig } from 'vite';
import { CHROMIUM_ARGS } from '../playwright.config';
import baseConfig from '../vite.config';
import { CdpConnection, CdpPage } from './cdp';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const WORK_DIR = path.join(REPO, 'bench', '.work');
/** Where the console is built; CUSTODIAN_BENCH_CONSOLE_DIR keeps two checkouts' runs apart. */
export const CONSOLE_DIR = path.resolve(
  process.env.CUSTODIAN_BENCH_CONSOLE_DIR ?? path.join(WORK_DIR, 'console'),
);
export const CHROMIUM = process.env.CUSTODIAN_CHROMIUM ?? '/usr/bin/chromium';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * Builds the console (as `npm run build` does) plus bench/page/bench.html
 * into bench/.work/console, unless nothing it is made of changed since.
 */
export async function buildConsole(log: (line: string) => void): Promise<void> {
  const sources = Math.max(
    newestMtime(path.join(REPO, 'src')),
    newestMtime(path.join(REPO, 'bench', 'page')),
    newestMtime(path.join(REPO, 'public')),
    fs.statSync(path.join(REPO, 'index.html')).mtimeMs,
    fs.statSync(path.join(REPO, 'vite.config.ts')).mtimeMs,
  );
  const stamp = `${CONSOLE_DIR}.stamp`;
  const built = fs.existsSync(stamp) ? Number(fs.readFileSync(stamp, 'utf8')) : 0;
  if (built >= sources && fs.existsSync(path.join(CONSOLE_DIR, 'bench', 'page', 'bench.html'))) {
    return;
  }
  log('building the console and the stage page (vite build)');
  const config: InlineConfig = mergeConfig(baseConfig, {
    configFile: false,
    root: REPO,
    logLevel: 'warn',
    build: {
      outDir: CONSOLE_DIR,
      emptyOutDir: true,
      sourcemap: false,
      rollupOptions: {
        input: {
          index: path.join(REPO, 'index.html'),
          bench: path.join(REPO, 'bench', 'page', 'bench.html'),
        },
      },
    },
  });
  await build(config);
  fs.writeFileSync(stamp, String(sources));
}

/** The site in its own process with a fresh data directory, serving the bench build. */
export class BenchSite {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-bench-site-'));
  readonly dataDir = path.join(this.root, 'data');
  #child: ChildProcess | undefined;
  url = '';

  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [
        // A diagnostic hook, e.g. BENCH_SITE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
        ...(process.env.BENCH_SITE_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
        '--import',
        'tsx',
        'mock-server/src/main.ts',
        'start',
        '--demo',
        '--port',
        '0',
        '--data-dir',
        this.dataDir,
        '--log-level',
        'warn',
      ],
      {
        cwd: REPO,
        env: {
          ...process.env,
          CUSTODIAN_MASTER_KEY_FILE: path.join(this.root, 'master.key'),
          CUSTODIAN_CONSOLE_DIR: CONSOLE_DIR,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.#child = child;
    this.url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`the site did not start:\n${out}`)), 60_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the site exited with ${code}:\n${out}`));
      });
    });
    // Keep draining its output so it never blocks on a full pipe.
    child.stdout!.resume();
    child.stderr!.resume();
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

export interface BenchBrowser {
  readonly cdp: CdpConnection;
  /** The first tab, on the site's origin. */
  readonly page: CdpPage;
  /** The browser process; its tree holds every Chromium process of this profile. */
  readonly pid: number;
  readonly baseURL: string;
  /** Resolves with the path of the next download once Chromium has finished writing it. */
  nextDownload(timeoutMs: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Headless Chromium with a persistent profile on a fresh temporary
 * directory, driven over a DevTools pipe without the Network domain (see
 * cdp.ts for why not through Playwright). Downloads go to a temporary folder.
 */
export async function launchBrowser(baseURL: string): Promise<BenchBrowser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-bench-profile-'));
  const downloads = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-bench-downloads-'));
  const cdp = CdpConnection.launch(CHROMIUM, profile, CHROMIUM_ARGS);
  const cleanUp = async (): Promise<void> => {
    await cdp.close();
    fs.rmSync(profile, { recursive: true, force: true });
    fs.rmSync(downloads, { recursive: true, force: true });
  };
  try {
    await cdp.send('Browser.setDownloadBehavior', {
      behavior: 'allowAndName',
      downloadPath: downloads,
      eventsEnabled: true,
    });
    const page = await CdpPage.open(cdp, 'about:blank');
    await page.goto(`${baseURL}/api/health`);
    return {
      cdp,
      page,
      pid: cdp.pid,
      baseURL,
      nextDownload: (timeoutMs) =>
        new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => {
            cdp.off('Browser.downloadProgress', onProgress);
            reject(new Error(`no download finished within ${timeoutMs / 1000} s`));
          }, timeoutMs);
          const onProgress = (params: Record<string, unknown>): void => {
            if (params.state === 'completed' || params.state === 'canceled') {
              clearTimeout(timer);
              cdp.off('Browser.downloadProgress', onProgress);
              if (params.state === 'canceled') reject(new Error('the download was canceled'));
              else resolve(path.join(downloads, String(params.guid)));
            }
          };
          cdp.on('Browser.downloadProgress', onProgress);
        }),
      close: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

export function chromiumVersion(): string {
  try {
    // Debian's wrapper script may print a shell warning on stderr; stdout has the version.
    return execFileSync(CHROMIUM, ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}
