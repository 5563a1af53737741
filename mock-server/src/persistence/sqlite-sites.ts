import type { Kysely, Selectable } from 'kysely';
import type { SitePublicKey } from '../../../src/core/contract';
import type { SiteContact, TrustedSiteRecord, TrustedSiteRepository } from '../domain/sites/ports';
import type { AuditRepository } from '../domain/ports';
import type { Database, TrustedSitesTable } from './schema';
import { SqliteAuditRepository } from './sqlite-audit';
import { transact } from './transactions';

/** The sites this site trusts (MS-1) on the site's SQLite database. */
export class SqliteTrustedSiteRepository implements TrustedSiteRepository {
  /** `db` may be an open transaction: the repository then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<readonly TrustedSiteRecord[]> {
    const rows = await this.db
      .selectFrom('trusted_sites')
      .selectAll()
      .orderBy('name')
      .orderBy('site_id')
      .execute();
    return rows.map(siteOf);
  }

  async find(siteId: string): Promise<TrustedSiteRecord | undefined> {
    const row = await this.db
      .selectFrom('trusted_sites')
      .selectAll()
      .where('site_id', '=', siteId)
      .executeTakeFirst();
    return row && siteOf(row);
  }

  async findByUrl(url: string): Promise<TrustedSiteRecord | undefined> {
    const row = await this.db
      .selectFrom('trusted_sites')
      .selectAll()
      .where('url', '=', url)
      .executeTakeFirst();
    return row && siteOf(row);
  }

  async insert(site: TrustedSiteRecord): Promise<void> {
    await this.db
      .insertInto('trusted_sites')
      .values({
        site_id: site.siteId,
        name: site.name,
        url: site.url,
        escrow_key: JSON.stringify(site.escrowKey),
        signing_key: JSON.stringify(site.signingKey),
        trusted_at: site.trustedAt,
        trusted_by: site.trustedBy,
        last_contact_at: site.lastContactAt,
        reachable: site.reachable === null ? null : Number(site.reachable),
        refused_fingerprint: site.refusedFingerprint,
      })
      .execute();
  }

  async remove(siteId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('trusted_sites')
      .where('site_id', '=', siteId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async recordContact(siteId: string, contact: SiteContact): Promise<void> {
    const values = {
      ...(contact.lastContactAt !== undefined ? { last_contact_at: contact.lastContactAt } : {}),
      ...(contact.reachable !== undefined ? { reachable: Number(contact.reachable) } : {}),
      ...(contact.refusedFingerprint !== undefined
        ? { refused_fingerprint: contact.refusedFingerprint }
        : {}),
    };
    if (Object.keys(values).length === 0) return;
    await this.db.updateTable('trusted_sites').set(values).where('site_id', '=', siteId).execute();
  }

  atomically<T>(
    work: (tx: {
      readonly sites: TrustedSiteRepository;
      readonly audit: AuditRepository;
    }) => Promise<T>,
  ): Promise<T> {
    return transact(this.db, (trx) =>
      work({ sites: new SqliteTrustedSiteRepository(trx), audit: new SqliteAuditRepository(trx) }),
    );
  }
}

function siteOf(row: Selectable<TrustedSitesTable>): TrustedSiteRecord {
  return {
    siteId: row.site_id,
    name: row.name,
    url: row.url,
    escrowKey: JSON.parse(row.escrow_key) as SitePublicKey,
    signingKey: JSON.parse(row.signing_key) as SitePublicKey,
    trustedAt: row.trusted_at,
    trustedBy: row.trusted_by,
    lastContactAt: row.last_contact_at,
    reachable: row.reachable === null ? null : row.reachable === 1,
    refusedFingerprint: row.refused_fingerprint,
  };
}
