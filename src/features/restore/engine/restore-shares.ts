/**
 * The keys of a restore when several sites keep them (MS-4, MS-5): the home
 * site is asked first; when it answers with a share, or refuses, the signed
 * manifest names the sites that keep the others and how many are needed,
 * and those are asked at once with the same ephemeral key, each re-wrapping
 * its own share. The keys are rebuilt as soon as k shares arrive; a site
 * whose share does not fit is named for an integrity alert. Fewer than k:
 * every site's answer is kept for the sentence the screen shows. The shares
 * and rebuilt keys live in this restore's memory only (and wrapped to the
 * ephemeral key in the restore-resume store, as RS-3).
 */

import {
  combineReleases,
  KeySharesError,
  openSiteRelease,
  wipeRelease,
  type SiteRelease,
  type VolumeKeys,
} from '@/core/crypto';
import { ApiError, type RetryPolicy } from '@/shared/api/request';
import { reportIntegrityFailure } from '@/shared/api/restore';
import { getRestoreKey } from '@/shared/storage/key-store';
import type { VerifiedManifest } from './restore-manifest';
import { obtainEnvelope, RestoreKeyMissingError, type OtherSiteAddress } from './restore-keys';
import { describeRestoreError, SharesShortError, type ShareAnswer } from './restore-errors';

/** A site that may hold a share, as the console reaches it. */
export interface ShareSiteAddress extends OtherSiteAddress {
  readonly name: string;
}

export interface GatherParams {
  readonly restoreId: string;
  readonly volumeId: string;
  readonly generation: number;
  readonly homeSiteId: string;
  readonly homeName: string;
  /** Other sites this console is signed in at. */
  readonly sites: readonly ShareSiteAddress[];
  readonly retry: RetryPolicy | undefined;
  readonly signal: AbortSignal;
  readonly onPending: () => void;
  /** Shares received so far of the k needed, and every answer so far. */
  readonly onShares: (received: number, needed: number, answers: readonly ShareAnswer[]) => void;
  readonly loadManifest: () => Promise<VerifiedManifest>;
}

export interface GatheredKeys {
  readonly keys: VolumeKeys;
  readonly verified: VerifiedManifest;
  /** Sites whose share did not fit the others (each gets an integrity alert). */
  readonly badSites: readonly string[];
}

async function opened(
  params: GatherParams,
  siteId: string,
  envelope: string,
): Promise<SiteRelease> {
  const stored = await getRestoreKey(params.restoreId);
  if (!stored) throw new RestoreKeyMissingError();
  return openSiteRelease(siteId, envelope, stored.privateKey, {
    purpose: 'release',
    volumeId: params.volumeId,
    generation: params.generation,
    requestId: params.restoreId,
  });
}

/** RS-2 at every site that keeps a share; the keys once k fit together. */
export async function gatherKeys(params: GatherParams): Promise<GatheredKeys> {
  const { volumeId, generation, restoreId } = params;
  let home: SiteRelease | undefined;
  let homeError: unknown;
  try {
    const envelope = await obtainEnvelope(restoreId, volumeId, generation, {
      onPending: params.onPending,
      retry: params.retry,
      signal: params.signal,
    });
    home = await opened(params, params.homeSiteId, envelope);
  } catch (error) {
    if (params.signal.aborted || error instanceof RestoreKeyMissingError) throw error;
    homeError = error;
  }
  if (home?.kind === 'keys') {
    return { keys: home.keys, verified: await params.loadManifest(), badSites: [] };
  }
  // Someone the home site does not know as a restorer is shown nothing of the volume there.
  const outsider = homeError instanceof ApiError && homeError.code === 'unauthorized_use';
  const verified = outsider
    ? undefined
    : await params.loadManifest().catch((error: unknown) => {
        if (homeError === undefined) throw error;
        return undefined;
      });
  const escrow = verified?.manifest.index.escrow;
  if (!verified || !escrow) {
    if (homeError !== undefined) {
      // Every other site is asked too, so that each one decides, audits and alerts for itself.
      if (!verified) await askEveryOther(params);
      throw homeError;
    }
    throw new KeySharesError('wrong-site', 'The home site sent a share of a volume kept whole.');
  }

  const needed = escrow.threshold;
  const answers = new Map<string, ShareAnswer>();
  const releases: SiteRelease[] = [];
  const homeAnswer: ShareAnswer = home
    ? { siteId: params.homeSiteId, name: params.homeName, outcome: 'share' }
    : {
        siteId: params.homeSiteId,
        name: params.homeName,
        outcome: 'refused',
        problem: describeRestoreError(homeError),
      };
  answers.set(params.homeSiteId, homeAnswer);
  if (home) releases.push(home);
  const report = (): void =>
    params.onShares([...answers.values()].filter((a) => a.outcome === 'share').length, needed, [
      ...answers.values(),
    ]);

  const others = escrow.sites.filter((s) => s.siteId !== params.homeSiteId);
  for (const listed of others) {
    const known = params.sites.find((s) => s.siteId === listed.siteId);
    if (!known) {
      answers.set(listed.siteId, {
        siteId: listed.siteId,
        name: listed.siteId,
        outcome: 'not-asked',
        problem: { kind: 'shareSiteUnknown' },
      });
    }
  }
  report();

  const stop = new AbortController();
  const signal = AbortSignal.any([params.signal, stop.signal]);
  let result: GatheredKeys | undefined;
  let lastCombineError: unknown;
  let combining = Promise.resolve();
  const tryCombine = async (): Promise<void> => {
    if (result || releases.filter((r) => r.kind === 'shares').length < needed) return;
    try {
      const combined = await combineReleases(releases, {
        volumeId,
        threshold: needed,
        sites: escrow.sites.map((s) => s.siteId),
        epochs: [...new Set(verified.manifest.index.chunks.map((c) => c.epoch))]
          .concat(verified.manifest.sealed.epoch)
          .filter((e, i, all) => all.indexOf(e) === i)
          .sort((a, b) => a - b),
      });
      result = { keys: combined.keys, verified, badSites: combined.badSites };
      stop.abort();
      // A site whose share did not fit the others is told, like a site that served a bad chunk.
      for (const siteId of combined.badSites) reportBadShare(params, siteId);
    } catch (error) {
      lastCombineError = error;
    }
  };
  if (home) combining = combining.then(tryCombine);

  await Promise.all(
    others.map(async (listed) => {
      const site = params.sites.find((s) => s.siteId === listed.siteId);
      if (!site) return;
      try {
        const envelope = await obtainEnvelope(restoreId, volumeId, generation, {
          site,
          retry: params.retry,
          signal,
        });
        const release = await opened(params, site.siteId, envelope);
        releases.push(release);
        answers.set(site.siteId, { siteId: site.siteId, name: site.name, outcome: 'share' });
      } catch (error) {
        if (stop.signal.aborted) return;
        if (params.signal.aborted) throw error;
        answers.set(site.siteId, {
          siteId: site.siteId,
          name: site.name,
          outcome: 'refused',
          problem: describeRestoreError(error),
        });
      }
      report();
      combining = combining.then(tryCombine);
      await combining;
    }),
  );
  await combining;
  params.signal.throwIfAborted();
  releases.forEach(wipeRelease);
  if (result) return result;
  if (lastCombineError instanceof KeySharesError) {
    for (const siteId of lastCombineError.sites) {
      const answer = answers.get(siteId);
      if (answer) answers.set(siteId, { ...answer, outcome: 'bad' });
    }
    report();
  }
  const received = [...answers.values()].filter((a) => a.outcome === 'share').length;
  throw new SharesShortError(needed, received, [...answers.values()]);
}

/** Tells a site's administrators that the share it released does not fit the others (MS-5). */
function reportBadShare(params: GatherParams, siteId: string): void {
  const site = params.sites.find((s) => s.siteId === siteId);
  if (!site && siteId !== params.homeSiteId) return;
  void reportIntegrityFailure(
    {
      volumeId: params.volumeId,
      generation: params.generation,
      source: 'site',
      check: 'key-share',
    },
    params.retry,
    site ? { url: site.url, token: site.token } : undefined,
  ).catch(() => undefined);
}

/** Asks every other site for its share, only so that each decides (and alerts) for itself. */
async function askEveryOther(params: GatherParams): Promise<void> {
  await Promise.all(
    params.sites.map((site) =>
      obtainEnvelope(params.restoreId, params.volumeId, params.generation, {
        site,
        retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
        signal: params.signal,
      }).catch(() => undefined),
    ),
  );
}
