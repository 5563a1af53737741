/**
 * The tool a user would otherwise pick (issue "Benchmark" item 5), same
 * machine, same file, same run: restic (Debian's) backing the image up into
 * a fresh local repository and restoring it, and age encrypting it as a
 * single-stream reference. CPU time of each command comes from its shell's
 * reaped-children times in /proc.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sha256File, type BenchImage } from './images';

const GiB = 1024 ** 3;
const TICKS_PER_SECOND = 100;

export interface PeerTiming {
  readonly mbps: number;
  readonly seconds: number;
  readonly cpuSecondsPerGiB: number;
}

export interface PeerRun {
  readonly resticBackup: PeerTiming;
  readonly resticRestore: PeerTiming;
  readonly ageEncrypt: PeerTiming;
}

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** restic and age from Debian, installed with apt-get when missing. */
export function ensurePeerTools(log: (line: string) => void): void {
  const missing = ['restic', 'age'].filter((tool) => !has(tool));
  if (missing.length === 0) return;
  log(`installing ${missing.join(', ')} with apt-get`);
  execFileSync('apt-get', ['install', '-y', '-q', ...missing], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export function toolVersion(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  } catch {
    return 'not installed';
  }
}

/**
 * Runs `command` from a shell that prints its own /proc stat afterwards: its
 * reaped children's user + system time is the command's CPU time.
 */
async function timedCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; cpuSeconds: number }> {
  const script = '"$@" >/dev/null 2>"$BENCH_ERR" || exit $?; cat /proc/$$/stat';
  const err = path.join(fs.mkdtempSync('/tmp/custodian-bench-peer-'), 'stderr');
  const started = performance.now();
  const stat = await new Promise<string>((resolve, reject) => {
    const child = spawn('sh', ['-c', script, 'sh', command, ...args], {
      env: { ...env, BENCH_ERR: err },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      if (code === 0) resolve(out);
      else
        reject(
          new Error(
            `${command} ${args.join(' ')} exited with ${code}: ${fs.readFileSync(err, 'utf8')}`,
          ),
        );
    });
  });
  const seconds = (performance.now() - started) / 1000;
  fs.rmSync(path.dirname(err), { recursive: true, force: true });
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cutime = Number(fields[16 - 3]);
  const cstime = Number(fields[17 - 3]);
  return { seconds, cpuSeconds: (cutime + cstime) / TICKS_PER_SECOND };
}

function timing(size: number, measured: { seconds: number; cpuSeconds: number }): PeerTiming {
  return {
    mbps: size / 1e6 / measured.seconds,
    seconds: measured.seconds,
    cpuSecondsPerGiB: measured.cpuSeconds / (size / GiB),
  };
}

/** One restic backup + restore and one age encryption of `image`. */
export async function runPeer(
  image: BenchImage,
  sha256: string,
  workDir: string,
  log: (line: string) => void,
): Promise<PeerRun> {
  const dir = path.join(workDir, 'peer');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const repo = path.join(dir, 'restic-repo');
  const target = path.join(dir, 'restic-restore');
  const env = {
    ...process.env,
    RESTIC_PASSWORD: process.env.RESTIC_PASSWORD ?? 'custodian-bench',
    RESTIC_REPOSITORY: repo,
    RESTIC_CACHE_DIR: path.join(dir, 'restic-cache'),
  };
  try {
    await timedCommand('restic', ['init'], env);
    const backup = timing(
      image.size,
      await timedCommand('restic', ['backup', '--host', 'bench', image.path], env),
    );
    const restored = timing(
      image.size,
      await timedCommand('restic', ['restore', 'latest', '--target', target], env),
    );
    const restoredFile = path.join(target, image.path);
    if (sha256File(restoredFile) !== sha256) throw new Error('restic restored another image');
    fs.rmSync(target, { recursive: true, force: true });

    const key = path.join(dir, 'age.key');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', key], { encoding: 'utf8' }).trim();
    const age = timing(
      image.size,
      await timedCommand(
        'age',
        ['-r', recipient, '-o', path.join(dir, 'image.age'), image.path],
        env,
      ),
    );
    log(
      `    restic backup ${backup.mbps.toFixed(0).padStart(5)} MB/s, restore ${restored.mbps.toFixed(0).padStart(5)} MB/s; age ${age.mbps.toFixed(0).padStart(5)} MB/s`,
    );
    return { resticBackup: backup, resticRestore: restored, ageEncrypt: age };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
