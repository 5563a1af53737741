/**
 * Every way a restore can end short of "Restore complete", as a value the
 * screen turns into a sentence in the user's language (SPEC §4 Usability),
 * and what the restore does about it: whether the key release and the partial
 * output are dropped, whether the site's administrators must hear of it
 * (RS-5), and whether the restore can continue from what was verified (RS-8).
 */

import { ApiError } from '@/shared/api/request';
import type { IntegrityCheck } from '@/core/contract';
import { isUnreachable } from '@/shared/api/restore';
import { CustodianCryptoError, KeySharesError, type ChunkFailure } from '@/core/crypto';
import { RestoreQuotaError } from '@/features/restore/worker/restore-opfs';
import { RestoreJobError } from '@/features/restore/worker/restore-protocol';
import { ReleaseDeniedError, RestoreKeyMissingError } from './restore-keys';

/** How one site answered a restore's request for its share (MS-5). */
export interface ShareAnswer {
  readonly siteId: string;
  readonly name: string;
  readonly outcome: 'share' | 'refused' | 'bad' | 'not-asked';
  /** Why it refused or could not be reached. */
  readonly problem?: RestoreProblem;
}

/** Fewer than k good shares arrived: each site's answer, for the screen. */
export class SharesShortError extends Error {
  readonly code = 'shares_short';

  constructor(
    readonly needed: number,
    readonly received: number,
    readonly answers: readonly ShareAnswer[],
  ) {
    super(`${received} of the ${needed} shares needed arrived.`);
    this.name = 'SharesShortError';
  }
}

export type RestoreProblem =
  /** Not a registered restorer nor the owner (RS-2): nothing fetched, alert at the site. */
  | { readonly kind: 'unauthorized' }
  /** One-time record used, or no record at all (RS-3, seed 000 [0110]). */
  | { readonly kind: 'noKey' }
  | { readonly kind: 'revoked' }
  | { readonly kind: 'expired' }
  | { readonly kind: 'generationNotFound' }
  | { readonly kind: 'denied'; readonly reason: string }
  /** RS-5: a chunk failed a check; the output was discarded. */
  | {
      readonly kind: 'tamperedChunk';
      readonly chunkIndex: number | null;
      readonly chunkId: string;
      readonly failure: ChunkFailure;
    }
  | { readonly kind: 'tamperedImage'; readonly detail: string }
  | { readonly kind: 'tamperedManifest'; readonly detail: string }
  /** The local copy alone was chosen and lacks a chunk: not tampering, just absent. */
  | { readonly kind: 'localMissing'; readonly chunkIndex: number | null }
  /** One other site alone was chosen and this console is not signed in there (MS-5). */
  | { readonly kind: 'pinnedSiteSignedOut'; readonly site: string }
  /** One other site alone was chosen and it holds no copy of a chunk (MS-5): absent, not tampered. */
  | {
      readonly kind: 'pinnedSiteMissing';
      readonly site: string;
      readonly chunkIndex: number | null;
    }
  /** RS-8: retries used up; the restore keeps what was verified. */
  | { readonly kind: 'unreachable'; readonly attempts: number; readonly seconds: number }
  | { readonly kind: 'quota' }
  | { readonly kind: 'keyLost' }
  | { readonly kind: 'unsupported' }
  | { readonly kind: 'busy' }
  /** MS-4: the signed manifest names a site that keeps a share, which this console does not know. */
  | { readonly kind: 'shareSiteUnknown' }
  /** MS-5: fewer than k good shares; each site's answer. */
  | {
      readonly kind: 'sharesShort';
      readonly needed: number;
      readonly received: number;
      readonly answers: readonly ShareAnswer[];
    }
  /** MS-5: the shares the sites sent do not rebuild the keys. */
  | { readonly kind: 'sharesBad'; readonly detail: string }
  /** A chunk of the chosen bundle file failed a check (FORMAT.md §16): the file is bad, not the site. */
  | {
      readonly kind: 'bundleChunk';
      readonly chunkIndex: number | null;
      readonly chunkId: string;
      readonly failure: ChunkFailure;
    }
  /** The bundle's manifest is not the generation's manifest the site (or this browser) vouches for. */
  | { readonly kind: 'bundleMismatch' }
  /** A bundle restore was interrupted and the page no longer has the file: choose it again. */
  | { readonly kind: 'bundleNeeded' }
  | { readonly kind: 'site'; readonly error: ApiError }
  | { readonly kind: 'unexpected'; readonly message: string };

export type ProblemKind = RestoreProblem['kind'];

/**
 * Problems after which the restore can go on from its saved progress:
 * nothing was refused and nothing was found tampered with.
 */
export function isResumable(problem: RestoreProblem): boolean {
  switch (problem.kind) {
    case 'unreachable':
    case 'quota':
    case 'busy':
    case 'localMissing':
    case 'pinnedSiteSignedOut':
    case 'bundleNeeded':
    case 'unexpected':
      return true;
    case 'site':
      return problem.error.status === 0 || problem.error.status === 401;
    default:
      return false;
  }
}

/** Problems the site's administrators are told of by the console (RS-5). */
export const REPORTED: ReadonlySet<ProblemKind> = new Set([
  'tamperedChunk',
  'tamperedImage',
  'tamperedManifest',
]);

function codeOf(error: unknown): string | undefined {
  if (error instanceof ApiError || error instanceof RestoreJobError) return error.code;
  if (error instanceof CustodianCryptoError) return error.code;
  if (error instanceof ReleaseDeniedError || error instanceof RestoreKeyMissingError) {
    return error.code;
  }
  if (error instanceof RestoreQuotaError) return error.code;
  return undefined;
}

/**
 * The restore reads one other site only, and this console is not signed in
 * there (MS-5): found before the keys are asked for, so nothing is spent.
 */
export class PinnedSiteSignedOutError extends Error {
  readonly code = 'pinned_site_signed_out';

  constructor(readonly site: string) {
    super(`This console is not signed in at ${site}.`);
    this.name = 'PinnedSiteSignedOutError';
  }
}

/** FORMAT.md §16: the bundle's manifest differs from the generation's manifest the restore trusts. */
export class BundleMismatchError extends Error {
  readonly code = 'bundle_mismatch';

  constructor() {
    super('The bundle carries another manifest than the site holds for this generation.');
    this.name = 'BundleMismatchError';
  }
}

/** A bundle restore goes on only with its bundle file, which a reload lets go of. */
export class BundleNeededError extends Error {
  readonly code = 'bundle_needed';

  constructor() {
    super('Choose the bundle file again to continue.');
    this.name = 'BundleNeededError';
  }
}

/**
 * What went wrong, from any error a restore can meet. `source` is where the
 * restore was told to read; `pinnedSite` the name of the one other site it
 * was pinned to, if any.
 */
export function describeRestoreError(
  error: unknown,
  source?: string,
  pinnedSite?: string,
): RestoreProblem {
  if (error instanceof ReleaseDeniedError) return { kind: 'denied', reason: error.reason };
  if (error instanceof SharesShortError) {
    return {
      kind: 'sharesShort',
      needed: error.needed,
      received: error.received,
      answers: error.answers,
    };
  }
  if (error instanceof KeySharesError) return { kind: 'sharesBad', detail: error.message };
  if (error instanceof PinnedSiteSignedOutError) {
    return { kind: 'pinnedSiteSignedOut', site: error.site };
  }
  if (error instanceof BundleMismatchError) return { kind: 'bundleMismatch' };
  if (error instanceof BundleNeededError) return { kind: 'bundleNeeded' };
  const code = codeOf(error);
  switch (code) {
    case 'unauthorized_use':
      return { kind: 'unauthorized' };
    case 'key_not_found':
      return { kind: 'noKey' };
    case 'record_revoked':
      return { kind: 'revoked' };
    case 'record_expired':
      return { kind: 'expired' };
    case 'generation_not_found':
      return { kind: 'generationNotFound' };
    case 'restore_key_missing':
      return { kind: 'keyLost' };
    case 'quota_exceeded':
      return { kind: 'quota' };
    case 'tampered_chunk': {
      const chunk = error as RestoreJobError;
      if (source === 'bundle') {
        return {
          kind: 'bundleChunk',
          chunkIndex: chunk.chunkIndex ?? null,
          chunkId: chunk.chunkId ?? '',
          failure: chunk.failure ?? 'aead',
        };
      }
      if (source === 'local' && chunk.failure === 'missing') {
        return { kind: 'localMissing', chunkIndex: chunk.chunkIndex ?? null };
      }
      if (pinnedSite !== undefined && chunk.failure === 'missing') {
        return {
          kind: 'pinnedSiteMissing',
          site: pinnedSite,
          chunkIndex: chunk.chunkIndex ?? null,
        };
      }
      return {
        kind: 'tamperedChunk',
        chunkIndex: chunk.chunkIndex ?? null,
        chunkId: chunk.chunkId ?? '',
        failure: chunk.failure ?? 'aead',
      };
    }
    case 'tampered_image':
      return { kind: 'tamperedImage', detail: (error as Error).message };
    case 'bad_signature':
    case 'malformed_manifest':
      return { kind: 'tamperedManifest', detail: (error as Error).message };
  }
  if (error instanceof ApiError && isUnreachable(error)) {
    const details = error.details ?? {};
    return {
      kind: 'unreachable',
      attempts: typeof details['attempts'] === 'number' ? details['attempts'] : 1,
      seconds: typeof details['seconds'] === 'number' ? details['seconds'] : 0,
    };
  }
  if (error instanceof RestoreJobError && (code === 'timeout' || code === 'network_error')) {
    const details = error.details ?? {};
    return {
      kind: 'unreachable',
      attempts: typeof details['attempts'] === 'number' ? details['attempts'] : 1,
      seconds: typeof details['seconds'] === 'number' ? details['seconds'] : 0,
    };
  }
  if (error instanceof RestoreJobError && error.name === 'ApiError') {
    return {
      kind: 'site',
      error: new ApiError(code ?? 'server_error', error.message, error.status ?? 0, error.details),
    };
  }
  if (error instanceof ApiError) return { kind: 'site', error };
  return { kind: 'unexpected', message: error instanceof Error ? error.message : String(error) };
}

/** The check an integrity report names (RS-5), for the problems in REPORTED. */
export function integrityCheck(problem: RestoreProblem): IntegrityCheck {
  switch (problem.kind) {
    case 'tamperedChunk':
      return problem.failure;
    case 'tamperedImage':
      return 'image-sha256';
    default:
      return 'manifest';
  }
}
