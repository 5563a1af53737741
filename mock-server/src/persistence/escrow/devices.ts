import type { Kysely, Selectable } from 'kysely';
import type { DeviceKeyRow, DeviceRepository } from '../../domain/escrow/ports';
import type { Database, DeviceKeysTable } from '../schema';

/** Device keys on the site's SQLite database. */
export class SqliteDeviceRepository implements DeviceRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async add(d: DeviceKeyRow): Promise<void> {
    await this.db
      .insertInto('device_keys')
      .values({
        fingerprint: d.fingerprint,
        user_id: d.userId,
        public_jwk: d.publicJwk,
        spki: d.spki,
        label: d.label,
        registered_at: d.registeredAt,
      })
      .onConflict((oc) => oc.column('fingerprint').doNothing())
      .execute();
  }

  async find(fingerprint: string): Promise<DeviceKeyRow | undefined> {
    const r = await this.db
      .selectFrom('device_keys')
      .selectAll()
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
    return r && deviceOf(r);
  }

  async of(userId: string): Promise<DeviceKeyRow[]> {
    const rows = await this.db
      .selectFrom('device_keys')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('registered_at')
      .execute();
    return rows.map(deviceOf);
  }
}

function deviceOf(r: Selectable<DeviceKeysTable>): DeviceKeyRow {
  return {
    fingerprint: r.fingerprint,
    userId: r.user_id,
    publicJwk: r.public_jwk,
    spki: r.spki,
    label: r.label,
    registeredAt: r.registered_at,
  };
}
