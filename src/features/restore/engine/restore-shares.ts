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
  /** How often another site awaiting its administrators' approval is asked again. */
  readonly approvalPollMs?: number;
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
  const stop = new AbortController();
  const signal = AbortSignal.any([params.signal, stop.signal]);

  // The home site is asked first; while its administrators decide, the others are asked too.
  let markPending: () => void = () => undefined;
  const pending = new Promise<'pending'>((resolve) => {
    markPending = () => resolve('pending');
  });
  const fromHome: Promise<{ release: SiteRelease } | { error: unknown }> = obtainEnvelope(
    restoreId,
    volumeId,
    generation,
    {
      onPending: () => {
        params.onPending();
        markPending();
      },
      retry: params.retry,
      signal,
    },
  )
    .then((envelope) => opened(params, params.homeSiteId, envelope))
    .then(
      (release) => ({ release }),
      (error: unknown) => ({ error }),
    );
  const first = await Promise.race([fromHome, pending]);
  if (first !== 'pending' && 'error' in first) {
    if (params.signal.aborted || first.error instanceof RestoreKeyMissingError) throw first.error;
  }
  const homeError = first !== 'pending' && 'error' in first ? first.error : undefined;
  if (first !== 'pending' && 'release' in first && first.release.kind === 'keys') {
    return { keys: first.release.keys, verified: await params.loadManifest(), badSites: [] };
  }
  // Someone the home site does not know as a restorer is shown nothing of the volume there.
  const outsider = homeError instanceof ApiError && homeError.code === 'unauthorized_use';
  // A volume the home site has no record of has no signed index there either.
  if (
    homeError instanceof ApiError &&
    homeError.code === 'key_not_found' &&
    homeError.details?.recorded === false
  ) {
    throw homeError;
  }
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
    // Keys kept whole at the home site, which awaits its administrators' decision.
    if (!verified) throw new KeySharesError('too-few', 'The signed index could not be read.');
    const answer = await fromHome;
    if ('error' in answer) throw answer.error;
    if (answer.release.kind === 'keys') {
      return { keys: answer.release.keys, verified, badSites: [] };
    }
    throw new KeySharesError('wrong-site', 'The home site sent a share of a volume kept whole.');
  }

  const needed = escrow.threshold;
  const answers = new Map<string, ShareAnswer>();
  const releases: SiteRelease[] = [];
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
  /** One site's answer: its share, or why not; the keys are tried once it is in. */
  const settle = async (
    siteId: string,
    name: string,
    answer: { release: SiteRelease } | { error: unknown },
  ): Promise<void> => {
    if ('release' in answer) {
      releases.push(answer.release);
      answers.set(siteId, { siteId, name, outcome: 'share' });
    } else {
      if (stop.signal.aborted) return;
      if (params.signal.aborted) throw answer.error;
      answers.set(siteId, {
        siteId,
        name,
        outcome: 'refused',
        problem: describeRestoreError(answer.error),
      });
    }
    report();
    combining = combining.then(tryCombine);
    await combining;
  };

  await Promise.all([
    fromHome.then((answer) => settle(params.homeSiteId, params.homeName, answer)),
    ...others.map(async (listed) => {
      const site = params.sites.find((s) => s.siteId === listed.siteId);
      if (!site) return;
      const answer = await obtainEnvelope(restoreId, volumeId, generation, {
        site,
        retry: params.retry,
        signal,
        onPending: params.onPending,
        ...(params.approvalPollMs ? { pollMs: params.approvalPollMs } : {}),
      })
        .then((envelope) => opened(params, site.siteId, envelope))
        .then(
          (release) => ({ release }),
          (error: unknown) => ({ error }),
        );
      await settle(site.siteId, site.name, answer);
    }),
  ]);
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
