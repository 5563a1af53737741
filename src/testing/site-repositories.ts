import { openInMemoryDatabase } from '../../mock-server/src/persistence/in-memory-database';
import {
  kyselyRepositories,
  type SiteRepositories,
} from '../../mock-server/src/persistence/repositories';

/** The site's own repositories on a new SQLite database in memory, for a site made in a test. */
export async function siteRepositories(): Promise<SiteRepositories> {
  return kyselyRepositories((await openInMemoryDatabase()).db);
}
