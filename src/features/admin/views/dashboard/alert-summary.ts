import { listAlerts } from '@/shared/api/admin-alerts';
import type { Alert, AlertKind } from '@/core/contract';

/** Days the chart covers, today included. */
export const CHART_DAYS = 14;
/** The dashboard reads at most this many alerts of the period (pages of 500). */
export const SUMMARY_LIMIT = 5_000;
const PAGE_SIZE = 500;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface AlertSample {
  /** Newest first. */
  readonly alerts: readonly Alert[];
  /** How many alerts the period holds on the site. */
  readonly total: number;
}

/** Local midnight `days - 1` days before `now`: the first day the chart shows. */
export function periodStart(now: Date, days = CHART_DAYS): Date {
  const start = new Date(now);
  start.setHours(0, 0, 0, 0);
  start.setDate(start.getDate() - (days - 1));
  return start;
}

/**
 * The alerts of the chart's period, read from the site's alert list (the
 * only source of these figures); when there are more than SUMMARY_LIMIT, the
 * newest ones are used and `total` says how many there were.
 */
export async function fetchAlertSample(now: Date, signal?: AbortSignal): Promise<AlertSample> {
  const from = periodStart(now).toISOString();
  const alerts: Alert[] = [];
  let total = 0;
  for (let page = 1; alerts.length < SUMMARY_LIMIT; page++) {
    const answer = await listAlerts({ from, page, pageSize: PAGE_SIZE }, signal);
    total = answer.total;
    alerts.push(...answer.alerts);
    if (answer.alerts.length < PAGE_SIZE || alerts.length >= total) break;
  }
  return { alerts: alerts.slice(0, SUMMARY_LIMIT), total };
}

export function lastDay(alerts: readonly Alert[], now: Date): Alert[] {
  const since = now.getTime() - DAY_MS;
  return alerts.filter((a) => Date.parse(a.at) > since);
}

/** Kinds with how often each occurs, most frequent first. */
export function countByKind(alerts: readonly Alert[]): [AlertKind, number][] {
  const counts = new Map<AlertKind, number>();
  for (const alert of alerts) counts.set(alert.kind, (counts.get(alert.kind) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** The local calendar day of a moment, as YYYY-MM-DD. */
export function localDay(date: Date): string {
  const pad = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export interface PerDay {
  /** Local days, oldest first. */
  readonly days: string[];
  /** One series per kind that occurs, with a count per day. */
  readonly series: { kind: AlertKind; counts: number[] }[];
}

/** Alerts per local day and kind over the chart's period. */
export function perDayByKind(alerts: readonly Alert[], now: Date, days = CHART_DAYS): PerDay {
  const first = periodStart(now, days);
  const labels = Array.from({ length: days }, (_, i) => {
    const day = new Date(first);
    day.setDate(first.getDate() + i);
    return localDay(day);
  });
  const index = new Map(labels.map((label, i) => [label, i]));
  const byKind = new Map<AlertKind, number[]>();
  for (const alert of alerts) {
    const slot = index.get(localDay(new Date(alert.at)));
    if (slot === undefined) continue;
    let counts = byKind.get(alert.kind);
    if (!counts) {
      counts = new Array<number>(days).fill(0);
      byKind.set(alert.kind, counts);
    }
    counts[slot]!++;
  }
  return {
    days: labels,
    series: [...byKind]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([kind, counts]) => ({ kind, counts })),
  };
}
