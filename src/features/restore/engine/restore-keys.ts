/**
 * Key release on the restorer's side (RS-2, RS-3): a fresh ephemeral ECDH
 * pair per restore, its private half non-extractable and kept in the key
 * store with the request ID until the restore ends; the request; the wait for
 * an administrator when approval is required (live `release` event, with a
 * slow poll in case the stream missed it); and the released envelope, kept
 * wrapped to the ephemeral key so a crash mid-restore resumes without a
 * second release. The keys themselves exist only in memory, as
 * non-extractable CryptoKeys, while the restore runs.
 */

import type { RetryPolicy, SiteAddress } from '@/shared/api/request';
import { fetchKeyRelease, isUnreachable, requestKeyRelease } from '@/shared/api/restore';
import { connectEventStream } from '@/shared/api/use-event-stream';
import type { KeyRelease, P256PublicJwk } from '@/core/contract';
import {
  exportEnvelopePublicKeyJwk,
  generateEnvelopeKeyPair,
  openEnvelope,
  randomBytes,
  toBase64Url,
  type VolumeKeys,
} from '@/core/crypto';
import {
  getRestoreKey,
  putRestoreKey,
  saveReleasedEnvelope,
  saveReleasedEnvelopeAt,
} from '@/shared/storage/key-store';

/** How often a pending approval is asked for again, besides the live event. */
export const APPROVAL_POLL_MS = 15_000;

/** An administrator refused the key release (BK-5). */
export class ReleaseDeniedError extends Error {
  readonly code = 'release_denied';

  constructor(readonly reason: string) {
    super(`An administrator denied the key release: ${reason}`);
    this.name = 'ReleaseDeniedError';
  }
}

/** The ephemeral key of a restore is gone (storage wiped): the restore cannot continue. */
export class RestoreKeyMissingError extends Error {
  readonly code = 'restore_key_missing';

  constructor() {
    super('The ephemeral key of this restore is no longer in this browser.');
    this.name = 'RestoreKeyMissingError';
  }
}

/** A new request ID: 24 random bytes, base64url (32 characters). */
export function newRequestId(): string {
  return toBase64Url(randomBytes(24));
}

/** RS-2: makes and keeps the ephemeral key pair of a new restore. */
export async function createEphemeralKey(
  requestId: string,
  volumeId: string,
  generation: number,
): Promise<void> {
  const pair = await generateEnvelopeKeyPair();
  await putRestoreKey({
    requestId,
    volumeId,
    generation,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    createdAt: new Date().toISOString(),
  });
}

export interface KeyRequestOptions {
  /** Called when the site says an administrator must approve first. */
  readonly onPending?: () => void;
  readonly retry?: RetryPolicy;
  readonly signal?: AbortSignal;
}

/** Resolves with the site's answer once it is no longer pending. */
function waitForDecision(
  volumeId: string,
  requestId: string,
  signal?: AbortSignal,
): Promise<KeyRelease> {
  return new Promise((resolve, reject) => {
    const stream = connectEventStream();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.release();
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const onAbort = (): void => finish(() => reject(signal?.reason));
    const check = async (): Promise<void> => {
      try {
        const answer = await fetchKeyRelease(volumeId, requestId, signal);
        if (answer.state !== 'pending_approval') finish(() => resolve(answer));
        else if (!settled) timer = setTimeout(() => void check(), APPROVAL_POLL_MS);
      } catch (error) {
        if (signal?.aborted || settled) return;
        // The site being away while waiting is not a decision: ask again later.
        if (isUnreachable(error)) timer = setTimeout(() => void check(), APPROVAL_POLL_MS);
        else finish(() => reject(error));
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.on('release', (event) => {
      if (event.requestId !== requestId) return;
      clearTimeout(timer);
      void check();
    });
    // A decision made while the stream was (re)connecting was not heard: ask once it is open.
    stream.on('hello', () => {
      clearTimeout(timer);
      void check();
    });
    timer = setTimeout(() => void check(), APPROVAL_POLL_MS);
  });
}

/**
 * RS-2, RS-3: the released envelope of this restore — the one kept from
 * before, or the site's answer to the request (sent again with the same ID
 * after a lost answer or a reload, which the site replays).
 */
export async function obtainEnvelope(
  requestId: string,
  volumeId: string,
  generation: number,
  options: KeyRequestOptions & {
    readonly site?: OtherSiteAddress;
    /** How often another site is asked whether its administrators decided. */
    readonly pollMs?: number;
  } = {},
): Promise<string> {
  const stored = await getRestoreKey(requestId);
  if (!stored) throw new RestoreKeyMissingError();
  const { site } = options;
  const kept = site ? stored.siteEnvelopes?.[site.siteId] : stored.envelope;
  if (kept) return kept;
  const address = site ? { url: site.url, token: site.token } : undefined;
  const ephemeralPublicKey = (await exportEnvelopePublicKeyJwk(stored.publicKey)) as P256PublicJwk;
  let answer = await requestKeyRelease(
    volumeId,
    { requestId, generation, ephemeralPublicKey },
    options.retry,
    options.signal,
    address,
  );
  while (answer.state === 'pending_approval') {
    options.onPending?.();
    answer = address
      ? await pollDecision(volumeId, requestId, address, options.pollMs, options.signal)
      : await waitForDecision(volumeId, requestId, options.signal);
  }
  if (answer.state === 'denied') throw new ReleaseDeniedError(answer.reason);
  if (site) await saveReleasedEnvelopeAt(requestId, site.siteId, answer.envelope);
  else await saveReleasedEnvelope(requestId, answer.envelope);
  return answer.envelope;
}

/** Another site as the restore reaches it: its ID, address and the bearer token it issued. */
export interface OtherSiteAddress {
  readonly siteId: string;
  readonly url: string;
  readonly token: string;
}

/** Another site's decision on a release awaiting its administrators, asked for now and then. */
async function pollDecision(
  volumeId: string,
  requestId: string,
  site: Required<SiteAddress>,
  pollMs = APPROVAL_POLL_MS,
  signal?: AbortSignal,
): Promise<KeyRelease> {
  for (;;) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, pollMs);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
    try {
      const answer = await fetchKeyRelease(volumeId, requestId, signal, site);
      if (answer.state !== 'pending_approval') return answer;
    } catch (error) {
      if (signal?.aborted || !isUnreachable(error)) throw error;
    }
  }
}

/** Opens a release envelope with the ephemeral key; the keys stay non-extractable. */
export async function openReleasedKeys(
  requestId: string,
  volumeId: string,
  generation: number,
  envelope: string,
): Promise<VolumeKeys> {
  const stored = await getRestoreKey(requestId);
  if (!stored) throw new RestoreKeyMissingError();
  const { keys } = await openEnvelope(envelope, stored.privateKey, {
    purpose: 'release',
    volumeId,
    generation,
    requestId,
  });
  return keys;
}
