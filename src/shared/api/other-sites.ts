import {
  apiRoutes,
  okSchema,
  sessionInfoSchema,
  signInAnswerSchema,
  siteDirectorySchema,
  siteInfoSchema,
  type SiteDirectory,
  type SessionInfo,
  type SiteInfo,
} from '@/core/contract';
import { request } from './request';

/**
 * Calls to the sites this console's own site trusts (MS-2), each with the
 * bearer token that site issued: never a cookie, never the password.
 */

/** The other sites to sign in at, with the fingerprints this console's site pinned. */
export function fetchSiteDirectory(): Promise<SiteDirectory> {
  return request({ route: apiRoutes.siteDirectory, schema: siteDirectorySchema });
}

/** What the site at `url` says about itself. */
export function fetchOtherSiteInfo(url: string): Promise<SiteInfo> {
  return request({ route: apiRoutes.site, schema: siteInfoSchema, site: { url } });
}

/** Signs in at the site at `url` with the credential derived for it; its bearer token. */
export async function signInAtOtherSite(
  url: string,
  userId: string,
  credential: string,
): Promise<string> {
  const answer = await request({
    route: apiRoutes.login,
    body: { userId, credential },
    schema: signInAnswerSchema,
    site: { url },
  });
  if (!answer.bearerToken) throw new Error(`the site at ${url} gave no bearer token`);
  return answer.bearerToken;
}

/** The session `token` stands for at the site at `url`; 401 once it has ended. */
export function fetchOtherSession(url: string, token: string): Promise<SessionInfo> {
  return request({ route: apiRoutes.session, schema: sessionInfoSchema, site: { url, token } });
}

/** Ends the session of `token` at the site at `url`. */
export async function signOutAtOtherSite(url: string, token: string): Promise<void> {
  await request({ route: apiRoutes.logout, schema: okSchema, site: { url, token } });
}
