import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { AuditEntry, AuditQuery } from '../../../src/core/contract';
import type { AuditRepository } from '../domain/ports';
import type { SiteKeyRepository, StoredSiteKey } from '../domain/site-keys';
import type { AuditLogTable, Database } from './schema';
import { dayEnd, dayStart } from './sqlite-alerts';
import { transact } from './transactions';

function toEntry(row: AuditLogTable): AuditEntry {
  return {
    seq: row.seq,
    at: row.at,
    event: row.event,
    actor: row.actor,
    volumeId: row.volume_id,
    clientAddress: row.client_address,
    details: JSON.parse(row.details) as Record<string, unknown>,
    prevMac: row.prev_mac,
    mac: row.mac,
  };
}

function filtered<O>(
  query: SelectQueryBuilder<Database, 'audit_log', O>,
  f: Omit<AuditQuery, 'page' | 'pageSize'>,
): SelectQueryBuilder<Database, 'audit_log', O> {
  let q = query;
  if (f.event) q = q.where('event', '=', f.event);
  if (f.user) q = q.where('actor', '=', f.user);
  if (f.volume) q = q.where('volume_id', '=', f.volume);
  if (f.from) q = q.where('at', '>=', dayStart(f.from));
  if (f.to) q = q.where('at', '<=', dayEnd(f.to));
  return q;
}

export class SqliteAuditRepository implements AuditRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  atomically<T>(work: (tx: AuditRepository) => Promise<T>): Promise<T> {
    return transact(this.db, (trx) => work(new SqliteAuditRepository(trx)));
  }

  async head(): Promise<AuditEntry | undefined> {
    const row = await this.db
      .selectFrom('audit_log')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? toEntry(row) : undefined;
  }

  async append(e: AuditEntry): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({
        seq: e.seq,
        at: e.at,
        event: e.event,
        actor: e.actor,
        volume_id: e.volumeId,
        client_address: e.clientAddress,
        details: JSON.stringify(e.details),
        prev_mac: e.prevMac,
        mac: e.mac,
      })
      .execute();
  }

  async list(query: AuditQuery): Promise<{ entries: AuditEntry[]; total: number }> {
    const rows = await filtered(this.db.selectFrom('audit_log').selectAll(), query)
      .orderBy('seq', 'desc')
      .limit(query.pageSize)
      .offset((query.page - 1) * query.pageSize)
      .execute();
    const { total } = await filtered(
      this.db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('total')),
      query,
    ).executeTakeFirstOrThrow();
    return { entries: rows.map(toEntry), total: Number(total) };
  }

  async all(query: Omit<AuditQuery, 'page' | 'pageSize'>): Promise<AuditEntry[]> {
    const rows = await filtered(this.db.selectFrom('audit_log').selectAll(), query)
      .orderBy('seq')
      .execute();
    return rows.map(toEntry);
  }

  async *scan(batchSize: number): AsyncIterable<readonly AuditEntry[]> {
    let after = 0;
    for (;;) {
      const rows = await this.db
        .selectFrom('audit_log')
        .selectAll()
        .where('seq', '>', after)
        .orderBy('seq')
        .limit(batchSize)
        .execute();
      if (rows.length === 0) return;
      yield rows.map(toEntry);
      after = rows.at(-1)!.seq;
    }
  }
}

export class SqliteSiteKeyRepository implements SiteKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<readonly StoredSiteKey[]> {
    const rows = await this.db.selectFrom('site_keys').selectAll().execute();
    return rows.map((r) => ({
      purpose: r.purpose,
      publicJwk: r.public_jwk,
      wrappedPrivate: r.wrapped_private,
      createdAt: r.created_at,
    }));
  }

  async insert(key: StoredSiteKey): Promise<void> {
    await this.db
      .insertInto('site_keys')
      .values({
        purpose: key.purpose,
        public_jwk: key.publicJwk,
        wrapped_private: key.wrappedPrivate,
        created_at: key.createdAt,
      })
      .execute();
  }
}
