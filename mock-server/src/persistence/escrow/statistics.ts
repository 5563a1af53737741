import { sql, type Kysely } from 'kysely';
import type { RecordState } from '../../../../src/core/contract';
import type { EscrowStatistics } from '../../domain/escrow/ports';
import type { Database } from '../schema';

/** The dashboard's counts from the site's SQLite database. */
export class SqliteEscrowStatistics implements EscrowStatistics {
  /** `db` may be an open transaction: the statistics are then read inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async since(since: string) {
    const { volumes } = await this.db
      .selectFrom('volumes')
      .select((eb) => eb.fn.countAll<number>().as('volumes'))
      .executeTakeFirstOrThrow();
    const states = await this.db
      .selectFrom('escrow_records')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    const recordsByState: Record<RecordState, number> = { active: 0, burned: 0, revoked: 0 };
    for (const row of states) recordsByState[row.state as RecordState] = Number(row.n);
    const days = await this.db
      .selectFrom('chunks')
      .select([
        sql<string>`substr(stored_at, 1, 10)`.as('day'),
        (eb) => eb.fn.sum<number>('size').as('bytes'),
      ])
      .where('stored_at', '>=', since)
      .groupBy(sql`substr(stored_at, 1, 10)`)
      .orderBy('day')
      .execute();
    return {
      volumes: Number(volumes),
      recordsByState,
      bytesPerDay: days.map((d) => ({ day: d.day, bytes: Number(d.bytes) })),
    };
  }
}
