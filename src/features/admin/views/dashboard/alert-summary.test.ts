import { describe, expect, it } from 'vitest';
import type { Alert, AlertKind } from '@/core/contract';
import { countByKind, lastDay, localDay, perDayByKind, periodStart } from './alert-summary';

let nextId = 1;
function alert(kind: AlertKind, at: Date): Alert {
  return {
    id: nextId++,
    kind,
    userId: null,
    volumeId: null,
    siteId: 'site',
    clientAddress: null,
    sentence: kind,
    message: null,
    at: at.toISOString(),
    acknowledgedAt: null,
    acknowledgedBy: null,
  };
}

describe('alert summary of the dashboard', () => {
  const now = new Date(2026, 10, 21, 15, 0, 0); // local time
  const hoursAgo = (h: number): Date => new Date(now.getTime() - h * 3_600_000);

  it('starts the period at local midnight 13 days back', () => {
    expect(localDay(periodStart(now))).toBe('2026-11-08');
    expect(periodStart(now).getHours()).toBe(0);
  });

  it('keeps the last 24 hours and counts by kind, most frequent first', () => {
    const alerts = [
      alert('bad_password', hoursAgo(1)),
      alert('unknown_user', hoursAgo(2)),
      alert('bad_password', hoursAgo(23)),
      alert('brute_force', hoursAgo(25)),
    ];
    const day = lastDay(alerts, now);
    expect(day).toHaveLength(3);
    expect(countByKind(day)).toEqual([
      ['bad_password', 2],
      ['unknown_user', 1],
    ]);
  });

  it('counts per local day and kind, ignoring alerts outside the period', () => {
    const alerts = [
      alert('bad_password', hoursAgo(1)),
      alert('bad_password', hoursAgo(2)),
      alert('integrity_failure', new Date(2026, 10, 20, 10)),
      alert('bad_password', new Date(2026, 10, 8, 0, 30)),
      alert('bad_password', new Date(2026, 10, 7, 23, 30)),
    ];
    const { days, series } = perDayByKind(alerts, now);
    expect(days).toHaveLength(14);
    expect(days[0]).toBe('2026-11-08');
    expect(days.at(-1)).toBe('2026-11-21');
    expect(series.map((s) => s.kind)).toEqual(['bad_password', 'integrity_failure']);
    expect(series[0]!.counts[0]).toBe(1);
    expect(series[0]!.counts[13]).toBe(2);
    expect(series[1]!.counts[12]).toBe(1);
    expect(series[0]!.counts.reduce((a, b) => a + b)).toBe(3);
  });
});
