/**
 * Faults injected into the test site (site.ts) for the engines' tests: the
 * site's own rules decide every answer, and these hooks only change when and
 * whether a request reaches them — the site away, a commit held back, a claim
 * the site has collected, an older site's claim answer. Beside them, a record
 * of every transfer and every acknowledgement of an instruction the site
 * received, as the site read them, so a test can say what went over the wire
 * in which order.
 */

import { parseChunkBlobHeader } from '@/core/crypto/chunk';
import { decodeTransfer, type TransferKind } from '@/core/transfer/frame';
import { DomainError } from '../../mock-server/src/domain/errors';
import type { TransferAnswer } from '../../mock-server/src/domain/escrow/transfers';
import type { TestSite } from './site';

/** One PUT of a transfer as it reached the site, and how the site answered it. */
export interface ReceivedTransfer {
  readonly pairId: string;
  readonly seq: number;
  readonly kind: TransferKind;
  readonly volumeId: string;
  /** The epoch an epoch-key announces, or the epoch a chunk blob was sealed under. */
  readonly epoch: number | undefined;
  /** The padded body's length. */
  readonly size: number;
  /** "applied", "duplicate", "buffered", or the code the site refused it with. */
  answer?: string;
}

/** A primary's acknowledgement of an instruction as it reached the site (RC-3, RC-5). */
export interface ReceivedAcknowledgement {
  readonly pairId: string;
  readonly instructionId: string;
  /** What the primary says it did: the cut of a suspension, the new epoch of a rekey. */
  readonly facts: { readonly cutSeq?: number; readonly epoch?: number };
}

export interface SiteFaults {
  /**
   * The site is away (`true`) or back (`false`): the page's requests to it
   * fail as a network error does in a browser — all of them, or only those
   * whose "METHOD /path" matches `only`. It replaces any site.outage in force.
   */
  away(on: boolean, only?: RegExp): void;
  /** Every PUT of a transfer the site received, in the order they arrived. */
  received(): readonly ReceivedTransfer[];
  /**
   * Every acknowledgement of an instruction the site received, in the order
   * they arrived: the site keeps a suspension's cut but not a rekey's epoch.
   */
  acknowledgements(): readonly ReceivedAcknowledgement[];
  /** The transfers of this kind the site received, each sequence number once. */
  sent(kind: TransferKind): number;
  /**
   * Runs `callback` once the site has settled a transfer (applied, buffered
   * or refused), before its answer leaves; `undefined` stops. Throwing here
   * loses the answer (the page sees the site fail).
   */
  afterTransfer(callback: ((seq: number) => void | Promise<void>) | undefined): void;
  /**
   * A slow site: for `ms` from its arrival, the next commit is not taken in yet and each PUT
   * of it is answered "buffered" (202), as the site answers a transfer
   * waiting behind a gap; afterwards the site's rules apply it.
   */
  holdCommit(ms: number): void;
  /** Answers claims as an older site does, without the pair's rotation policy (RC-4). */
  olderSite(): void;
  /**
   * The claim of `volumeId` outlives its time-to-live and the site's sweep
   * collects it (BK-8): a volume never committed is forgotten with its chunks.
   */
  expireClaim(volumeId: string): Promise<void>;
  /**
   * Settles once every transfer that reached the site has been answered: a
   * run stopped mid-way may leave PUTs the site is still applying.
   */
  idle(): Promise<void>;
}

const faults = new WeakMap<TestSite, SiteFaults>();

/** The fault hooks of this test's site (one set per site). */
export function siteFaults(site: TestSite): SiteFaults {
  let found = faults.get(site);
  if (!found) {
    found = install(site);
    faults.set(site, found);
  }
  return found;
}

function install(site: TestSite): SiteFaults {
  const { transfers, volumes, pairs, escrow } = site.site;
  const received: ReceivedTransfer[] = [];
  const acknowledgements: ReceivedAcknowledgement[] = [];
  let after: ((seq: number) => void | Promise<void>) | undefined;
  let commitHold: number | undefined;
  let commitHeldUntil: number | undefined;
  let older = false;
  const underWay = new Set<Promise<unknown>>();

  const put = transfers.put.bind(transfers);
  transfers.put = (caller, pairId, seq, body, claimedSha256): Promise<TransferAnswer> => {
    const answering = answer(caller, pairId, seq, body, claimedSha256);
    const settled = answering.catch(() => undefined);
    underWay.add(settled);
    void settled.then(() => underWay.delete(settled));
    return answering;
  };
  const answer: typeof transfers.put = async (caller, pairId, seq, body, claimedSha256) => {
    const record = describe(pairId, seq, body);
    if (record) received.push(record);
    try {
      let answer: TransferAnswer;
      if (record?.kind === 'commit' && commitHold !== undefined) {
        commitHeldUntil ??= Date.now() + commitHold;
        if (Date.now() < commitHeldUntil) {
          const pair = await escrow.store.pairs.find(pairId);
          answer = {
            httpStatus: 202,
            ack: { pairId, seq, status: 'buffered', seqApplied: pair?.seqApplied ?? 0 },
          };
        } else {
          commitHold = commitHeldUntil = undefined;
          answer = await put(caller, pairId, seq, body, claimedSha256);
        }
      } else {
        answer = await put(caller, pairId, seq, body, claimedSha256);
      }
      if (record) record.answer = answer.ack.status;
      await after?.(seq);
      return answer;
    } catch (error) {
      if (record && error instanceof DomainError) record.answer = error.code;
      throw error;
    }
  };

  const claim = volumes.claim.bind(volumes);
  volumes.claim = async (...args) => {
    const answer = await claim(...args);
    if (!older) return answer;
    const { rotation: _rotation, ...withoutRotation } = answer;
    return withoutRotation;
  };

  const acknowledge = pairs.acknowledge.bind(pairs);
  pairs.acknowledge = (caller, pairId, instructionId, facts) => {
    // The route hands over the whole request it read, the epoch of a rekey included.
    acknowledgements.push({ pairId, instructionId, facts: { ...facts } });
    return acknowledge(caller, pairId, instructionId, facts);
  };

  return {
    away(on, only) {
      site.outage(
        on
          ? (request) => {
              const path = decodeURIComponent(new URL(request.url).pathname);
              return path.startsWith('/api/') && (!only || only.test(`${request.method} ${path}`));
            }
          : undefined,
      );
    },
    received: () => received,
    acknowledgements: () => acknowledgements,
    sent: (kind) =>
      new Set(received.filter((t) => t.kind === kind).map((t) => `${t.pairId}/${t.seq}`)).size,
    afterTransfer(callback) {
      after = callback;
    },
    holdCommit(ms) {
      commitHold = ms;
    },
    olderSite() {
      older = true;
    },
    async idle() {
      while (underWay.size > 0) await Promise.all(underWay);
    },
    async expireClaim(volumeId) {
      const volume = await escrow.store.volumes.find(volumeId);
      if (!volume?.claimExpiresAt) throw new Error(`${volumeId} has no claim at the site`);
      site.setTime(new Date(Date.parse(volume.claimExpiresAt) + 60_000).toISOString());
      try {
        await volumes.collectExpiredClaims();
      } finally {
        site.setTime(undefined);
      }
    },
  };
}

/** What a transfer's body says, as the site reads it; undefined for a body it cannot read. */
function describe(pairId: string, seq: number, body: Uint8Array): ReceivedTransfer | undefined {
  try {
    const { header, payload } = decodeTransfer(body);
    const epoch =
      header.kind === 'epoch-key'
        ? header.epoch
        : header.kind === 'chunk'
          ? parseChunkBlobHeader(payload).epoch
          : undefined;
    return { pairId, seq, kind: header.kind, volumeId: header.volumeId, epoch, size: body.length };
  } catch {
    return undefined;
  }
}
