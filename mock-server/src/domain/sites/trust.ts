import {
  siteInfoSchema,
  siteOrigin,
  type HomeSite,
  type Role,
  type SiteCheck,
  type SiteContactOutcome,
  type SiteInfo,
  type SiteList,
  type SitePreview,
  type TrustedSite,
} from '../../../../src/core/contract';
import {
  siteFingerprint,
  siteFingerprints,
  type SiteFingerprints,
} from '../../../../src/core/crypto/site-fingerprint';
import type { AuditLog } from '../audit';
import { DomainError } from '../errors';
import { requireReason } from '../identity';
import { KeyedMutex } from '../keyed-mutex';
import type { AlertSink, Clock, SiteLocks } from '../ports';
import type { RemoteSites, TrustedSiteRecord, TrustedSiteRepository } from './ports';

/** Who asks: an administrator signed in, or the operator on this site's host (the command line). */
export interface SiteAdministrator {
  /** Null for the operator on the host, who is audited as such. */
  readonly userId: string | null;
  readonly roles: readonly Role[];
  readonly clientAddress: string;
}

/** The operator at this site's own shell (`npm run site -- trust`), audited from "cli" as other commands are. */
export const HOST_OPERATOR: SiteAdministrator = {
  userId: null,
  roles: ['admin'],
  clientAddress: 'cli',
};

export interface SiteTrustDeps {
  readonly sites: TrustedSiteRepository;
  readonly remote: RemoteSites;
  readonly audit: AuditLog;
  readonly alerts: AlertSink;
  readonly clock: Clock;
  /** What this site says about itself. */
  readonly info: SiteInfo;
  /** The origin this site's own console is served from (known once the site listens). */
  readonly publicUrl: () => string;
  /** Locks across the site's instances (SX-2); by default this process's own. */
  readonly locks?: SiteLocks;
}

/** What another site said about itself, checked: its keys are the ones its fingerprints name. */
interface FetchedSite {
  readonly url: string;
  readonly info: SiteInfo;
  readonly fingerprints: SiteFingerprints;
}

/**
 * Trusting other sites (MS-1). An administrator names a site by its address;
 * this site fetches what it says about itself and shows its fingerprints;
 * it is trusted only if, fetched again, it still presents the fingerprint
 * the administrator confirmed, and it stays pinned to that ID and those
 * keys: a contact that finds anything else is refused, audited and alerted,
 * and the pins stay as they were. Its console's origin is then the only
 * other origin this site answers (CORS, http/cross-origin.ts).
 */
export class SiteTrust {
  /**
   * Changes to the list run one at a time, so two trusts of one site cannot
   * both pass the check; and contacts with one site too. On every instance
   * of the site at once (SX-2): the check and the change are not one transaction.
   */
  private readonly locks: SiteLocks;
  private homeFingerprint: Promise<string> | undefined;
  private contacting = false;

  constructor(private readonly deps: SiteTrustDeps) {
    this.locks = deps.locks ?? new KeyedMutex();
  }

  async list(): Promise<SiteList> {
    const trusted = await this.deps.sites.list();
    return {
      home: await this.home(),
      trusted: await Promise.all(trusted.map(trustedView)),
    };
  }

  /** Step one: what the site at `address` says about itself, with its fingerprints, stored nowhere. */
  async preview(admin: SiteAdministrator, address: string): Promise<SitePreview> {
    requireAdmin(admin);
    const fetched = this.refuseOwnSite(await this.fetchSite(originOf(address)));
    return { url: fetched.url, site: fetched.info, fingerprint: fetched.fingerprints.site };
  }

  /**
   * Step two: fetches the site again and pins it only if it presents exactly
   * the fingerprint the administrator confirmed; otherwise nothing is stored
   * and the refusal names the fingerprint it presented.
   */
  async trust(
    admin: SiteAdministrator,
    address: string,
    confirmed: string,
    reason?: string,
  ): Promise<TrustedSite> {
    requireAdmin(admin);
    const url = originOf(address);
    return this.locks.run('trusted-sites', async () => {
      const { info, fingerprints } = this.refuseOwnSite(await this.fetchSite(url));
      const about = { siteId: info.siteId, name: info.name, url };
      if (fingerprints.site !== confirmed) {
        await this.deps.audit.append({
          event: 'site_trust_refused',
          actor: admin.userId,
          clientAddress: admin.clientAddress,
          details: { ...about, presented: fingerprints.site, confirmed },
        });
        throw new DomainError(
          'fingerprint_mismatch',
          `The site at ${url} presents the fingerprint ${fingerprints.site}, not the one confirmed (${confirmed}), so nothing was trusted. Compare this fingerprint with the other site's administrator before trusting it.`,
          409,
          { ...about, fingerprint: fingerprints.site },
        );
      }
      await this.refuseTrustedAlready(info.siteId, url);
      const now = this.deps.clock.now().toISOString();
      const record: TrustedSiteRecord = {
        ...about,
        escrowKey: info.escrowKey,
        signingKey: info.signingKey,
        trustedAt: now,
        trustedBy: admin.userId,
        // It has just answered with the keys being pinned.
        lastContactAt: now,
        reachable: true,
        refusedFingerprint: null,
      };
      const trimmed = reason?.trim();
      await this.inOneCommit(async (tx) => {
        await this.deps.audit.append(
          {
            event: 'site_trusted',
            actor: admin.userId,
            clientAddress: admin.clientAddress,
            details: {
              ...about,
              fingerprint: fingerprints.site,
              escrowKey: fingerprints.escrowKey,
              signingKey: fingerprints.signingKey,
              ...(trimmed ? { reason: trimmed } : {}),
            },
          },
          tx,
        );
        await tx.sites.insert(record);
      });
      return trustedView(record);
    });
  }

  /** Withdraws trust in a site, with a reason kept in the audit log; its console is no longer answered. */
  async withdraw(admin: SiteAdministrator, siteId: string, reason: string): Promise<TrustedSite> {
    requireAdmin(admin);
    const why = requireReason(reason);
    return this.locks.run('trusted-sites', async () => {
      const site = await this.existing(siteId);
      const view = await trustedView(site);
      await this.inOneCommit(async (tx) => {
        await this.deps.audit.append(
          {
            event: 'site_trust_withdrawn',
            actor: admin.userId,
            clientAddress: admin.clientAddress,
            details: {
              siteId: site.siteId,
              name: site.name,
              url: site.url,
              fingerprint: view.fingerprint,
              reason: why,
            },
          },
          tx,
        );
        if (!(await tx.sites.remove(siteId))) throw notTrusted(siteId);
      });
      return view;
    });
  }

  /** Contacts one trusted site now (MS-6: last contact and reachability). */
  async check(siteId: string): Promise<SiteCheck> {
    const outcome = await this.contact(siteId);
    const site = await this.deps.sites.find(siteId);
    if (outcome === undefined || !site) throw notTrusted(siteId);
    return { outcome, site: await trustedView(site) };
  }

  /** Contacts every trusted site (the site does this periodically). */
  async contactAll(): Promise<void> {
    if (this.contacting) return;
    this.contacting = true;
    try {
      const sites = await this.deps.sites.list();
      const results = await Promise.allSettled(sites.map((site) => this.contact(site.siteId)));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      this.contacting = false;
    }
  }

  /**
   * The origins this site's console may call (its page's connect-src): the
   * trusted sites', except one presenting another key than its pins.
   */
  async consoleOrigins(): Promise<string[]> {
    const trusted = await this.deps.sites.list();
    return trusted.filter((site) => site.refusedFingerprint === null).map((site) => site.url);
  }

  /**
   * Whether a browser's Origin is the console of a trusted site: exactly the
   * origin it was trusted under, and not while it presents another key.
   */
  async isTrustedOrigin(origin: string): Promise<boolean> {
    const site = await this.deps.sites.findByUrl(origin);
    return site !== undefined && site.refusedFingerprint === null;
  }

  /**
   * One contact: the site's own answer compared with its pins. Anything but
   * the pinned ID and keys is refused (the pins stay), audited and alerted
   * once for each fingerprint presented, so a periodic contact does not
   * raise the same alert again and again. One contact at a time per site,
   * so that two contacts never both alert about the same new fingerprint.
   * Undefined when the site is not trusted (any more).
   */
  private contact(siteId: string): Promise<SiteContactOutcome | undefined> {
    return this.locks.run(`trusted-site-contact:${siteId}`, async () => {
      const pinned = await this.deps.sites.find(siteId);
      return pinned && this.compareWithPins(pinned);
    });
  }

  private async compareWithPins(pinned: TrustedSiteRecord): Promise<SiteContactOutcome> {
    const { sites } = this.deps;
    let fetched: FetchedSite;
    try {
      fetched = await this.fetchSite(pinned.url);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      await sites.recordContact(pinned.siteId, { reachable: false });
      return error.code === 'site_unreachable' ? 'unreachable' : 'not_a_site';
    }
    const presented = fetched.fingerprints;
    const expected = await trustedView(pinned);
    if (presented.site === expected.fingerprint) {
      await sites.recordContact(pinned.siteId, {
        lastContactAt: this.deps.clock.now().toISOString(),
        reachable: true,
        refusedFingerprint: null,
      });
      return 'reachable';
    }
    if (pinned.refusedFingerprint !== presented.site) {
      const changed = [
        ...(presented.siteId !== pinned.siteId
          ? [`a different site ID (${presented.siteId})`]
          : []),
        ...(presented.escrowKey !== pinned.escrowKey.fingerprint ? ['a different escrow key'] : []),
        ...(presented.signingKey !== pinned.signingKey.fingerprint
          ? ['a different receipt-signing key']
          : []),
      ];
      await this.deps.audit.append({
        event: 'pinned_site_refused',
        actor: null,
        details: {
          siteId: pinned.siteId,
          name: pinned.name,
          url: pinned.url,
          pinned: expected.fingerprint,
          presented: presented.site,
          changed,
        },
      });
      await this.deps.alerts.raise({
        kind: 'pinned_key_changed',
        userId: null,
        volumeId: null,
        clientAddress: null,
        message: {
          code: 'site_key_changed',
          params: {
            name: pinned.name,
            url: pinned.url,
            presented: presented.site,
            pinned: expected.fingerprint,
          },
        },
        sentence: `Trusted site "${pinned.name}" (${pinned.url}) now presents ${changed.join(' and ')}: its fingerprint is ${presented.site}, not the ${expected.fingerprint} pinned when it was trusted. This site refuses it. To trust it again, compare the new fingerprint with its administrator, then withdraw the trust and trust it anew.`,
      });
    }
    await sites.recordContact(pinned.siteId, { refusedFingerprint: presented.site });
    return 'keys_changed';
  }

  /** `GET <url>/api/site`, checked to be a Custodian site whose keys are the ones it names. */
  private async fetchSite(url: string): Promise<FetchedSite> {
    const answer = await this.deps.remote.siteInfo(url);
    if (answer.kind === 'unreachable') {
      throw new DomainError(
        'site_unreachable',
        `No site answered at ${url} (${answer.reason}). Check the address, and that the site is running and can be reached from this site.`,
        502,
        { url },
      );
    }
    const parsed = answer.status === 200 ? siteInfoSchema.safeParse(answer.json) : undefined;
    if (!parsed?.success) {
      throw notACustodianSite(
        url,
        answer.status === 200
          ? 'its answer to /api/site is not what a Custodian site says about itself'
          : `it answered /api/site with HTTP ${answer.status}`,
      );
    }
    try {
      return { url, info: parsed.data, fingerprints: await siteFingerprints(parsed.data) };
    } catch {
      throw notACustodianSite(url, 'its public keys do not match the fingerprints it states');
    }
  }

  private refuseOwnSite(fetched: FetchedSite): FetchedSite {
    if (fetched.info.siteId === this.deps.info.siteId) {
      throw new DomainError(
        'own_site',
        `${fetched.url} is this site itself (${fetched.info.siteId}); a site does not trust itself.`,
        409,
        { url: fetched.url },
      );
    }
    return fetched;
  }

  private async refuseTrustedAlready(siteId: string, url: string): Promise<void> {
    const same = (await this.deps.sites.find(siteId)) ?? (await this.deps.sites.findByUrl(url));
    if (!same) return;
    throw new DomainError(
      'site_already_trusted',
      same.siteId === siteId
        ? `Site "${same.name}" (${siteId}) is already trusted, at ${same.url}. To pin other keys or another address, withdraw the trust first.`
        : `Another site, "${same.name}" (${same.siteId}), is already trusted at ${url}. Withdraw that trust first.`,
      409,
      { siteId: same.siteId },
    );
  }

  private async existing(siteId: string): Promise<TrustedSiteRecord> {
    const site = await this.deps.sites.find(siteId);
    if (!site) throw notTrusted(siteId);
    return site;
  }

  private async home(): Promise<HomeSite> {
    const { info } = this.deps;
    this.homeFingerprint ??= siteFingerprint({
      siteId: info.siteId,
      escrowKey: info.escrowKey.fingerprint,
      signingKey: info.signingKey.fingerprint,
    });
    return {
      siteId: info.siteId,
      name: info.name,
      url: this.deps.publicUrl(),
      escrowKey: info.escrowKey,
      signingKey: info.signingKey,
      fingerprint: await this.homeFingerprint,
    };
  }

  /** The change and its audit entry commit together; an entry that cannot be written refuses the change (AL-4). */
  private async inOneCommit(
    work: Parameters<TrustedSiteRepository['atomically']>[0],
  ): Promise<void> {
    try {
      await this.deps.sites.atomically(work);
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw new DomainError(
        'audit_unavailable',
        'The audit log could not be written, so the action was refused; tell the site administrator.',
        503,
        { cause: error instanceof Error ? error.message : String(error) },
      );
    }
  }
}

/** A trusted site as the console sees it, with the fingerprint of what was pinned. */
async function trustedView(site: TrustedSiteRecord): Promise<TrustedSite> {
  return {
    ...site,
    fingerprint: await siteFingerprint({
      siteId: site.siteId,
      escrowKey: site.escrowKey.fingerprint,
      signingKey: site.signingKey.fingerprint,
    }),
  };
}

function requireAdmin(admin: SiteAdministrator): void {
  if (!admin.roles.includes('admin')) {
    throw new DomainError(
      'forbidden',
      'Only administrators decide which sites this site trusts.',
      403,
    );
  }
}

function originOf(address: string): string {
  const origin = siteOrigin(address);
  if (origin === null) {
    throw new DomainError(
      'invalid_site_address',
      `"${address.slice(0, 200)}" is not a site address: give http:// or https://, the host and, if needed, the port, and nothing after it (for example https://osaka.example:8787).`,
      400,
    );
  }
  return origin;
}

function notACustodianSite(url: string, why: string): DomainError {
  return new DomainError('not_a_custodian_site', `${url} is not a Custodian site: ${why}.`, 422, {
    url,
  });
}

function notTrusted(siteId: string): DomainError {
  return new DomainError(
    'trusted_site_not_found',
    `This site does not trust a site ${siteId}.`,
    404,
  );
}
