import { deriveSiteCredential } from '@/core/crypto/site-credential';
import { fetchSiteInfo } from './site';

/**
 * What the console sends the site in place of passwords (MS-2): each
 * password's credential for this site, derived with the ID the site gives
 * on `GET /api/site` (FORMAT.md §15). The password itself never leaves the
 * browser. Each derivation takes about half a second; they run side by side.
 */
export async function credentialsForSite(passwords: readonly string[]): Promise<string[]> {
  const { siteId } = await fetchSiteInfo();
  return Promise.all(passwords.map((password) => deriveSiteCredential(password, siteId)));
}
