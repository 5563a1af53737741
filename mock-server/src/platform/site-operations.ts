import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { ObjectStoreHealth } from '../../../src/core/contract';
import { DATABASE_FILE } from '../persistence/database';
import type { DatabaseKind } from '../persistence/dialect';
import type { SiteDatabase } from '../persistence/site-database';

export type HealthStatus = 'ok' | 'degraded' | 'failing';

export interface HealthCheck {
  readonly status: HealthStatus;
  readonly reason?: string;
}

export interface HealthReport {
  readonly status: HealthStatus;
  readonly version: string;
  readonly database: HealthCheck & DatabaseEngine;
  readonly disk: HealthCheck & { readonly freeBytes?: number };
  readonly objectStore: ObjectStoreHealth;
}

const FILESYSTEM: ObjectStoreHealth = { kind: 'filesystem' };

/** The database's engine and, for PostgreSQL, whether its server answered just now. */
export interface DatabaseEngine {
  readonly kind: DatabaseKind;
  readonly reachable?: boolean;
}

/** Below this, uploads and sign-ins will soon fail: "failing", whatever the configured threshold. */
export const DISK_FAILING_BYTES = 64 * 1024 * 1024;

/** The worse of the checks decides the site's status. */
export function assessHealth(input: {
  version: string;
  database: () => void;
  /** The database's engine; by default SQLite. */
  engine?: DatabaseEngine;
  freeBytes: () => number;
  lowBytes: number;
  /** Where chunk blobs are kept; by default the data directory. */
  objectStore?: ObjectStoreHealth;
}): HealthReport {
  const engine = input.engine ?? { kind: 'sqlite' };
  let database: HealthReport['database'] = { status: 'ok', ...engine };
  try {
    input.database();
  } catch (error) {
    database = {
      ...engine,
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
  const objectStore = input.objectStore ?? FILESYSTEM;
  // Without its bucket the site can neither take nor give back a chunk.
  const blobs: HealthStatus =
    objectStore.kind === 's3' && !objectStore.reachable ? 'failing' : 'ok';
  const rank: Record<HealthStatus, number> = { ok: 0, degraded: 1, failing: 2 };
  const status = [database.status, disk.status, blobs].reduce((worst, s) =>
    rank[s] > rank[worst] ? s : worst,
  );
  return { status, version: input.version, database, disk, objectStore };
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
    private readonly database: SiteDatabase,
    private readonly dataDir: string,
    private readonly version: string,
    private readonly diskLowBytes: number,
    private readonly objectStore: () => Promise<ObjectStoreHealth> = async () => FILESYSTEM,
  ) {}

  async health(): Promise<HealthReport> {
    const objectStore = await this.objectStore();
    const database = await this.databaseProbe();
    return assessHealth({
      version: this.version,
      database: database.check,
      engine: database.engine,
      freeBytes: () => {
        const s = fs.statfsSync(this.dataDir);
        return s.bavail * s.bsize;
      },
      lowBytes: this.diskLowBytes,
      objectStore,
    });
  }

  /** The database's engine, and a check that throws when the database cannot be read. */
  private async databaseProbe(): Promise<{ engine: DatabaseEngine; check: () => void }> {
    const database = this.database;
    if (database.kind === 'sqlite') {
      return {
        engine: { kind: 'sqlite' },
        check: () => {
          database.sqlite.prepare('select count(*) from site_keys').get();
        },
      };
    }
    const ping = await database.ping();
    if ('error' in ping) {
      return {
        engine: { kind: 'postgresql', reachable: false },
        check: () => {
          throw new Error(
            `the PostgreSQL server at ${database.location} does not answer (${ping.error.message})`,
          );
        },
      };
    }
    const failure = await sql`select count(*) from site_keys`.execute(database.db).then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    return {
      engine: { kind: 'postgresql', reachable: true },
      check: () => {
        if (failure) throw failure.error;
      },
    };
  }

  /** Rows of a query written for both engines. */
  private async rows<R>(text: string): Promise<R[]> {
    const database = this.database;
    if (database.kind === 'sqlite') return database.sqlite.prepare(text).all() as R[];
    return (await sql.raw<R>(text).execute(database.db)).rows;
  }

  /** The database's size on disk: SQLite's file and its WAL, or PostgreSQL's own count. */
  private async databaseBytes(): Promise<number> {
    if (this.database.kind === 'postgresql') {
      const [row] = await this.rows<{ n: number }>(
        'select pg_database_size(current_database()) as n',
      );
      return Number(row?.n ?? 0);
    }
    return [DATABASE_FILE, `${DATABASE_FILE}-wal`]
      .map((f) => {
        try {
          return fs.statSync(path.join(this.dataDir, f)).size;
        } catch {
          return 0;
        }
      })
      .reduce((a, b) => a + b, 0);
  }

  /** `route` is the route pattern (never the raw URL, so labels stay few). */
  countRequest(method: string, route: string, status: number): void {
    const key = `method="${escapeLabel(method)}",route="${escapeLabel(route)}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  /** The Prometheus text exposition format (version 0.0.4). */
  async metrics(): Promise<string> {
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
    const releases = await this.rows<{ state: string; n: number }>(
      'select state, count(*) as n from releases group by state',
    );
    family(
      'custodian_key_releases',
      'gauge',
      'Key release requests held by the site, by state.',
      releases.map((r) => [`state="${escapeLabel(r.state)}"`, r.n]),
    );
    const [released] = await this.rows<{ n: number }>(
      `select count(*) as n from audit_log where event = 'key_released'`,
    );
    family('custodian_keys_released_total', 'counter', 'Keys released (audited).', [
      ['', released!.n],
    ]);
    const alerts = await this.rows<{ kind: string; acknowledged: number | boolean; n: number }>(
      'select kind, acknowledged_at is not null as acknowledged, count(*) as n from alerts group by kind, acknowledged',
    );
    family(
      'custodian_alerts',
      'gauge',
      'Alerts raised, by kind and whether acknowledged.',
      alerts.map((a) => [
        `kind="${escapeLabel(a.kind)}",acknowledged="${a.acknowledged ? 'true' : 'false'}"`,
        a.n,
      ]),
    );
    const [chunks] = await this.rows<{ n: number; bytes: number | string }>(
      'select count(*) as n, coalesce(sum(size), 0) as bytes from chunks',
    );
    const dbBytes = await this.databaseBytes();
    family('custodian_storage_bytes', 'gauge', 'Bytes stored, by kind.', [
      // PostgreSQL sums bigints as numeric, which pg gives as text.
      ['kind="chunks"', Number(chunks!.bytes)],
      ['kind="database"', dbBytes],
    ]);
    family('custodian_chunks', 'gauge', 'Chunk blobs the site holds.', [['', chunks!.n]]);
    const health = await this.health();
    family('custodian_disk_free_bytes', 'gauge', 'Free bytes in the data directory.', [
      ['', health.disk.freeBytes ?? 0],
    ]);
    family('custodian_healthy', 'gauge', '1 when /api/health says ok, else 0.', [
      ['', health.status === 'ok' ? 1 : 0],
    ]);
    return `${lines.join('\n')}\n`;
  }
}
