import { deriveSiteCredential } from '../../../src/core/crypto/site-credential';

/**
 * The ID test sites get unless a test needs another (two sites at once): a
 * fixed one, so that credentials derived for one site serve every site the
 * test process starts.
 */
export const TEST_SITE_ID = 'test-site';

const derived = new Map<string, Promise<string>>();

/**
 * `deriveSiteCredential` remembered per (site ID, password) in this test
 * process. The product derives with 600 000 PBKDF2 rounds (MS-2), about a
 * third of a second each; the tests sign in thousands of times and must not
 * lower that count, so they derive each pair once.
 */
export function credentialFor(password: string, siteId: string): Promise<string> {
  const key = JSON.stringify([siteId, password]);
  let credential = derived.get(key);
  if (!credential) {
    credential = deriveSiteCredential(password, siteId);
    credential.catch(() => derived.delete(key));
    derived.set(key, credential);
  }
  return credential;
}
