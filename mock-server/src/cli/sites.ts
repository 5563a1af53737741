import { parseArgs } from 'node:util';
import {
  siteFingerprintInputSchema,
  type HomeSite,
  type TrustedSite,
} from '../../../src/core/contract';
import { ConfigError, loadConfig } from '../config';
import { DomainError } from '../domain/errors';
import { HOST_OPERATOR } from '../domain/sites/trust';
import { openSiteDatabase } from '../persistence/site-database';
import { systemClock } from '../platform/node-random';
import { composeServices, type SiteServices } from '../services';
import { SITE_OPTIONS, siteArgs } from './operations';

/** The site's services on its data directory, for one command; the database is closed after. */
async function withSite<T>(
  values: { 'data-dir'?: string; 'master-key-file'?: string },
  work: (services: SiteServices) => Promise<T>,
): Promise<T> {
  const config = loadConfig(siteArgs(values));
  const database = await openSiteDatabase(config);
  try {
    return await work(await composeServices(config, database, systemClock, [], () => undefined));
  } finally {
    await database.close();
  }
}

/** The lines that name a site for an administrator to compare (MS-1). */
function describe(site: HomeSite): string[] {
  return [
    `"${site.name}" at ${site.url}`,
    `  site ID:              ${site.siteId}`,
    `  site fingerprint:     ${site.fingerprint}`,
    `  escrow key:           ${site.escrowKey.fingerprint}`,
    `  receipt-signing key:  ${site.signingKey.fingerprint}`,
  ];
}

/**
 * MS-1 `site trust --url URL --fingerprint HEX`: the operator on this site's
 * host trusts another site, by the same rule as the Sites page and audited
 * as coming from the command line. Without --fingerprint it only fetches
 * and shows the fingerprints to compare. A fingerprint the site does not
 * present stores nothing and exits non-zero, naming the one it presents.
 */
export async function trustSite(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      fingerprint: { type: 'string' },
      reason: { type: 'string' },
      ...SITE_OPTIONS,
    },
    strict: true,
  });
  if (!values.url) {
    throw new ConfigError(
      'Usage: npm run site -- trust --url https://other-site.example --fingerprint HEX [--reason TEXT]',
    );
  }
  const url = values.url;
  let confirmed: string | undefined;
  if (values.fingerprint !== undefined) {
    const parsed = siteFingerprintInputSchema.safeParse(values.fingerprint);
    if (!parsed.success) {
      throw new ConfigError('--fingerprint must be a site fingerprint: 64 hexadecimal digits.');
    }
    confirmed = parsed.data;
  }
  await withSite(values, async ({ sites }) => {
    if (confirmed === undefined) {
      const preview = await sites.preview(HOST_OPERATOR, url);
      process.stdout.write(
        `${describe({ ...preview.site, url: preview.url, fingerprint: preview.fingerprint }).join('\n')}\n` +
          'Nothing was trusted. Compare the site fingerprint with the other site’s administrator, then run this again with --fingerprint.\n',
      );
      process.exitCode = 2;
      return;
    }
    try {
      const site = await sites.trust(HOST_OPERATOR, url, confirmed, values.reason);
      process.stdout.write(`Trusted ${describe(site).join('\n')}\n`);
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'fingerprint_mismatch') throw error;
      const presented = String(error.details?.['fingerprint'] ?? '');
      process.stderr.write(
        `The site at ${String(error.details?.['url'] ?? url)} ("${String(error.details?.['name'] ?? '')}", site ID ${String(error.details?.['siteId'] ?? '')}) presents the site fingerprint\n` +
          `  ${presented}\nnot the one given\n  ${confirmed}\nNothing was trusted.\n`,
      );
      process.exitCode = 1;
    }
  });
}

/** MS-1 `site sites`: this site and the sites it trusts, with their fingerprints. */
export async function listSites(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: SITE_OPTIONS, strict: true });
  await withSite(values, async ({ sites }) => {
    const { home, trusted } = await sites.list();
    const lines = ['This site:', ...describe(home).map((l) => `  ${l}`)];
    lines.push(trusted.length === 0 ? 'It trusts no other site.' : 'Trusted sites:');
    for (const site of trusted)
      lines.push(...describe(site).map((l) => `  ${l}`), `    ${state(site)}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}

/** MS-1 `site withdraw --site-id ID --reason TEXT`: withdraws trust, audited. */
export async function withdrawSite(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'site-id': { type: 'string' }, reason: { type: 'string' }, ...SITE_OPTIONS },
    strict: true,
  });
  const siteId = values['site-id'];
  if (!siteId || !values.reason?.trim()) {
    throw new ConfigError('Usage: npm run site -- withdraw --site-id ID --reason TEXT');
  }
  const reason = values.reason;
  await withSite(values, async ({ sites }) => {
    const site = await sites.withdraw(HOST_OPERATOR, siteId, reason);
    process.stdout.write(`"${site.name}" (${site.siteId}, ${site.url}) is no longer trusted.\n`);
  });
}

function state(site: TrustedSite): string {
  const trusted = `trusted ${site.trustedAt} by ${site.trustedBy ?? 'the command line'}`;
  if (site.refusedFingerprint) {
    return `${trusted}; REFUSED: it now presents the fingerprint ${site.refusedFingerprint}`;
  }
  const reach =
    site.reachable === null ? 'not contacted yet' : site.reachable ? 'reachable' : 'unreachable';
  return `${trusted}; ${reach}; last contact ${site.lastContactAt ?? 'never'}`;
}
