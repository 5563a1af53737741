import type { AuditEntry, AuditQuery } from '../../../../src/core/contract';
import type { AuditRepository } from '../../domain/ports';
import type { SiteKeyRepository, StoredSiteKey } from '../../domain/site-keys';
import { dayEnd, dayStart } from '../sqlite-alerts';
import { compareText, ConstraintError, limitOffset } from './sql-semantics';

type AuditFilter = Omit<AuditQuery, 'page' | 'pageSize'>;

/** An entry as the database holds it: the details as JSON text, so what comes back is parsed anew. */
interface StoredEntry extends Omit<AuditEntry, 'details'> {
  readonly details: string;
}

function store(e: AuditEntry): StoredEntry {
  return {
    seq: e.seq,
    at: e.at,
    event: e.event,
    actor: e.actor,
    volumeId: e.volumeId,
    clientAddress: e.clientAddress,
    details: JSON.stringify(e.details),
    prevMac: e.prevMac,
    mac: e.mac,
  };
}

function load(e: StoredEntry): AuditEntry {
  return { ...e, details: JSON.parse(e.details) as Record<string, unknown> };
}

function matcher(f: AuditFilter): (entry: StoredEntry) => boolean {
  const from = f.from ? dayStart(f.from) : undefined;
  const to = f.to ? dayEnd(f.to) : undefined;
  return (e) =>
    (!f.event || e.event === f.event) &&
    (!f.user || e.actor === f.user) &&
    (!f.volume || e.volumeId === f.volume) &&
    (from === undefined || compareText(e.at, from) >= 0) &&
    (to === undefined || compareText(e.at, to) <= 0);
}

/** The audit log in memory (AL-4), kept in seq order. */
export class MemoryAuditRepository implements AuditRepository {
  /** Sorted by seq; appends almost always go to the end. */
  private readonly rows: StoredEntry[] = [];

  /** Memory has no crash to survive: the writes simply happen in order. */
  atomically<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }

  /** No transaction to join: appends go through the log's queue. */
  inTransaction(): boolean {
    return false;
  }

  async head(): Promise<AuditEntry | undefined> {
    const last = this.rows.at(-1);
    return last && load(last);
  }

  async append(entry: AuditEntry): Promise<void> {
    const row = store(entry);
    // seq is the table's INTEGER PRIMARY KEY: SQLite refuses anything but an integer there.
    if (!Number.isSafeInteger(row.seq)) throw new ConstraintError('datatype mismatch');
    const at = this.firstIndex((seq) => seq >= row.seq);
    if (this.rows[at]?.seq === row.seq)
      throw new ConstraintError('UNIQUE constraint failed: audit_log.seq');
    this.rows.splice(at, 0, row);
  }

  async list(query: AuditQuery): Promise<{ entries: AuditEntry[]; total: number }> {
    const matching = this.rows.filter(matcher(query)).reverse();
    return {
      entries: limitOffset(matching, query.pageSize, (query.page - 1) * query.pageSize).map(load),
      total: matching.length,
    };
  }

  async all(query: AuditFilter): Promise<AuditEntry[]> {
    return this.rows.filter(matcher(query)).map(load);
  }

  async *scan(batchSize: number): AsyncIterable<readonly AuditEntry[]> {
    // Batch by batch from the current state, as the SQLite scan reads: entries
    // appended meanwhile are seen, and seq 0 or below is never part of the chain.
    let after = 0;
    for (;;) {
      const start = this.firstIndex((seq) => seq > after);
      const batch = limitOffset(this.rows, batchSize, start);
      if (batch.length === 0) return;
      yield batch.map(load);
      after = batch.at(-1)!.seq;
    }
  }

  /** The first index whose seq passes `test`, which holds from some point on (binary search). */
  private firstIndex(test: (seq: number) => boolean): number {
    let low = 0;
    let high = this.rows.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (test(this.rows[middle]!.seq)) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}

/** The site's wrapped key pairs (ES-4) in memory, one per purpose. */
export class MemorySiteKeyRepository implements SiteKeyRepository {
  private readonly rows = new Map<StoredSiteKey['purpose'], StoredSiteKey>();

  async list(): Promise<readonly StoredSiteKey[]> {
    return [...this.rows.values()].map((k) => ({ ...k }));
  }

  async insert(key: StoredSiteKey): Promise<void> {
    if (this.rows.has(key.purpose))
      throw new ConstraintError('UNIQUE constraint failed: site_keys.purpose');
    this.rows.set(key.purpose, {
      purpose: key.purpose,
      publicJwk: key.publicJwk,
      wrappedPrivate: key.wrappedPrivate,
      createdAt: key.createdAt,
    });
  }
}
