import type { Kysely } from 'kysely';
import type { EscrowStore } from '../domain/escrow/ports';
import type {
  AlertRepository,
  AuditRepository,
  SessionRepository,
  SignInFailureRepository,
  UserRepository,
} from '../domain/ports';
import type { SiteKeyRepository } from '../domain/site-keys';
import type { TrustedSiteRepository } from '../domain/sites/ports';
import type { Database } from './schema';
import { SqliteAlertRepository } from './sqlite-alerts';
import { SqliteAuditRepository, SqliteSiteKeyRepository } from './sqlite-audit';
import { SqliteEscrowStore } from './sqlite-escrow';
import {
  SqliteSessionRepository,
  SqliteSignInFailureRepository,
  SqliteUserRepository,
} from './sqlite-identity';
import { SqliteTrustedSiteRepository } from './sqlite-sites';

/** Every repository port of the site, over one database. */
export interface SiteRepositories {
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly failures: SignInFailureRepository;
  readonly alerts: AlertRepository;
  readonly audit: AuditRepository;
  readonly siteKeys: SiteKeyRepository;
  readonly escrow: EscrowStore;
  readonly trustedSites: TrustedSiteRepository;
}

/**
 * The site's repositories on one Kysely database, whatever engine is under
 * it: better-sqlite3 on the site and in tests, SQLite compiled to
 * WebAssembly in the offline demo's page.
 */
export function kyselyRepositories(db: Kysely<Database>): SiteRepositories {
  return {
    users: new SqliteUserRepository(db),
    sessions: new SqliteSessionRepository(db),
    failures: new SqliteSignInFailureRepository(db),
    alerts: new SqliteAlertRepository(db),
    audit: new SqliteAuditRepository(db),
    siteKeys: new SqliteSiteKeyRepository(db),
    escrow: new SqliteEscrowStore(db),
    trustedSites: new SqliteTrustedSiteRepository(db),
  };
}
