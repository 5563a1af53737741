import type { AuditLog } from '../audit';
import type { AlertSink, Clock } from '../ports';

/** The window in which refused origins are alerted one by one, then summarised. */
export const CROSS_ORIGIN_ALERT_WINDOW_MS = 15 * 60_000;
/** Origins alerted one by one in a window; the next one raises the summary. */
export const CROSS_ORIGIN_ALERTS_PER_WINDOW = 4;

export interface RefusedRequest {
  readonly origin: string;
  readonly method: string;
  readonly path: string;
  readonly clientAddress: string;
}

/**
 * Calls to the API from a page this site does not trust (MS-1): each is
 * audited, and administrators are alerted once per origin for the first few
 * origins in a window, then once more in summary; a flood from one page, or
 * from many, makes a handful of alerts, not thousands. The window lives in
 * memory and starts afresh when the site restarts.
 */
export class CrossOriginRefusals {
  private window = { startedAt: -Infinity, origins: new Set<string>(), summarised: false };

  constructor(
    private readonly deps: {
      readonly audit: AuditLog;
      readonly alerts: AlertSink;
      readonly clock: Clock;
    },
  ) {}

  async refused(request: RefusedRequest): Promise<void> {
    const origin = request.origin.slice(0, 200);
    const about = { userId: null, volumeId: null, clientAddress: request.clientAddress };
    await this.deps.audit.append({
      event: 'cross_origin_refused',
      actor: null,
      clientAddress: request.clientAddress,
      details: { origin, method: request.method, path: request.path.slice(0, 200) },
    });
    const now = this.deps.clock.now().getTime();
    if (now - this.window.startedAt >= CROSS_ORIGIN_ALERT_WINDOW_MS) {
      this.window = { startedAt: now, origins: new Set(), summarised: false };
    }
    const { origins } = this.window;
    if (origins.has(origin) || this.window.summarised) return;
    const minutes = CROSS_ORIGIN_ALERT_WINDOW_MS / 60_000;
    if (origins.size < CROSS_ORIGIN_ALERTS_PER_WINDOW) {
      origins.add(origin);
      await this.deps.alerts.raise({
        ...about,
        kind: 'untrusted_origin',
        sentence: `A page at ${origin}, which this site does not trust, called its API (${request.method} ${request.path.slice(0, 100)}) from ${request.clientAddress}; refused. Further calls from that page within ${minutes} minutes are audited but not alerted.`,
      });
      return;
    }
    this.window.summarised = true;
    await this.deps.alerts.raise({
      ...about,
      kind: 'untrusted_origin',
      sentence: `Pages at more than ${CROSS_ORIGIN_ALERTS_PER_WINDOW} origins this site does not trust called its API within ${minutes} minutes (the latest ${origin}, from ${request.clientAddress}); all refused. Further ones in this period are audited but not alerted.`,
    });
  }
}
