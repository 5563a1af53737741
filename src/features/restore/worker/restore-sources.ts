/**
 * Where a restore reads chunk blobs from (RS-4, MS-5): the local copy of
 * this browser first, then this console's own site, then every other site
 * the console is signed in at, in the order the site directory lists them;
 * or one of them only. A source hands back the blob it holds, or undefined
 * when it holds none; the signed index decides whether a blob is acceptable.
 * Failover is per chunk (ChunkFailover): the keys and the signed index come
 * from this console's own site whichever source serves the ciphertext.
 */

import type { IntegrityReport } from '@/core/contract';
import { ApiError, type RetryPolicy } from '@/shared/api/request';
import {
  fetchChunkBlob,
  isUnreachable,
  reportIntegrityFailure,
  RESTORE_RETRY,
} from '@/shared/api/restore';
import {
  bundleBlobs,
  checkChunkAgainstIndex,
  TamperedChunkError,
  type ChunkEntry,
  type ChunkFailure,
  type ManifestIndex,
} from '@/core/crypto';
import { backupDatabase, type BackupDatabase } from '@/shared/storage/database';
import { pinnedSiteId, type RestoreSource } from '@/shared/storage/restore-progress';

export type CopyName = 'local' | 'site' | 'bundle';

/**
 * How long a read may keep trying an unreachable site: `patient` when no
 * other source is left to try, `quick` while one is, so that a site that is
 * down costs each chunk a moment, not the whole back-off.
 */
export type Patience = 'patient' | 'quick';

/** Another site the console is signed in at (MS-2) and that holds a copy of the chunks (MS-5). */
export interface OtherSiteCopy {
  readonly siteId: string;
  /** As the site directory names it, for the restore screen ("12 chunks from Osaka"). */
  readonly name: string;
  /** Its origin. */
  readonly url: string;
  /** The bearer token it issued to this console. */
  readonly token: string;
}

export interface ChunkSource {
  readonly name: CopyName;
  /** Another site's ID and name; undefined for the local copy and this console's own site. */
  readonly site?: { readonly siteId: string; readonly name: string };
  read(
    volumeId: string,
    entry: ChunkEntry,
    signal?: AbortSignal,
    patience?: Patience,
  ): Promise<Uint8Array<ArrayBuffer> | undefined>;
  /**
   * Tells the source's site that a blob it served failed its checks (RS-5,
   * MS-5). The local copy has no administrators to tell.
   */
  report?(report: IntegrityReport): Promise<void>;
}

/**
 * The local copy the backup pipeline wrote (BK-6, RC-1), read-only: blobs
 * by volume and chunk ID, whichever generation stored them.
 */
export class LocalCopySource implements ChunkSource {
  readonly name = 'local';

  constructor(private readonly db: BackupDatabase = backupDatabase()) {}

  async read(volumeId: string, entry: ChunkEntry): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const record = await this.db.chunks.get([volumeId, entry.chunkId]);
    return record?.blob;
  }
}

/** A bundle file the restorer chose (FORMAT.md §16), and where its blobs begin. */
export interface BundleFile {
  readonly file: Blob;
  readonly blobsStart: number;
}

/**
 * A bundle's blobs (FORMAT.md §16), each read at its offset; a file that
 * ends early hands back what it has, for the verifier to name.
 */
export class BundleSource implements ChunkSource {
  readonly name = 'bundle';
  readonly #places: ReturnType<typeof bundleBlobs>['byChunkId'];

  constructor(
    private readonly bundle: BundleFile,
    index: ManifestIndex,
  ) {
    this.#places = bundleBlobs(index.chunks, bundle.blobsStart).byChunkId;
  }

  async read(_volumeId: string, entry: ChunkEntry): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const place = this.#places.get(entry.chunkId);
    if (!place || place.offset >= this.bundle.file.size) return undefined;
    const part = this.bundle.file.slice(place.offset, place.offset + place.length);
    return new Uint8Array(await part.arrayBuffer());
  }
}

/** Two attempts a base delay apart: long enough for a dropped connection, short enough to move on. */
export function briefly(policy: RetryPolicy): RetryPolicy {
  return {
    attempts: Math.min(2, policy.attempts),
    baseDelayMs: policy.baseDelayMs,
    maxDelayMs: policy.baseDelayMs,
  };
}

const ONCE: RetryPolicy = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 };

/**
 * A site's copy, fetched with retries and back-off (RS-8). Without `other`
 * it is this console's own site, reached with its session cookie and tried
 * for as long as RS-8 says when nothing else is left; with it, another site
 * (MS-5), reached with its bearer token and tried briefly, since a restore
 * has this console's own site and the local copy to fall back on.
 */
export class SiteCopySource implements ChunkSource {
  readonly name = 'site';
  readonly site: { readonly siteId: string; readonly name: string } | undefined;
  readonly #patient: RetryPolicy;
  readonly #quick: RetryPolicy;

  constructor(
    retry: RetryPolicy = RESTORE_RETRY,
    private readonly other?: OtherSiteCopy,
  ) {
    this.site = other ? { siteId: other.siteId, name: other.name } : undefined;
    this.#patient = other ? briefly(retry) : retry;
    this.#quick = other ? ONCE : briefly(retry);
  }

  read(
    volumeId: string,
    entry: ChunkEntry,
    signal?: AbortSignal,
    patience: Patience = 'patient',
  ): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const policy = patience === 'patient' ? this.#patient : this.#quick;
    return fetchChunkBlob(volumeId, entry.chunkId, policy, signal, this.other);
  }

  report(report: IntegrityReport): Promise<void> {
    return reportIntegrityFailure(report, this.#quick, this.other);
  }
}

/**
 * The sources a restore uses, in the order it tries them (RS-4, MS-5):
 * `others` are the other sites' copies in the site directory's order. A
 * source pinned to another site the console is not signed in at has none.
 */
export function sourcesFor(
  choice: RestoreSource,
  local: ChunkSource,
  site: ChunkSource,
  others: readonly ChunkSource[] = [],
  bundle?: ChunkSource,
): ChunkSource[] {
  if (choice === 'bundle') return bundle ? [bundle] : [];
  if (choice === 'local') return [local];
  if (choice === 'site') return [site];
  if (choice === 'automatic') return [local, site, ...others];
  const pinned = pinnedSiteId(choice);
  return others.filter((source) => source.site?.siteId === pinned);
}

/** What one source said about a chunk it was passed over for. */
export type PassedOverReason = 'missing' | 'damaged' | 'refused' | 'unreachable';

export interface PassedOver {
  readonly copy: CopyName;
  /** Another site's name; undefined for the local copy and this console's own site. */
  readonly site: string | undefined;
  readonly reason: PassedOverReason;
}

export interface ChunkRead {
  /** The good blob; else the last source's blob or undefined, for the verifier to judge and name. */
  readonly blob: Uint8Array<ArrayBuffer> | undefined;
  /** The source the good blob came from; undefined when no source held one. */
  readonly source: ChunkSource | undefined;
  /** Sources tried before, and why each was passed over. */
  readonly passedOver: readonly PassedOver[];
}

/** An integrity report a restore sent about a bad blob a site served (RS-5, MS-5). */
export interface ChunkAlert {
  readonly position: number;
  readonly chunkId: string;
  /** The site that served it: another site's name, or undefined for this console's own site. */
  readonly site: string | undefined;
  readonly check: ChunkFailure;
  /** Whether the site took the report. */
  readonly delivered: boolean;
}

export interface FailoverOptions {
  /** Each report sent about a bad blob, once the site has answered it. */
  readonly onAlert?: (alert: ChunkAlert) => void;
  /** How long a site that proved unreachable is passed over before it is tried again. */
  readonly restMs?: number;
  readonly now?: () => number;
}

/** A site is passed over for this long once it proved unreachable, then tried again. */
export const UNREACHABLE_REST_MS = 30_000;

type Attempt =
  | { readonly kind: 'good'; readonly blob: Uint8Array<ArrayBuffer> }
  | { readonly kind: 'missing' }
  | { readonly kind: 'damaged'; readonly blob: Uint8Array<ArrayBuffer> }
  /** The site answered, but not with the chunk: forbidden, not found, signed out. */
  | { readonly kind: 'refused'; readonly error: ApiError }
  | { readonly kind: 'unreachable'; readonly error: ApiError; readonly patience: Patience };

/**
 * Reads a restore's chunks from the first source with a good copy, chunk by
 * chunk (RS-4, MS-5). A source that lacks the chunk, refuses it or cannot
 * be reached is passed over for the next; a blob that fails the keyless
 * check against the signed index is too, and its site is told, once per
 * chunk. A site that proved unreachable rests for a while, then is tried
 * again, and meanwhile is asked only when no other source has a good copy.
 * One instance lives for one run of a restore.
 */
export class ChunkFailover {
  readonly #resting = new Map<ChunkSource, number>();
  readonly #reported = new Map<ChunkSource, Set<string>>();
  readonly #restMs: number;
  readonly #now: () => number;

  constructor(
    private readonly sources: readonly ChunkSource[],
    private readonly index: ManifestIndex,
    private readonly options: FailoverOptions = {},
  ) {
    this.#restMs = options.restMs ?? UNREACHABLE_REST_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The chunk at `position` from the first source with a good copy. When
   * none has one, an unreachable (or signed-out) site's error is thrown, since
   * its copy may be good and the restore can continue later (RS-8); else
   * this console's own site's refusal; else the last source's blob is
   * handed on for the verifier to name the chunk and what failed.
   */
  async read(position: number, signal?: AbortSignal): Promise<ChunkRead> {
    const entry = this.index.chunks[position]!;
    const attempts = new Map<ChunkSource, Attempt>();
    const passedOver: PassedOver[] = [];
    const tryInTurn = async (
      sources: readonly ChunkSource[],
      patience: (i: number) => Patience,
    ) => {
      for (const [i, source] of sources.entries()) {
        const attempt = await this.#attempt(source, position, entry, patience(i), signal);
        if (attempt.kind === 'good') return { blob: attempt.blob, source, passedOver };
        attempts.set(source, attempt);
        passedOver.push({ copy: source.name, site: source.site?.name, reason: attempt.kind });
      }
      return undefined;
    };

    // The sources not resting, quickly while another is left to try.
    const awake = this.sources.filter((source) => !this.#isResting(source));
    const found = await tryInTurn(awake, (i) => (i === awake.length - 1 ? 'patient' : 'quick'));
    if (found) return found;
    // Then, patiently, what may still hold a good copy: resting sites and sites tried only quickly.
    const again = this.sources.filter((source) => {
      const attempt = attempts.get(source);
      return !attempt || (attempt.kind === 'unreachable' && attempt.patience === 'quick');
    });
    const foundAgain = await tryInTurn(again, () => 'patient');
    if (foundAgain) return foundAgain;
    return { blob: this.#noGoodCopy(attempts), source: undefined, passedOver };
  }

  /**
   * No source has a good copy: a site that could not say (unreachable or
   * signed out) may still have one, so its error stops the restore for now
   * (RS-8); else this console's own site's refusal stands, as it did before
   * other sites held copies; else the last source's blob, or none.
   */
  #noGoodCopy(attempts: ReadonlyMap<ChunkSource, Attempt>): Uint8Array<ArrayBuffer> | undefined {
    const inOrder = this.sources.flatMap((source) => {
      const attempt = attempts.get(source);
      return attempt ? [{ source, attempt }] : [];
    });
    for (const { attempt } of inOrder) {
      if (attempt.kind === 'unreachable') throw attempt.error;
      if (attempt.kind === 'refused' && attempt.error.status === 401) throw attempt.error;
    }
    for (const { source, attempt } of inOrder) {
      if (attempt.kind === 'refused' && source.site === undefined) throw attempt.error;
    }
    const last = inOrder.at(-1)?.attempt;
    return last?.kind === 'damaged' ? last.blob : undefined;
  }

  async #attempt(
    source: ChunkSource,
    position: number,
    entry: ChunkEntry,
    patience: Patience,
    signal: AbortSignal | undefined,
  ): Promise<Attempt> {
    let blob: Uint8Array<ArrayBuffer> | undefined;
    try {
      blob = await source.read(this.index.volumeId, entry, signal, patience);
    } catch (error) {
      if (signal?.aborted || !(error instanceof ApiError)) throw error;
      if (!isUnreachable(error)) return { kind: 'refused', error };
      this.#resting.set(source, this.#now() + this.#restMs);
      return { kind: 'unreachable', error, patience };
    }
    this.#resting.delete(source);
    if (!blob) return { kind: 'missing' };
    try {
      await checkChunkAgainstIndex(this.index, position, entry.chunkId, blob);
      return { kind: 'good', blob };
    } catch (error) {
      if (!(error instanceof TamperedChunkError)) throw error;
      await this.#alert(source, position, entry.chunkId, error.failure);
      return { kind: 'damaged', blob };
    }
  }

  #isResting(source: ChunkSource): boolean {
    const until = this.#resting.get(source);
    return until !== undefined && this.#now() < until;
  }

  /** RS-5, MS-5: the site that served a bad blob hears of it, once per chunk ID. */
  async #alert(
    source: ChunkSource,
    position: number,
    chunkId: string,
    check: ChunkFailure,
  ): Promise<void> {
    if (!source.report) return;
    const reported = this.#reported.get(source) ?? new Set<string>();
    this.#reported.set(source, reported);
    if (reported.has(chunkId)) return;
    reported.add(chunkId);
    const delivered = await source
      .report({
        volumeId: this.index.volumeId,
        generation: this.index.generation,
        source: 'site',
        check,
        chunkIndex: position,
        chunkId,
      })
      .then(
        () => true,
        () => false,
      );
    this.options.onAlert?.({ position, chunkId, site: source.site?.name, check, delivered });
  }
}
