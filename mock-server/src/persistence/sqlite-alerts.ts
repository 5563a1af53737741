import type { Kysely, Selectable, SelectQueryBuilder } from 'kysely';
import type { Alert, AlertKind, AlertQuery } from '../../../src/core/contract';
import type { AlertRepository } from '../domain/ports';
import type { AlertsTable, Database } from './schema';

type AlertFilter = Omit<AlertQuery, 'page' | 'pageSize'>;

function toAlert(row: Selectable<AlertsTable>): Alert {
  return {
    id: row.id,
    kind: row.kind as AlertKind,
    userId: row.user_id,
    volumeId: row.volume_id,
    siteId: row.site_id,
    clientAddress: row.client_address,
    sentence: row.sentence,
    message:
      row.message_code === null
        ? null
        : {
            code: row.message_code,
            params: JSON.parse(row.message_params ?? '{}') as Record<string, string | number>,
          },
    at: row.at,
    acknowledgedAt: row.acknowledged_at,
    acknowledgedBy: row.acknowledged_by,
  };
}

/** Dates are ISO strings, so a bare day compares as the start of that day. */
export function dayEnd(to: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(to) ? `${to}T23:59:59.999Z` : new Date(to).toISOString();
}
export function dayStart(from: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(from) ? `${from}T00:00:00.000Z` : new Date(from).toISOString();
}

function filtered<O>(
  query: SelectQueryBuilder<Database, 'alerts', O>,
  f: AlertFilter,
): SelectQueryBuilder<Database, 'alerts', O> {
  let q = query;
  if (f.kind) q = q.where('kind', '=', f.kind);
  if (f.user) q = q.where('user_id', '=', f.user);
  if (f.volume) q = q.where('volume_id', '=', f.volume);
  if (f.from) q = q.where('at', '>=', dayStart(f.from));
  if (f.to) q = q.where('at', '<=', dayEnd(f.to));
  if (f.acknowledged === 'yes') q = q.where('acknowledged_at', 'is not', null);
  if (f.acknowledged === 'no') q = q.where('acknowledged_at', 'is', null);
  return q;
}

export class SqliteAlertRepository implements AlertRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(alert: Parameters<AlertRepository['insert']>[0]): Promise<Alert> {
    const row = await this.db
      .insertInto('alerts')
      .values({
        kind: alert.kind,
        user_id: alert.userId,
        volume_id: alert.volumeId,
        site_id: alert.siteId,
        client_address: alert.clientAddress,
        sentence: alert.sentence,
        message_code: alert.message.code,
        message_params: JSON.stringify(alert.message.params),
        at: alert.at,
        acknowledged_at: null,
        acknowledged_by: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toAlert(row);
  }

  async list(
    query: AlertQuery,
  ): Promise<{ alerts: Alert[]; total: number; unacknowledged: number }> {
    const rows = await filtered(this.db.selectFrom('alerts').selectAll(), query)
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(query.pageSize)
      .offset((query.page - 1) * query.pageSize)
      .execute();
    const { total } = await filtered(
      this.db.selectFrom('alerts').select((eb) => eb.fn.countAll<number>().as('total')),
      query,
    ).executeTakeFirstOrThrow();
    const { unacknowledged } = await this.db
      .selectFrom('alerts')
      .select((eb) => eb.fn.countAll<number>().as('unacknowledged'))
      .where('acknowledged_at', 'is', null)
      .executeTakeFirstOrThrow();
    return {
      alerts: rows.map(toAlert),
      total: Number(total),
      unacknowledged: Number(unacknowledged),
    };
  }

  async all(query: AlertFilter): Promise<Alert[]> {
    const rows = await filtered(this.db.selectFrom('alerts').selectAll(), query)
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toAlert);
  }

  async acknowledge(ids: readonly number[], by: string, at: string): Promise<number> {
    // `in ()` is SQLite's, not PostgreSQL's: no IDs acknowledge nothing.
    if (ids.length === 0) return 0;
    const result = await this.db
      .updateTable('alerts')
      .set({ acknowledged_at: at, acknowledged_by: by })
      .where('id', 'in', [...ids])
      .where('acknowledged_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async pageOfVolume(
    volumeId: string,
    kinds: readonly AlertKind[],
    before: { readonly at: string; readonly id: number } | null,
    limit: number,
  ): Promise<Alert[]> {
    if (kinds.length === 0) return [];
    // Read from alerts_by_volume (migration 0007), whose rows end in the rowid.
    let query = this.db
      .selectFrom('alerts')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .where('kind', 'in', [...kinds]);
    if (before) {
      query = query.where((eb) =>
        eb.or([
          eb('at', '<', before.at),
          eb.and([eb('at', '=', before.at), eb('id', '<', before.id)]),
        ]),
      );
    }
    const rows = await query.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toAlert);
  }
}
