import type { Kysely } from 'kysely';
import type { RegistrationImportRepository } from '../../domain/escrow/ports';
import type { Database } from '../schema';

/** Imported registration files on the site's SQLite database. */
export class SqliteRegistrationImportRepository implements RegistrationImportRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async has(registrationId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('registration_imports')
      .select('registration_id')
      .where('registration_id', '=', registrationId)
      .executeTakeFirst();
    return Boolean(r);
  }

  async insert(registrationId: string, volumeId: string, by: string, at: string): Promise<boolean> {
    const result = await this.db
      .insertInto('registration_imports')
      .values({
        registration_id: registrationId,
        volume_id: volumeId,
        imported_by: by,
        imported_at: at,
      })
      .onConflict((oc) => oc.column('registration_id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }
}
