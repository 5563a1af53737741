/**
 * A site of our own for stories that stop and restart it (BK-7: the site
 * goes away mid-backup). It always comes back on the same port, because the
 * browser's IndexedDB — the local copy and the outbox — belongs to the
 * origin, and with the same data directory and master key (kept outside the
 * data directory, as ES-4 requires).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { E2E_CONSOLE_DIR } from './paths';
import { siteCommand } from './site-cli';

export class SiteProcess {
  readonly root = mkdtempSync(join(tmpdir(), 'custodian-e2e-site-'));
  readonly dataDir = join(this.root, 'data');
  readonly masterKeyFile = join(this.root, 'secrets', 'master.key');
  #child: ChildProcess | undefined;
  #output = '';

  /**
   * `env` is added to the site's environment, e.g. CUSTODIAN_HOLD_AT to hold
   * it at a named point inside a decision (mock-server hold-points.ts).
   */
  constructor(
    readonly port: number,
    private readonly env: Readonly<Record<string, string>> = {},
  ) {
    mkdirSync(join(this.root, 'secrets'), { mode: 0o700 });
  }

  /** What the site has printed so far (stdout and stderr). */
  get output(): string {
    return this.#output;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the site in demo mode and waits until /api/health answers. */
  async start(): Promise<void> {
    if (this.#child) throw new Error('the site is already running');
    const [program, args] = siteCommand([
      'start',
      '--demo',
      '--port',
      String(this.port),
      '--data-dir',
      this.dataDir,
      '--console-dir',
      E2E_CONSOLE_DIR,
      '--log-level',
      'warn',
    ]);
    const child = spawn(program, args, {
      env: { ...process.env, ...this.env, CUSTODIAN_MASTER_KEY_FILE: this.masterKeyFile },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.#output += chunk.toString()));
    this.#child = child;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) {
        throw new Error(`the site exited with ${child.exitCode}:\n${this.#output}`);
      }
      try {
        const response = await fetch(`${this.url}/api/health`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await this.stop();
    throw new Error(`the site did not answer on ${this.url} within a minute:\n${this.#output}`);
  }

  /**
   * Stops the site at once, as an operator's Ctrl-C twice would: the first
   * SIGTERM starts the orderly close, the second (main.ts: "now") ends the
   * process without waiting for the requests in flight, which would let a
   * backup finish first. The stories are about a site that goes away.
   */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
      return;
    const pid = child.pid;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const running = () => child.exitCode === null && child.signalCode === null;
    process.kill(-pid, 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (running()) process.kill(-pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (running()) process.kill(-pid, 'SIGKILL');
    }, 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the site and removes its data and key. */
  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}
