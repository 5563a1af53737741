import type {
  Alert,
  AlertQuery,
  IntegrityCheck,
  IntegrityReport,
} from '../../../src/core/contract';
import { parseManifest } from '../../../src/core/crypto/manifest';
import type { AuditLog } from './audit';
import { DomainError } from './errors';
import type { Caller } from './escrow/context';
import type { EscrowStore } from './escrow/ports';
import { notFound } from './escrow/volumes';
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

/** Integrity reports one user may send in a window before the site refuses more (RS-5). */
export const INTEGRITY_REPORTS_PER_WINDOW = 10;
export const INTEGRITY_REPORT_WINDOW_MS = 10 * 60_000;

/** What the site says a failed check means: its own words, never the reporter's. */
const CHECK_WORDS: Record<IntegrityCheck, string> = {
  aead: 'failed authenticated decryption',
  'chunk-id': 'does not match its chunk ID once decrypted',
  'index-hash': 'does not match the ciphertext SHA-256 in the signed index',
  length: 'does not have the length in the signed index',
  missing: 'is missing',
  order: 'is out of the order of the signed index',
  manifest: 'has a signed index that does not verify',
  'image-sha256': 'restored to an image whose SHA-256 differs from the original',
  'key-share': "sent a share of the keys that does not fit the other sites' shares",
};

/**
 * A client's report that what it restored or verified failed a check (RS-5).
 * Only the owner or a registered restorer of the volume may report, about a
 * generation and chunk the site really holds, in structured fields the site
 * turns into its own sentence; each user may send a few per window, and the
 * first report past that raises one summary alert instead of a flood.
 * The windows live in this instance's memory: a site run as several
 * instances (SX-2) lets up to that many times the reports through per
 * window (each still checked and audited); README "Running a site on
 * several machines" says so.
 */
export class IntegrityReportService {
  private readonly windows = new Map<
    string,
    { startedAt: number; count: number; summarised: boolean }
  >();

  constructor(
    private readonly deps: {
      readonly store: Pick<EscrowStore, 'records' | 'volumes' | 'generations'>;
      readonly audit: AuditLog;
      readonly alerts: AlertSink;
      readonly clock: Clock;
      readonly siteId: string;
    },
  ) {}

  async report(caller: Caller, report: IntegrityReport): Promise<void> {
    // Counted before anything else, so a flood of refused reports is limited too.
    await this.admit(caller);
    const { volumeId, generation } = report;
    await this.assertMayReport(caller, volumeId);
    const row = await this.deps.store.generations.find(volumeId, generation);
    if (!row) {
      throw new DomainError(
        'generation_not_found',
        `Volume ${volumeId} has no generation ${generation}.`,
        404,
      );
    }
    const chunk = chunkNamed(row.manifest, report);
    if (chunk === null) {
      throw new DomainError(
        'unknown_chunk',
        `Generation ${generation} of this volume lists no such chunk; report a chunk of its signed index.`,
        400,
      );
    }
    await this.deps.audit.append({
      event: 'integrity_failure_reported',
      actor: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
      details: { ...report },
    });
    const where = chunk
      ? [
          'chunk',
          chunk.index !== undefined ? `#${chunk.index}` : '',
          chunk.chunkId ? `(${chunk.chunkId.slice(0, 16)}…)` : '',
          'of ',
        ]
          .filter(Boolean)
          .join(' ')
      : '';
    const copy =
      report.source === 'site'
        ? `the copy at this site (${this.deps.siteId})`
        : `${caller.userId}'s local copy`;
    const more =
      report.badChunks && report.badChunks > 1 ? ` ${report.badChunks} chunks in all failed.` : '';
    await this.deps.alerts.raise({
      kind: 'integrity_failure',
      userId: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
      message: {
        code: chunk ? 'integrity_report' : 'integrity_report_volume',
        params: {
          userId: caller.userId,
          volumeId,
          generation,
          chunk: chunk
            ? [
                chunk.index !== undefined ? `#${chunk.index}` : '',
                chunk.chunkId?.slice(0, 16) ?? '',
              ]
                .filter(Boolean)
                .join(' ')
            : '',
          copy: report.source === 'site' ? 'site' : 'local',
          check: report.check,
          count: report.badChunks ?? 1,
        },
      },
      sentence: `${caller.userId} reports that ${where}generation ${generation} of volume ${volumeId}, read from ${copy}, ${CHECK_WORDS[report.check]}.${more}`,
    });
  }

  /** The owner or a registered restorer; anyone else hears what an unknown volume gets. */
  private async assertMayReport(caller: Caller, volumeId: string): Promise<void> {
    const record = await this.deps.store.records.find(volumeId);
    const volume = record ? undefined : await this.deps.store.volumes.find(volumeId);
    if (!record && !volume) throw notFound(volumeId);
    const owner = record?.owner ?? volume!.owner;
    if (owner === caller.userId || record?.restorers.includes(caller.userId)) return;
    await this.deps.audit.append({
      event: 'integrity_report_refused',
      actor: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
      details: { reason: 'not_registered' },
    });
    throw notFound(volumeId);
  }

  private async admit(caller: Caller): Promise<void> {
    const now = this.deps.clock.now().getTime();
    let window = this.windows.get(caller.userId);
    if (!window || now - window.startedAt >= INTEGRITY_REPORT_WINDOW_MS) {
      window = { startedAt: now, count: 0, summarised: false };
      this.windows.set(caller.userId, window);
    }
    window.count++;
    if (window.count <= INTEGRITY_REPORTS_PER_WINDOW) return;
    const until = new Date(window.startedAt + INTEGRITY_REPORT_WINDOW_MS).toISOString();
    if (!window.summarised) {
      window.summarised = true;
      await this.deps.audit.append({
        event: 'integrity_reports_limited',
        actor: caller.userId,
        clientAddress: caller.clientAddress,
        details: { limit: INTEGRITY_REPORTS_PER_WINDOW, until },
      });
      await this.deps.alerts.raise({
        kind: 'integrity_failure',
        userId: caller.userId,
        volumeId: null,
        clientAddress: caller.clientAddress,
        message: {
          code: 'integrity_reports_limited',
          params: {
            userId: caller.userId,
            count: INTEGRITY_REPORTS_PER_WINDOW,
            minutes: INTEGRITY_REPORT_WINDOW_MS / 60_000,
            until,
          },
        },
        sentence: `${caller.userId} sent more than ${INTEGRITY_REPORTS_PER_WINDOW} integrity reports within ${INTEGRITY_REPORT_WINDOW_MS / 60_000} minutes; the site refuses their further reports until ${until}.`,
      });
    }
    throw new DomainError(
      'too_many_reports',
      `You sent ${INTEGRITY_REPORTS_PER_WINDOW} integrity reports within ${INTEGRITY_REPORT_WINDOW_MS / 60_000} minutes; the site takes more from you after ${until}. The administrators were told.`,
      429,
      { retryAfter: until },
    );
  }
}

/**
 * The chunk a report names, checked against the generation's signed index:
 * undefined when it names none, null when the index lists no such chunk.
 * A stored index that no longer parses is itself damage worth hearing of,
 * so the report's own (validated) position and ID are taken then.
 */
function chunkNamed(
  manifest: string,
  report: IntegrityReport,
): { index?: number; chunkId?: string } | undefined | null {
  const { chunkIndex, chunkId } = report;
  if (chunkIndex === undefined && chunkId === undefined) return undefined;
  let chunks: readonly { chunkId: string }[];
  try {
    chunks = parseManifest(manifest).index.chunks;
  } catch {
    return { index: chunkIndex, chunkId };
  }
  const index = chunkIndex ?? chunks.findIndex((c) => c.chunkId === chunkId);
  const found = chunks[index];
  if (!found || (chunkId !== undefined && found.chunkId !== chunkId)) return null;
  return { index, chunkId: found.chunkId };
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
