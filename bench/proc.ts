/**
 * Processes as /proc sees them: the tree under a process (Chromium's browser
 * process and its zygotes, renderers, utilities), its CPU time and resident
 * memory. The JS heap alone would miss ArrayBuffers, IndexedDB's and the
 * network service's buffers, so memory is the sum of VmRSS of every process
 * of the tree.
 */
import fs from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  readonly ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const num = (i: number): number => Number(fields[i - 3] ?? 0);
  return { pid, ppid: num(4), ticks: num(14) + num(15) + num(16) + num(17) };
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.push(stat);
  }
  return stats;
}

/** The processes of the trees rooted at `roots` (roots included). */
export function processTree(roots: readonly number[]): ProcStat[] {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) {
    const list = children.get(stat.ppid) ?? [];
    list.push(stat);
    children.set(stat.ppid, list);
  }
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  const found: ProcStat[] = [];
  const queue = roots.map((pid) => byPid.get(pid)).filter((s): s is ProcStat => Boolean(s));
  const seen = new Set<number>();
  while (queue.length) {
    const stat = queue.shift()!;
    if (seen.has(stat.pid)) continue;
    seen.add(stat.pid);
    found.push(stat);
    queue.push(...(children.get(stat.pid) ?? []));
  }
  return found;
}

/** CPU seconds (user + system, reaped children included) of the trees under `roots`. */
export function cpuSeconds(roots: readonly number[]): number {
  return processTree(roots).reduce((sum, s) => sum + s.ticks, 0) / TICKS_PER_SECOND;
}

function vmRssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resident memory of the trees under `roots`: the sum of every process's VmRSS. */
export function residentBytes(roots: readonly number[]): number {
  return processTree(roots).reduce((sum, s) => sum + vmRssBytes(s.pid), 0);
}

/** Samples the resident memory of the trees under `roots` every `intervalMs` until stopped. */
export class MemorySampler {
  #peak = 0;
  #samples = 0;
  #timer: NodeJS.Timeout;

  constructor(
    readonly roots: readonly number[],
    intervalMs = 200,
  ) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    this.#peak = Math.max(this.#peak, residentBytes(this.roots));
    this.#samples += 1;
  }

  /** Stops sampling; returns the peak and the number of samples taken. */
  stop(): { peakBytes: number; samples: number } {
    clearInterval(this.#timer);
    this.#sample();
    return { peakBytes: this.#peak, samples: this.#samples };
  }
}

/** CPU seconds of the trees under `roots` over one measured span. */
export class CpuMeter {
  readonly #start: number;

  constructor(readonly roots: readonly number[]) {
    this.#start = cpuSeconds(roots);
  }

  stop(): number {
    return cpuSeconds(this.roots) - this.#start;
  }
}

/** 1-minute, 5-minute and 15-minute load averages. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return [a ?? 0, b ?? 0, c ?? 0];
}

function processKind(pid: number): string {
  let cmdline = '';
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return 'gone';
  }
  const type = /--type=(\S+)/.exec(cmdline)?.[1];
  if (!type) return /\bnode\b|tsx/.test(cmdline) ? 'site' : 'browser';
  const sub = /--utility-sub-type=\S*?(\w+)\.mojom\.(\w+)/.exec(cmdline);
  return sub ? `${type} ${sub[2]}` : type;
}

/**
 * CPU ticks of every thread of the trees under `roots`, keyed
 * "process kind / thread name" (renderer / main, renderer / DedicatedWorker,
 * browser / Chrome_IOThread, site / main …): a cheap profile of where the time went.
 */
export function threadTicks(roots: readonly number[]): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const proc of processTree(roots)) {
    const kind = processKind(proc.pid);
    let tasks: string[];
    let own: number;
    try {
      tasks = fs.readdirSync(`/proc/${proc.pid}/task`);
      const stat = fs.readFileSync(`/proc/${proc.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      own = Number(fields[14 - 3] ?? 0) + Number(fields[15 - 3] ?? 0);
    } catch {
      continue;
    }
    // Threads that ended (a terminated worker) count in the process's own time only.
    let live = 0;
    for (const tid of tasks) {
      let text: string;
      try {
        text = fs.readFileSync(`/proc/${proc.pid}/task/${tid}/stat`, 'utf8');
      } catch {
        continue;
      }
      let name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')).replace(/\d+$/, '');
      if (tid === String(proc.pid)) name = 'main';
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      const used = Number(fields[14 - 3] ?? 0) + Number(fields[15 - 3] ?? 0);
      const key = `${kind} / ${name}`;
      ticks.set(key, (ticks.get(key) ?? 0) + used);
      live += used;
    }
    const ended = `${kind} / (threads that ended)`;
    ticks.set(ended, (ticks.get(ended) ?? 0) + Math.max(0, own - live));
  }
  return ticks;
}

/** CPU seconds per thread group between two threadTicks() readings, largest first. */
export function threadCpuSeconds(
  before: Map<string, number>,
  after: Map<string, number>,
): Record<string, number> {
  const entries = [...after]
    .map(([key, value]) => [key, (value - (before.get(key) ?? 0)) / TICKS_PER_SECOND] as const)
    .filter(([, seconds]) => seconds >= 0.01)
    .sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(entries);
}
