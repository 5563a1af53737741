import type { Alert, AlertFilter, AlertKind, AlertPage, AlertQuery } from '@/core/contract';
import { EventFeed } from './fake-event-source';

export interface DemoAlertInput {
  readonly kind: AlertKind;
  readonly userId?: string | null;
  readonly volumeId?: string | null;
  readonly clientAddress?: string | null;
  readonly sentence: string;
  readonly at?: string;
}

/** Bare days compare as whole UTC days, as on the site. */
function bounds(filter: AlertFilter): { from?: number; to?: number } {
  const day = /^\d{4}-\d{2}-\d{2}$/;
  return {
    from: filter.from
      ? Date.parse(day.test(filter.from) ? `${filter.from}T00:00:00.000Z` : filter.from)
      : undefined,
    to: filter.to
      ? Date.parse(day.test(filter.to) ? `${filter.to}T23:59:59.999Z` : filter.to)
      : undefined,
  };
}

/** The demo site's alerts (AL-1, AL-2): stored newest first and pushed to open streams. */
export class DemoAlerts {
  readonly events = new EventFeed();
  private alerts: Alert[] = [];
  private nextId = 1;

  constructor(private readonly siteId: string) {}

  reset(): void {
    this.alerts = [];
    this.nextId = 1;
    this.events.sources.clear();
  }

  raise(input: DemoAlertInput): Alert {
    const alert: Alert = {
      id: this.nextId++,
      kind: input.kind,
      userId: input.userId ?? null,
      volumeId: input.volumeId ?? null,
      siteId: this.siteId,
      clientAddress: input.clientAddress ?? null,
      sentence: input.sentence,
      at: input.at ?? new Date().toISOString(),
      acknowledgedAt: null,
      acknowledgedBy: null,
    };
    this.alerts.push(alert);
    this.events.publish({ type: 'alert', alert });
    return alert;
  }

  all(filter: AlertFilter): Alert[] {
    const { from, to } = bounds(filter);
    return this.alerts
      .filter(
        (a) =>
          (!filter.kind || a.kind === filter.kind) &&
          (!filter.user || a.userId === filter.user) &&
          (!filter.volume || a.volumeId === filter.volume) &&
          (from === undefined || Date.parse(a.at) >= from) &&
          (to === undefined || Date.parse(a.at) <= to) &&
          (filter.acknowledged !== 'yes' || a.acknowledgedAt !== null) &&
          (filter.acknowledged !== 'no' || a.acknowledgedAt === null),
      )
      .sort((a, b) => b.at.localeCompare(a.at) || b.id - a.id);
  }

  list(query: AlertQuery): AlertPage {
    const matching = this.all(query);
    const start = (query.page - 1) * query.pageSize;
    return {
      alerts: matching.slice(start, start + query.pageSize),
      total: matching.length,
      unacknowledged: this.alerts.filter((a) => a.acknowledgedAt === null).length,
    };
  }

  acknowledge(ids: readonly number[], by: string): number {
    const at = new Date().toISOString();
    let count = 0;
    this.alerts = this.alerts.map((a) => {
      if (!ids.includes(a.id) || a.acknowledgedAt !== null) return a;
      count++;
      return { ...a, acknowledgedAt: at, acknowledgedBy: by };
    });
    return count;
  }
}
