import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A site in its own process, for tests that kill it (SIGKILL) and start it again. */
export interface SiteProcess {
  readonly url: string;
  readonly root: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves once the site has printed `text` (e.g. "holding at <point>"). */
  printed(text: string): Promise<void>;
}

export async function startSiteProcess(
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-proc-')),
  port = 0,
  env: Record<string, string> = {},
): Promise<SiteProcess> {
  const dataDir = path.join(root, 'data');
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
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
    ],
    {
      env: {
        ...process.env,
        CUSTODIAN_MASTER_KEY_FILE: path.join(root, 'master.key'),
        CUSTODIAN_CONSOLE_DIR: path.join(root, 'none'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`site did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`site exited with ${code}: ${out}`)));
  });
  return {
    url,
    root,
    dataDir,
    child,
    printed: (text) =>
      new Promise((resolve, reject) => {
        if (out.includes(text)) return resolve();
        const seen = () => {
          if (!out.includes(text)) return;
          child.stdout!.off('data', seen);
          resolve();
        };
        child.stdout!.on('data', seen);
        child.once('exit', (code) => reject(new Error(`site exited with ${code}: ${out}`)));
      }),
    kill: (signal = 'SIGKILL') =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}
