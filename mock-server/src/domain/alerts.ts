import type { Alert, AlertQuery } from '../../../src/core/contract';
import { DomainError } from './errors';
import type { EventBus } from './events';
import type { AlertRepository, AlertSink, Clock, NewAlert } from './ports';

/** Something that tells administrators outside the console (mail). */
export interface AlertNotifier {
  notify(alert: Alert): void;
}

/**
 * Alerts (AL-1..AL-3): stored, pushed live to administrators' streams, and
 * handed to the notifier (mail), whatever rule raised them.
 */
export class AlertService implements AlertSink {
  constructor(
    private readonly deps: {
      readonly alerts: AlertRepository;
      readonly events: EventBus;
      readonly clock: Clock;
      readonly siteId: string;
      readonly notifiers: readonly AlertNotifier[];
    },
  ) {}

  async raise(alert: NewAlert): Promise<Alert> {
    const stored = await this.deps.alerts.insert({
      ...alert,
      siteId: this.deps.siteId,
      at: this.deps.clock.now().toISOString(),
    });
    this.deps.events.publish({ type: 'alert', alert: stored }, { kind: 'admins' });
    for (const notifier of this.deps.notifiers) notifier.notify(stored);
    return stored;
  }

  list(query: AlertQuery): Promise<{ alerts: Alert[]; total: number; unacknowledged: number }> {
    return this.deps.alerts.list(query);
  }

  all(query: Omit<AlertQuery, 'page' | 'pageSize'>): Promise<Alert[]> {
    return this.deps.alerts.all(query);
  }

  /** A page of the alerts of these kinds about one volume, for its owner (AL-3). */
  pageOfVolume(...page: Parameters<AlertRepository['pageOfVolume']>): Promise<Alert[]> {
    return this.deps.alerts.pageOfVolume(...page);
  }

  async acknowledge(ids: readonly number[], by: string): Promise<number> {
    if (ids.length === 0)
      throw new DomainError('invalid_request', 'Choose at least one alert to acknowledge.', 400);
    return this.deps.alerts.acknowledge(ids, by, this.deps.clock.now().toISOString());
  }
}

/**
 * CSV with every cell quoted, and cells that a spreadsheet would run as a
 * formula (=, +, -, @, tab, CR) prefixed with an apostrophe (AL-2).
 */
export function toCsv(
  header: readonly string[],
  rows: readonly (readonly (string | number | null)[])[],
): string {
  const cell = (value: string | number | null): string => {
    let text = value === null ? '' : String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return `"${text.replace(/"/g, '""')}"`;
  };
  return [header, ...rows].map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n';
}
