import type {
  AuditEntry,
  AuditFilter,
  AuditPage,
  AuditQuery,
  AuditVerification,
} from '@/core/contract';

export interface DemoAuditInput {
  readonly event: string;
  readonly actor: string | null;
  readonly volumeId?: string | null;
  readonly details?: Record<string, unknown>;
}

/**
 * The demo site's audit log (AL-4). Its "MAC" is a sealed copy of each entry
 * taken at append time: verification names the first entry that no longer
 * matches its seal, as the site's HMAC chain does.
 */
export class DemoAudit {
  entries: AuditEntry[] = [];
  private seals = new Map<number, string>();

  reset(): void {
    this.entries = [];
    this.seals.clear();
  }

  append(input: DemoAuditInput): AuditEntry {
    const previous = this.entries.at(-1);
    const seq = (previous?.seq ?? 0) + 1;
    const entry: AuditEntry = {
      seq,
      at: new Date().toISOString(),
      event: input.event,
      actor: input.actor,
      volumeId: input.volumeId ?? null,
      clientAddress: '127.0.0.1',
      details: { ...input.details },
      prevMac: previous?.mac ?? '0'.repeat(64),
      mac: seq.toString(16).padStart(64, '0'),
    };
    this.entries.push(entry);
    this.seals.set(seq, JSON.stringify(entry));
    return entry;
  }

  all(filter: AuditFilter): AuditEntry[] {
    const from = filter.from ? Date.parse(filter.from) : undefined;
    const to = filter.to ? Date.parse(filter.to) : undefined;
    return this.entries
      .filter(
        (e) =>
          (!filter.event || e.event === filter.event) &&
          (!filter.user || e.actor === filter.user) &&
          (!filter.volume || e.volumeId === filter.volume) &&
          (from === undefined || Date.parse(e.at) >= from) &&
          (to === undefined || Date.parse(e.at) <= to),
      )
      .sort((a, b) => b.seq - a.seq);
  }

  list(query: AuditQuery): AuditPage {
    const matching = this.all(query);
    const start = (query.page - 1) * query.pageSize;
    return { entries: matching.slice(start, start + query.pageSize), total: matching.length };
  }

  verify(): AuditVerification {
    let expected = 1;
    for (const entry of this.entries) {
      const broken = (reason: string): AuditVerification => ({
        intact: false,
        entries: expected - 1,
        brokenAt: entry.seq,
        reason,
      });
      if (entry.seq !== expected) {
        return broken(`entry ${expected} is missing (the next entry found is ${entry.seq})`);
      }
      if (this.seals.get(entry.seq) !== JSON.stringify(entry)) {
        return broken(`entry ${entry.seq} was altered`);
      }
      expected++;
    }
    const last = this.entries.at(-1);
    return {
      intact: true,
      entries: expected - 1,
      head: { seq: last?.seq ?? 0, mac: last?.mac ?? '0'.repeat(64) },
    };
  }
}
