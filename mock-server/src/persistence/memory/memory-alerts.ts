import type { Alert, AlertKind, AlertQuery } from '../../../../src/core/contract';
import type { AlertRepository } from '../../domain/ports';
import { dayEnd, dayStart } from '../sqlite-alerts';
import { byKeys, compareText, limitOffset } from './sql-semantics';

type AlertFilter = Omit<AlertQuery, 'page' | 'pageSize'>;

const newestFirst = byKeys<Alert>({ of: (a) => a.at, desc: true }, { of: (a) => a.id, desc: true });

function matcher(f: AlertFilter): (alert: Alert) => boolean {
  // The bounds are computed once, before any row, so a bad date fails the whole query.
  const from = f.from ? dayStart(f.from) : undefined;
  const to = f.to ? dayEnd(f.to) : undefined;
  return (a) =>
    (!f.kind || a.kind === f.kind) &&
    (!f.user || a.userId === f.user) &&
    (!f.volume || a.volumeId === f.volume) &&
    (from === undefined || compareText(a.at, from) >= 0) &&
    (to === undefined || compareText(a.at, to) <= 0) &&
    (f.acknowledged !== 'yes' || a.acknowledgedAt !== null) &&
    (f.acknowledged !== 'no' || a.acknowledgedAt === null);
}

/** Alerts in memory (AL-1..AL-3); IDs count up from 1 and are never reused. */
export class MemoryAlertRepository implements AlertRepository {
  private readonly rows = new Map<number, Alert>();
  private lastId = 0;

  async insert(alert: Parameters<AlertRepository['insert']>[0]): Promise<Alert> {
    const row: Alert = {
      id: ++this.lastId,
      kind: alert.kind,
      userId: alert.userId,
      volumeId: alert.volumeId,
      siteId: alert.siteId,
      clientAddress: alert.clientAddress,
      sentence: alert.sentence,
      at: alert.at,
      acknowledgedAt: null,
      acknowledgedBy: null,
    };
    this.rows.set(row.id, row);
    return { ...row };
  }

  async list(
    query: AlertQuery,
  ): Promise<{ alerts: Alert[]; total: number; unacknowledged: number }> {
    const matching = this.matching(query);
    let unacknowledged = 0;
    for (const a of this.rows.values()) if (a.acknowledgedAt === null) unacknowledged++;
    return {
      alerts: limitOffset(matching, query.pageSize, (query.page - 1) * query.pageSize),
      total: matching.length,
      unacknowledged,
    };
  }

  async all(query: AlertFilter): Promise<Alert[]> {
    return this.matching(query);
  }

  async acknowledge(ids: readonly number[], by: string, at: string): Promise<number> {
    let acknowledged = 0;
    for (const id of new Set(ids)) {
      const row = this.rows.get(id);
      if (row && row.acknowledgedAt === null) {
        this.rows.set(id, { ...row, acknowledgedAt: at, acknowledgedBy: by });
        acknowledged++;
      }
    }
    return acknowledged;
  }

  async pageOfVolume(
    volumeId: string,
    kinds: readonly AlertKind[],
    before: { readonly at: string; readonly id: number } | null,
    limit: number,
  ): Promise<Alert[]> {
    const older = (a: Alert) =>
      !before || compareText(a.at, before.at) < 0 || (a.at === before.at && a.id < before.id);
    const rows = [...this.rows.values()]
      .filter((a) => a.volumeId === volumeId && kinds.includes(a.kind) && older(a))
      .sort(newestFirst);
    return limitOffset(rows, limit, 0).map((a) => ({ ...a }));
  }

  private matching(query: AlertFilter): Alert[] {
    const matches = matcher(query);
    return [...this.rows.values()]
      .filter(matches)
      .sort(newestFirst)
      .map((a) => ({ ...a }));
  }
}
