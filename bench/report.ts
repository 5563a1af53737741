/**
 * The shape of bench/results.json and the table printed at the end of a
 * run (Markdown, so the README's "Performance" section can show it as is).
 */
import type { SiteFigures, Stat } from './site';
import type { StageName } from './stages';

interface Throughput {
  mbps: Stat;
  seconds: Stat;
  cpuSecondsPerGiB: Stat;
  /** Medians by "process kind / thread" (Chromium's processes and the site). */
  cpuSecondsPerGiBByThread?: Record<string, number>;
}

export interface Results {
  date: string;
  quick: boolean;
  runs: number;
  parts: string[];
  machine: {
    cpuModel: string;
    cores: number;
    cpuFeatures: string[];
    memoryBytes: number;
    kernel: string;
  };
  versions: Record<string, string>;
  load: { atStart: number[]; atEnd: number[]; oneMinuteDuringRun: Stat };
  settings: unknown;
  units: Record<string, string>;
  images: Record<string, { size: number; description: string; sha256: string }>;
  stages: Record<
    string,
    {
      slowest: { stage: StageName; mbps: Stat };
      figures: Partial<
        Record<
          StageName,
          {
            label: string;
            mbps: Stat;
            cpuSecondsPerGiB: Stat;
            cpuSecondsPerGiBByThread: Record<string, number>;
          }
        >
      >;
    }
  >;
  backup: Record<string, Throughput & { shownSpeed: string[] }>;
  restore: Record<string, { localCopy: Throughput; site: Throughput }>;
  ratios: {
    backupVsSlowestStage: Record<string, Stat | null>;
    restoreVsSlowestStage: Record<string, Stat | null>;
    restoreFromSiteVsSlowestStage: Record<string, Stat | null>;
    cpuBound: Record<
      string,
      {
        stagesCpuSecondsPerGiB: Stat;
        cores: number;
        limitMbps: Stat;
        backupVsCpuLimit: Stat | null;
        backupCpuSecondsPerGiB: Stat | null;
      }
    >;
  };
  peer: {
    restic: { backup: Record<string, Throughput>; restore: Record<string, Throughput> };
    age: { encrypt: Record<string, Throughput> };
    backupVsRestic: Record<string, Stat | null>;
    restoreVsRestic: Record<string, Stat | null>;
    restoreFromSiteVsRestic: Record<string, Stat | null>;
  };
  memory: {
    backupPeakBytes: Record<string, Stat>;
    /** Just before "Back up" was pressed, the console open. */
    backupIdleBytes: Record<string, Stat>;
    restorePeakBytes: Record<string, { localCopy: Stat; site: Stat }>;
    largeVsSmall: Stat | null;
    compared: [string, string] | null;
  };
  site: SiteFigures | null;
  /** Measurements that failed (each tried twice before its run was left out). */
  errors: string[];
}

type Cell = Stat | null | undefined;

function fmt(value: number, digits: number): string {
  return value.toFixed(digits);
}

/** "median (min–max)", or the median alone when there was one run. */
function cell(s: Cell, digits = 0, scale = 1): string {
  if (!s) return '–';
  const m = fmt(s.median / scale, digits);
  if (s.runs.length < 2) return m;
  return `${m} (${fmt(s.min / scale, digits)}–${fmt(s.max / scale, digits)})`;
}

function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

export interface Target {
  readonly target: string;
  readonly met: boolean | null;
  readonly detail: string;
}

/** The targets, judged on the medians. */
export function targets(r: Results): Target[] {
  const names = Object.keys(r.images);
  const judge = (
    target: string,
    values: Record<string, Stat | null>,
    ok: (median: number) => boolean,
    digits = 2,
  ): Target => {
    const present = names.filter((n) => values[n]);
    if (present.length === 0) return { target, met: null, detail: 'not measured' };
    const met = present.every((n) => ok(values[n]!.median));
    const detail = present.map((n) => `${n} ${fmt(values[n]!.median, digits)}`).join(', ');
    return { target, met, detail };
  };
  const list: Target[] = [
    judge(
      'Backup end to end ≥ 0.8 × slowest stage',
      r.ratios.backupVsSlowestStage,
      (m) => m >= 0.8,
    ),
    judge(
      'Restore end to end ≥ 0.8 × slowest stage (local copy)',
      r.ratios.restoreVsSlowestStage,
      (m) => m >= 0.8,
    ),
    judge(
      'Restore end to end ≥ 0.8 × slowest stage (from the site)',
      r.ratios.restoreFromSiteVsSlowestStage,
      (m) => m >= 0.8,
    ),
    judge('Backup faster than restic backup', r.peer.backupVsRestic, (m) => m > 1),
    judge('Restore faster than restic restore (local copy)', r.peer.restoreVsRestic, (m) => m > 1),
    judge(
      'Restore faster than restic restore (from the site)',
      r.peer.restoreFromSiteVsRestic,
      (m) => m > 1,
    ),
  ];
  const mem = r.memory.largeVsSmall;
  list.push(
    mem
      ? {
          target: 'Peak memory for 1 GiB ≤ 1.2 × that for 256 MiB',
          met: mem.median <= 1.2,
          detail: `${r.memory.compared?.join(' vs ')}: ${fmt(mem.median, 2)}`,
        }
      : {
          target: 'Peak memory for 1 GiB ≤ 1.2 × that for 256 MiB',
          met: null,
          detail: 'not measured',
        },
  );
  if (r.site) {
    const p99 = r.site.keyRelease.p99Ms.median;
    list.push({
      target: 'Key release p99 < 50 ms at 50 concurrent clients',
      met: p99 < 50,
      detail: `p99 ${fmt(p99, 0)} ms, ${fmt(r.site.keyRelease.requestsPerSecond.median, 0)} req/s`,
    });
    const worst = Object.entries(r.site.restorerDbPage.queries).sort(
      (a, b) => b[1].median - a[1].median,
    )[0];
    list.push({
      target: `Restorer DB page < 100 ms at ${r.site.restorerDbPage.records} records`,
      met: worst ? worst[1].median < 100 : null,
      detail: worst ? `slowest query "${worst[0]}" median ${fmt(worst[1].median, 1)} ms` : '',
    });
  } else {
    list.push({ target: 'Key release p99 < 50 ms', met: null, detail: 'not measured' });
    list.push({ target: 'Restorer DB page < 100 ms', met: null, detail: 'not measured' });
  }
  return list;
}

export function renderTable(r: Results): string {
  const names = Object.keys(r.images);
  const MiB = 2 ** 20;
  const rows: string[][] = [];
  const row = (label: string, pick: (name: string) => Cell, digits = 0, scale = 1): void => {
    const cells = names.map((n) => cell(pick(n), digits, scale));
    if (cells.some((c) => c !== '–')) rows.push([label, ...cells]);
  };
  const stageNames = ['read', 'hash', 'encrypt', 'indexedDb', 'upload'] as const;
  for (const stage of stageNames) {
    const label = Object.values(r.stages)[0]?.figures[stage]?.label ?? stage;
    row(`Stage: ${label}, MB/s`, (n) => r.stages[n]?.figures[stage]?.mbps);
  }
  if (Object.keys(r.stages).length) {
    rows.push([
      'Slowest stage',
      ...names.map((n) => {
        const s = r.stages[n];
        return s ? `${s.slowest.stage} ${cell(s.slowest.mbps)}` : '–';
      }),
    ]);
  }
  row(
    'CPU-bound limit (cores ÷ CPU s/GiB of the stages), MB/s',
    (n) => r.ratios.cpuBound[n]?.limitMbps,
  );
  row('Backup end to end (/backup screen), MB/s', (n) => r.backup[n]?.mbps);
  row('Restore to a download, local copy, MB/s', (n) => r.restore[n]?.localCopy.mbps);
  row('Restore to a download, from the site, MB/s', (n) => r.restore[n]?.site.mbps);
  row('Backup ÷ slowest stage', (n) => r.ratios.backupVsSlowestStage[n], 2);
  row('Restore (local copy) ÷ slowest stage', (n) => r.ratios.restoreVsSlowestStage[n], 2);
  row(
    'Restore (from the site) ÷ slowest stage',
    (n) => r.ratios.restoreFromSiteVsSlowestStage[n],
    2,
  );
  row('Backup ÷ CPU-bound limit', (n) => r.ratios.cpuBound[n]?.backupVsCpuLimit, 2);
  row('restic backup, MB/s', (n) => r.peer.restic.backup[n]?.mbps);
  row('restic restore, MB/s', (n) => r.peer.restic.restore[n]?.mbps);
  row('age encrypt (single stream), MB/s', (n) => r.peer.age.encrypt[n]?.mbps);
  row('Backup ÷ restic backup', (n) => r.peer.backupVsRestic[n], 2);
  row('Restore (local copy) ÷ restic restore', (n) => r.peer.restoreVsRestic[n], 2);
  row('Restore (from the site) ÷ restic restore', (n) => r.peer.restoreFromSiteVsRestic[n], 2);
  row('Peak memory during backup, MiB', (n) => r.memory.backupPeakBytes[n], 0, MiB);
  row('Memory before the backup (console open), MiB', (n) => r.memory.backupIdleBytes[n], 0, MiB);
  row(
    'Peak memory during restore (local copy), MiB',
    (n) => r.memory.restorePeakBytes[n]?.localCopy,
    0,
    MiB,
  );
  row('CPU s/GiB: all stages', (n) => r.ratios.cpuBound[n]?.stagesCpuSecondsPerGiB, 1);
  row('CPU s/GiB: backup end to end', (n) => r.backup[n]?.cpuSecondsPerGiB, 1);
  row('CPU s/GiB: restore (local copy)', (n) => r.restore[n]?.localCopy.cpuSecondsPerGiB, 1);
  row('CPU s/GiB: restic backup', (n) => r.peer.restic.backup[n]?.cpuSecondsPerGiB, 1);

  const parts: string[] = [];
  parts.push(
    `Custodian benchmark, ${r.date.slice(0, 16).replace('T', ' ')} UTC: ${r.machine.cpuModel}, ${r.machine.cores} cores, ` +
      `${(r.machine.memoryBytes / 2 ** 30).toFixed(0)} GiB, ${r.machine.kernel}; ${r.versions.chromium}, node ${r.versions.node}, ${r.versions.restic}; ` +
      `load average ${r.load.atStart.join(' ')} at the start, ${r.load.atEnd.join(' ')} at the end, 1-minute load during the run ${cell(r.load.oneMinuteDuringRun, 1)}; ` +
      `${r.runs} run(s), median (min–max).`,
  );
  if (rows.length) {
    parts.push('');
    parts.push(table(['Figure', ...names], rows));
  }
  if (r.memory.largeVsSmall) {
    parts.push('');
    parts.push(
      `Peak memory ${r.memory.compared?.join(' → ')}: ×${cell(r.memory.largeVsSmall, 2)}.`,
    );
  }
  const largest = names.reduce<string | undefined>(
    (best, n) => (!best || r.images[n]!.size > r.images[best]!.size ? n : best),
    undefined,
  );
  const threads = (label: string, byThread: Record<string, number> | undefined): void => {
    if (!byThread || Object.keys(byThread).length === 0) return;
    const top = Object.entries(byThread)
      .slice(0, 8)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ');
    parts.push('');
    parts.push(`CPU s/GiB by thread, ${label}: ${top}.`);
  };
  if (largest) {
    threads(`backup of ${largest}`, r.backup[largest]?.cpuSecondsPerGiBByThread);
    threads(
      `restore (local copy) of ${largest}`,
      r.restore[largest]?.localCopy.cpuSecondsPerGiBByThread,
    );
    const slowest = r.stages[largest]?.slowest.stage;
    if (slowest) {
      threads(
        `stage "${slowest}" of ${largest}`,
        r.stages[largest]?.figures[slowest]?.cpuSecondsPerGiBByThread,
      );
    }
  }
  if (r.site) {
    const k = r.site.keyRelease;
    const siteRows: string[][] = [
      [
        `Key release, ${k.connections} clients × ${k.durationSeconds} s: requests/s`,
        cell(k.requestsPerSecond),
      ],
      ['Key release p50, ms', cell(k.p50Ms)],
      ['Key release p99, ms', cell(k.p99Ms)],
      ...Object.entries(r.site.restorerDbPage.queries).map(([q, s]) => [
        `Restorer DB page at ${r.site!.restorerDbPage.records} records, "${q}", ms`,
        cell(s, 1),
      ]),
    ];
    parts.push('');
    parts.push(table(['Site', 'value'], siteRows));
  }
  if (r.errors.length) {
    parts.push('');
    parts.push(`Failed measurements (each tried twice): ${r.errors.join('; ')}`);
  }
  parts.push('');
  parts.push(
    table(
      ['Target', 'Status', 'Measured (medians)'],
      targets(r).map((t) => [
        t.target,
        t.met === null ? 'not measured' : t.met ? 'met' : 'missed',
        t.detail,
      ]),
    ),
  );
  return parts.join('\n');
}
