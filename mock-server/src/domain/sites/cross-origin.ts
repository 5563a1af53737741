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
 * Alerts about one kind of refusal within a window: one for each of the
 * first few sources, then one summary, then none until the window ends.
 * The window lives in memory and starts afresh when the site restarts; a
 * site run as several instances (SX-2) has one per instance, so up to that
 * many times the alerts (every refusal is audited all the same).
 */
class AlertWindow {
  private startedAt = -Infinity;
  private sources = new Set<string>();
  private summarised = false;

  constructor(private readonly clock: Clock) {}

  /** Whether a refusal from `source` is alerted on its own, in the summary, or not at all. */
  admit(source: string): 'alert' | 'summary' | 'quiet' {
    const now = this.clock.now().getTime();
    if (now - this.startedAt >= CROSS_ORIGIN_ALERT_WINDOW_MS) {
      this.startedAt = now;
      this.sources = new Set();
      this.summarised = false;
    }
    if (this.sources.has(source) || this.summarised) return 'quiet';
    if (this.sources.size < CROSS_ORIGIN_ALERTS_PER_WINDOW) {
      this.sources.add(source);
      return 'alert';
    }
    this.summarised = true;
    return 'summary';
  }
}

/** What a kind of refusal is told to: the audit log, and the administrators through a window. */
abstract class Refusals {
  protected readonly window: AlertWindow;

  constructor(
    protected readonly deps: {
      readonly audit: AuditLog;
      readonly alerts: AlertSink;
      readonly clock: Clock;
    },
  ) {
    this.window = new AlertWindow(deps.clock);
  }
}

/**
 * Calls to the API from a page this site does not trust (MS-1): each is
 * audited, and administrators are alerted once per origin for the first few
 * origins in a window, then once more in summary; a flood from one page, or
 * from many, makes a handful of alerts, not thousands. The window lives in
 * memory and starts afresh when the site restarts.
 */
export class CrossOriginRefusals extends Refusals {
  async refused(request: RefusedRequest): Promise<void> {
    const origin = request.origin.slice(0, 200);
    const about = { userId: null, volumeId: null, clientAddress: request.clientAddress };
    await this.deps.audit.append({
      event: 'cross_origin_refused',
      actor: null,
      clientAddress: request.clientAddress,
      details: { origin, method: request.method, path: request.path.slice(0, 200) },
    });
    const admitted = this.window.admit(origin);
    if (admitted === 'quiet') return;
    const minutes = CROSS_ORIGIN_ALERT_WINDOW_MS / 60_000;
    if (admitted === 'alert') {
      await this.deps.alerts.raise({
        ...about,
        kind: 'untrusted_origin',
        message: {
          code: 'untrusted_origin',
          params: {
            origin,
            call: `${request.method} ${request.path.slice(0, 100)}`,
            clientAddress: request.clientAddress,
            minutes,
          },
        },
        sentence: `A page at ${origin}, which this site does not trust, called its API (${request.method} ${request.path.slice(0, 100)}) from ${request.clientAddress}; refused. Further calls from that page within ${minutes} minutes are audited but not alerted.`,
      });
      return;
    }
    await this.deps.alerts.raise({
      ...about,
      kind: 'untrusted_origin',
      message: {
        code: 'untrusted_origins_many',
        params: {
          count: CROSS_ORIGIN_ALERTS_PER_WINDOW,
          minutes,
          origin,
          clientAddress: request.clientAddress,
        },
      },
      sentence: `Pages at more than ${CROSS_ORIGIN_ALERTS_PER_WINDOW} origins this site does not trust called its API within ${minutes} minutes (the latest ${origin}, from ${request.clientAddress}); all refused. Further ones in this period are audited but not alerted.`,
    });
  }
}

export interface RefusedToken {
  /** The page's origin, when a browser sent it. */
  readonly origin: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly clientAddress: string;
  /** Ended by time (audited only), or never issued here / already ended otherwise (also alerted). */
  readonly expired: boolean;
}

/**
 * Bearer tokens this site refuses (MS-2): another site's token, a forged
 * one, or one replayed after its session ended. Each is audited; all but
 * plainly expired ones are alerted, windowed per client address as for
 * untrusted origins.
 */
export class TokenRefusals extends Refusals {
  async refused(request: RefusedToken): Promise<void> {
    const origin = request.origin?.slice(0, 200) ?? null;
    const path = request.path.slice(0, 200);
    await this.deps.audit.append({
      event: 'bearer_token_refused',
      actor: null,
      clientAddress: request.clientAddress,
      details: { origin, method: request.method, path, expired: request.expired },
    });
    if (request.expired) return;
    const admitted = this.window.admit(request.clientAddress);
    if (admitted === 'quiet') return;
    const minutes = CROSS_ORIGIN_ALERT_WINDOW_MS / 60_000;
    const from = origin ? `a page at ${origin} (${request.clientAddress})` : request.clientAddress;
    const source = origin ? `${origin} (${request.clientAddress})` : request.clientAddress;
    await this.deps.alerts.raise({
      userId: null,
      volumeId: null,
      clientAddress: request.clientAddress,
      kind: 'foreign_token',
      message:
        admitted === 'alert'
          ? {
              code: 'foreign_token',
              params: { from: source, call: `${request.method} ${path.slice(0, 100)}`, minutes },
            }
          : {
              code: 'foreign_tokens_many',
              params: { count: CROSS_ORIGIN_ALERTS_PER_WINDOW, minutes, from: source },
            },
      sentence:
        admitted === 'alert'
          ? `A session token this site did not issue, or one already ended, was shown by ${from} (${request.method} ${path.slice(0, 100)}); refused. Further ones from that address within ${minutes} minutes are audited but not alerted.`
          : `Session tokens this site did not issue came from more than ${CROSS_ORIGIN_ALERTS_PER_WINDOW} addresses within ${minutes} minutes (the latest ${from}); all refused. Further ones in this period are audited but not alerted.`,
    });
  }
}
