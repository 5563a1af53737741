import fs from 'node:fs';
import path from 'node:path';
import type SQLite from 'better-sqlite3';
import { DATABASE_FILE } from '../persistence/database';

export type HealthStatus = 'ok' | 'degraded' | 'failing';

export interface HealthCheck {
  readonly status: HealthStatus;
  readonly reason?: string;
}

export interface HealthReport {
  readonly status: HealthStatus;
  readonly version: string;
  readonly database: HealthCheck;
  readonly disk: HealthCheck & { readonly freeBytes?: number };
}

/** Below this, uploads and sign-ins will soon fail: "failing", whatever the configured threshold. */
export const DISK_FAILING_BYTES = 64 * 1024 * 1024;

/** The worse of the checks decides the site's status. */
export function assessHealth(input: {
  version: string;
  database: () => void;
  freeBytes: () => number;
  lowBytes: number;
}): HealthReport {
  let database: HealthCheck = { status: 'ok' };
  try {
    input.database();
  } catch (error) {
    database = {
      status: 'failing',
      reason: `The database cannot be read: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  let disk: HealthReport['disk'];
  try {
    const free = input.freeBytes();
    const mib = (n: number) => `${Math.floor(n / 1024 / 1024)} MiB`;
    disk =
      free < DISK_FAILING_BYTES
        ? {
            status: 'failing',
            freeBytes: free,
            reason: `Only ${mib(free)} free in the data directory: uploads are refused soon.`,
          }
        : free < input.lowBytes
          ? {
              status: 'degraded',
              freeBytes: free,
              reason: `${mib(free)} free in the data directory, below ${mib(input.lowBytes)}.`,
            }
          : { status: 'ok', freeBytes: free };
  } catch (error) {
    disk = {
      status: 'failing',
      reason: `The data directory cannot be examined: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  const rank: Record<HealthStatus, number> = { ok: 0, degraded: 1, failing: 2 };
  const status = rank[database.status] >= rank[disk.status] ? database.status : disk.status;
  return { status, version: input.version, database, disk };
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Health and Prometheus metrics of one running site over its database and
 * data directory. Request counts are kept in memory since the start;
 * releases, alerts and stored bytes are read from the database when scraped.
 */
export class SiteOperations {
  private readonly requests = new Map<string, number>();

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly dataDir: string,
    private readonly version: string,
    private readonly diskLowBytes: number,
  ) {}

  health(): HealthReport {
    return assessHealth({
      version: this.version,
      database: () => {
        this.sqlite.prepare('select count(*) from site_keys').get();
      },
      freeBytes: () => {
        const s = fs.statfsSync(this.dataDir);
        return s.bavail * s.bsize;
      },
      lowBytes: this.diskLowBytes,
    });
  }

  /** `route` is the route pattern (never the raw URL, so labels stay few). */
  countRequest(method: string, route: string, status: number): void {
    const key = `method="${escapeLabel(method)}",route="${escapeLabel(route)}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  /** The Prometheus text exposition format (version 0.0.4). */
  metrics(): string {
    const lines: string[] = [];
    const family = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples)
        lines.push(`${name}${labels ? `{${labels}}` : ''} ${value}`);
    };
    family(
      'custodian_http_requests_total',
      'counter',
      'HTTP requests answered since the site started, by route and status.',
      [...this.requests],
    );
    const releases = this.sqlite
      .prepare('select state, count(*) as n from releases group by state')
      .all() as { state: string; n: number }[];
    family(
      'custodian_key_releases',
      'gauge',
      'Key release requests held by the site, by state.',
      releases.map((r) => [`state="${escapeLabel(r.state)}"`, r.n]),
    );
    const released = this.sqlite
      .prepare(`select count(*) as n from audit_log where event = 'key_released'`)
      .get() as { n: number };
    family('custodian_keys_released_total', 'counter', 'Keys released (audited).', [
      ['', released.n],
    ]);
    const alerts = this.sqlite
      .prepare(
        'select kind, acknowledged_at is not null as acknowledged, count(*) as n from alerts group by kind, acknowledged',
      )
      .all() as { kind: string; acknowledged: number; n: number }[];
    family(
      'custodian_alerts',
      'gauge',
      'Alerts raised, by kind and whether acknowledged.',
      alerts.map((a) => [
        `kind="${escapeLabel(a.kind)}",acknowledged="${a.acknowledged ? 'true' : 'false'}"`,
        a.n,
      ]),
    );
    const chunks = this.sqlite
      .prepare('select count(*) as n, coalesce(sum(size), 0) as bytes from chunks')
      .get() as { n: number; bytes: number };
    const dbBytes = [DATABASE_FILE, `${DATABASE_FILE}-wal`]
      .map((f) => {
        try {
          return fs.statSync(path.join(this.dataDir, f)).size;
        } catch {
          return 0;
        }
      })
      .reduce((a, b) => a + b, 0);
    family('custodian_storage_bytes', 'gauge', 'Bytes stored, by kind.', [
      ['kind="chunks"', chunks.bytes],
      ['kind="database"', dbBytes],
    ]);
    family('custodian_chunks', 'gauge', 'Chunk blobs the site holds.', [['', chunks.n]]);
    const health = this.health();
    family('custodian_disk_free_bytes', 'gauge', 'Free bytes in the data directory.', [
      ['', health.disk.freeBytes ?? 0],
    ]);
    family('custodian_healthy', 'gauge', '1 when /api/health says ok, else 0.', [
      ['', health.status === 'ok' ? 1 : 0],
    ]);
    return `${lines.join('\n')}\n`;
  }
}
