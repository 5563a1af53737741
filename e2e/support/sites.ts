/**
 * Several real site processes for the stories of several sites (MS-1..MS-7):
 * started on ports of their own, told to trust each other from their hosts'
 * shells after their fingerprints were compared, as administrators do.
 */
import { createHash } from 'node:crypto';
import { runSiteCommand } from './site-cli';
import type { SiteProcess } from './site-process';

/**
 * The fingerprint the other site's administrator reads out, computed here
 * from what it publishes and the definition in docs/FORMAT.md, not by the product's code.
 */
export async function fingerprintOf(url: string): Promise<{ name: string; fingerprint: string }> {
  const info = (await (await fetch(`${url}/api/site`)).json()) as {
    siteId: string;
    name: string;
    escrowKey: { fingerprint: string };
    signingKey: { fingerprint: string };
  };
  // RFC 8785 of four string members is their JSON with the keys in order.
  const canonical = JSON.stringify({
    domain: 'custodian site fingerprint v1',
    escrowKey: info.escrowKey.fingerprint,
    signingKey: info.signingKey.fingerprint,
    siteId: info.siteId,
  });
  return { name: info.name, fingerprint: createHash('sha256').update(canonical).digest('hex') };
}

/** `site` trusts the site at `url` from its host's shell (`npm run site -- trust`). */
export async function trustFromShell(
  site: SiteProcess,
  url: string,
  fingerprint: string,
): Promise<void> {
  await runSiteCommand([
    'trust',
    '--url',
    url,
    '--fingerprint',
    fingerprint,
    '--data-dir',
    site.dataDir,
    '--master-key-file',
    site.masterKeyFile,
  ]);
}

/**
 * Sites that trust each other, every one of them every other one, by
 * fingerprint: each site's shell in turn, the sites side by side.
 */
export async function trustEachOther(sites: readonly SiteProcess[]): Promise<void> {
  const fingerprints = new Map<SiteProcess, string>();
  for (const site of sites) fingerprints.set(site, (await fingerprintOf(site.url)).fingerprint);
  await Promise.all(
    sites.map(async (site) => {
      for (const other of sites) {
        if (other !== site) await trustFromShell(site, other.url, fingerprints.get(other)!);
      }
    }),
  );
}
