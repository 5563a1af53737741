/**
 * Threshold escrow (MS-4, seed 004; docs/FORMAT.md "Key shares"): every key
 * of a volume split k-of-n with Shamir's scheme over GF(2^8), through the
 * audited `shamir-secret-sharing`, one share per site, each sealed to that
 * site's escrow key so that no site and no k − 1 sites together learn
 * anything about a key. Each share names its key by a check value, so that
 * a rebuilt key is known to be the one that was split and a site that sent a
 * bad share can be named. With k = 1 every site gets the whole keys.
 */

import { combine, split } from 'shamir-secret-sharing';
import { canonicalJson, type JsonValue } from './canonical-json';
import { concatBytes, fromBase64Url, sha256, toBase64Url, toHex, utf8, wipe } from './bytes';
import { KEY_LENGTH } from './constants';
import {
  encryptPayload,
  normaliseContext,
  openEnvelope,
  openEnvelopePayload,
  sealEnvelope,
  type EnvelopeContext,
  type ExpectedEnvelopeContext,
  type RecipientKey,
} from './envelope';
import { KeySharesError } from './errors';
import { exportRawKey, importChunkIdKey, importDataKey, type VolumeKeys } from './keys';
import { VOLUME_KEY_SHARES_TYPE, type VolumeKeySharesPayload } from './volume-keys-payload';

/** A site that keeps a share (or, with k = 1, the whole keys). */
export interface ShareRecipient {
  readonly siteId: string;
  readonly escrowKey: RecipientKey;
}

const CHECK_LABEL = utf8('custodian-key-check');

/** First 16 bytes of SHA-256("custodian-key-check" ‖ 0x00 ‖ key), hex. */
export async function keyCheck(raw: Uint8Array): Promise<string> {
  const digest = await sha256(concatBytes(CHECK_LABEL, new Uint8Array([0]), raw));
  return toHex(digest.subarray(0, 16));
}

/**
 * Seals the volume's keys to every site (BK-8): with threshold 1 each site
 * gets the whole keys; otherwise each key is split into one share per site
 * and site i gets only share i. Keys must be extractable. Every raw key and
 * share is wiped before this returns. Envelopes by site ID.
 */
export async function sealToSites(
  keys: VolumeKeys,
  recipients: readonly ShareRecipient[],
  threshold: number,
  context: Omit<EnvelopeContext, 'volumeId' | 'epochs'>,
): Promise<Map<string, string>> {
  const n = recipients.length;
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > n || n > 255) {
    throw new KeySharesError(
      'too-few',
      `${threshold} of ${n} sites cannot hold shares: choose 1 … ${Math.min(n, 255)}.`,
    );
  }
  if (new Set(recipients.map((r) => r.siteId)).size !== n) {
    throw new KeySharesError('duplicate', 'A site is listed twice.');
  }
  const sealed = new Map<string, string>();
  if (threshold === 1) {
    for (const recipient of recipients) {
      sealed.set(recipient.siteId, await sealEnvelope(keys, recipient.escrowKey, context));
    }
    return sealed;
  }
  const secrets: Uint8Array[] = [];
  const shareSets: Uint8Array[][] = [];
  try {
    const epochs = [...keys.dataKeys.keys()].sort((a, b) => a - b);
    secrets.push(await exportRawKey(keys.chunkIdKey));
    for (const epoch of epochs) secrets.push(await exportRawKey(keys.dataKeys.get(epoch)!));
    const checks = await Promise.all(secrets.map(keyCheck));
    for (const secret of secrets) shareSets.push(await split(secret, n, threshold));
    for (const [i, recipient] of recipients.entries()) {
      const payload: VolumeKeySharesPayload = {
        type: VOLUME_KEY_SHARES_TYPE,
        format: 1,
        volumeId: keys.volumeId,
        siteId: recipient.siteId,
        threshold,
        shares: n,
        chunkIdKey: toBase64Url(shareSets[0]![i]!),
        chunkIdKeyCheck: checks[0]!,
        dataKeys: epochs.map((epoch, e) => ({
          epoch,
          key: toBase64Url(shareSets[e + 1]![i]!),
          check: checks[e + 1]!,
        })),
      };
      const bytes = canonicalJson(payload as unknown as JsonValue);
      try {
        sealed.set(
          recipient.siteId,
          await encryptPayload(
            bytes,
            recipient.escrowKey,
            normaliseContext({ ...context, volumeId: keys.volumeId, epochs }),
          ),
        );
      } finally {
        wipe(bytes);
      }
    }
    return sealed;
  } finally {
    secrets.forEach(wipe);
    shareSets.flat().forEach(wipe);
  }
}

/** One key's share as a site released it. */
interface KeyShare {
  readonly share: Uint8Array;
  readonly check: string;
}

/** What one site released: its shares of the keys, or (k = 1) the whole keys. */
export type SiteRelease =
  | { readonly kind: 'keys'; readonly siteId: string; readonly keys: VolumeKeys }
  | {
      readonly kind: 'shares';
      readonly siteId: string;
      /** The site the share was made for, as the share says. */
      readonly madeFor: string;
      readonly volumeId: string;
      readonly threshold: number;
      readonly shares: number;
      readonly chunkIdKey: KeyShare;
      readonly dataKeys: ReadonlyMap<number, KeyShare>;
    };

/**
 * Opens the envelope `siteId` released to the restore's ephemeral key. Whole
 * keys are imported non-extractable; shares stay raw bytes in memory, for
 * `combineReleases` (the caller wipes them with `wipeRelease`).
 */
export async function openSiteRelease(
  siteId: string,
  jwe: string,
  privateKey: CryptoKey,
  expected: ExpectedEnvelopeContext,
): Promise<SiteRelease> {
  const opened = await openEnvelopePayload(jwe, privateKey, expected);
  const payload = opened.payload;
  if (payload.type !== VOLUME_KEY_SHARES_TYPE) {
    wipe(opened.bytes);
    const { keys } = await openEnvelope(jwe, privateKey, expected);
    return { kind: 'keys', siteId, keys };
  }
  try {
    return {
      kind: 'shares',
      siteId,
      madeFor: payload.siteId,
      volumeId: payload.volumeId,
      threshold: payload.threshold,
      shares: payload.shares,
      chunkIdKey: { share: fromBase64Url(payload.chunkIdKey), check: payload.chunkIdKeyCheck },
      dataKeys: new Map(
        payload.dataKeys.map((k) => [k.epoch, { share: fromBase64Url(k.key), check: k.check }]),
      ),
    };
  } finally {
    wipe(opened.bytes);
  }
}

/** Wipes the share bytes of a release once the keys are rebuilt (or the restore ends). */
export function wipeRelease(release: SiteRelease): void {
  if (release.kind !== 'shares') return;
  wipe(release.chunkIdKey.share);
  for (const { share } of release.dataKeys.values()) wipe(share);
}

/** What the signed manifest says about the escrow, and what the restore needs. */
export interface ShareExpectation {
  readonly volumeId: string;
  readonly threshold: number;
  /** Every site of the manifest's escrow list, in its order. */
  readonly sites: readonly string[];
  /** Epochs whose data keys the restore needs. */
  readonly epochs: readonly number[];
}

/** The keys, and the sites whose shares did not fit them (an integrity alert each). */
export interface CombinedKeys {
  readonly keys: VolumeKeys;
  readonly badSites: readonly string[];
}

/** At most this many sets of k shares are tried before giving up. */
const MAX_COMBINATIONS = 256;

function* combinations<T>(
  items: readonly T[],
  k: number,
  start = 0,
  chosen: T[] = [],
): Generator<T[]> {
  if (chosen.length === k) {
    yield [...chosen];
    return;
  }
  for (let i = start; i <= items.length - (k - chosen.length); i++) {
    chosen.push(items[i]!);
    yield* combinations(items, k, i + 1, chosen);
    chosen.pop();
  }
}

type Shares = Extract<SiteRelease, { kind: 'shares' }>;

/** The keys of a set of shares, if every rebuilt key matches the check every member names. */
async function rebuild(
  members: readonly Shares[],
  epochs: readonly number[],
): Promise<Uint8Array[] | undefined> {
  const parts = [
    members.map((m) => m.chunkIdKey),
    ...epochs.map((epoch) => members.map((m) => m.dataKeys.get(epoch)!)),
  ];
  const rebuilt: Uint8Array[] = [];
  for (const part of parts) {
    let secret: Uint8Array;
    try {
      secret = await combine(part.map((p) => p.share));
    } catch {
      rebuilt.forEach(wipe);
      return undefined;
    }
    rebuilt.push(secret);
    const check = await keyCheck(secret);
    if (secret.length !== KEY_LENGTH || part.some((p) => p.check !== check)) {
      rebuilt.forEach(wipe);
      return undefined;
    }
  }
  return rebuilt;
}

/**
 * MS-5: the volume's keys from what the sites released. Shares must be for
 * the volume, the threshold and the sites the signed manifest names, each
 * from the site it was made for and each site once; any k of them that
 * rebuild keys matching their checks give the keys (non-extractable), and
 * every other share is then checked against them. Throws KeySharesError
 * when fewer than k good shares are there.
 */
export async function combineReleases(
  releases: readonly SiteRelease[],
  expected: ShareExpectation,
  options: { extractable?: boolean } = {},
): Promise<CombinedKeys> {
  const bad = new Set<string>();
  if (expected.threshold === 1) {
    const whole = releases.find(
      (r): r is Extract<SiteRelease, { kind: 'keys' }> =>
        r.kind === 'keys' &&
        expected.sites.includes(r.siteId) &&
        r.keys.volumeId === expected.volumeId &&
        expected.epochs.every((e) => r.keys.dataKeys.has(e)),
    );
    if (whole) {
      return {
        keys: whole.keys,
        badSites: releases.filter((r) => r !== whole && r.kind !== 'keys').map((r) => r.siteId),
      };
    }
  }

  const usable: Shares[] = [];
  const answeredTwice = new Set<string>();
  for (const release of releases) {
    if (release.kind !== 'shares') {
      bad.add(release.siteId);
      continue;
    }
    const fits =
      release.madeFor === release.siteId &&
      expected.sites.includes(release.siteId) &&
      release.volumeId === expected.volumeId &&
      release.threshold === expected.threshold &&
      release.shares === expected.sites.length &&
      expected.epochs.every((e) => release.dataKeys.has(e)) &&
      release.chunkIdKey.share.length === KEY_LENGTH + 1;
    if (!fits) {
      bad.add(release.siteId);
      continue;
    }
    if (usable.some((u) => u.siteId === release.siteId)) {
      answeredTwice.add(release.siteId);
      continue;
    }
    usable.push(release);
  }
  // Shares with one x coordinate: one site copied another's (which one is told below, by the checks).
  const xOf = (u: Shares): number => u.chunkIdKey.share[KEY_LENGTH]!;
  const duplicated = usable.filter((u) => usable.some((v) => v !== u && xOf(v) === xOf(u)));
  const k = expected.threshold;
  if (usable.length < k && answeredTwice.size > 0) {
    throw new KeySharesError(
      'duplicate',
      `${[...answeredTwice].join(', ')} answered twice: ${usable.length} different shares of the ${k} needed.`,
      [...answeredTwice],
    );
  }
  if (usable.length < k) {
    throw new KeySharesError(
      bad.size > 0 ? 'wrong-site' : 'too-few',
      bad.size > 0
        ? `${[...bad].join(', ')} sent shares made for another site, volume or threshold: ${usable.length} good shares of the ${k} needed.`
        : `${usable.length} of the ${k} shares needed arrived.`,
      [...bad],
    );
  }
  let tried = 0;
  for (const members of combinations(usable, k)) {
    if (++tried > MAX_COMBINATIONS) break;
    const rebuilt = await rebuild(members, expected.epochs);
    if (!rebuilt) continue;
    try {
      // Every other share must give the same keys with k − 1 of the good ones.
      for (const other of usable.filter((u) => !members.includes(u))) {
        if (members.some((m) => xOf(m) === xOf(other))) {
          bad.add(other.siteId);
          continue;
        }
        const again = await rebuild([...members.slice(0, k - 1), other], expected.epochs);
        if (!again || again.some((key, i) => toHex(key) !== toHex(rebuilt[i]!))) {
          bad.add(other.siteId);
        }
        again?.forEach(wipe);
      }
      const chunkIdKey = await importChunkIdKey(rebuilt[0]!, options);
      const dataKeys = new Map<number, CryptoKey>();
      for (const [i, epoch] of expected.epochs.entries()) {
        dataKeys.set(epoch, await importDataKey(rebuilt[i + 1]!));
      }
      return {
        keys: { volumeId: expected.volumeId, chunkIdKey, dataKeys },
        badSites: [...bad],
      };
    } finally {
      rebuilt.forEach(wipe);
    }
  }
  if (new Set(usable.map(xOf)).size < k) {
    throw new KeySharesError(
      'duplicate',
      `Sites sent the same share (${duplicated.map((u) => u.siteId).join(', ')}): ${new Set(usable.map(xOf)).size} different shares of the ${k} needed.`,
      duplicated.map((u) => u.siteId),
    );
  }
  throw new KeySharesError(
    'do-not-combine',
    `The shares of ${usable.map((u) => u.siteId).join(', ')} do not rebuild the keys: at least one of them is not a share of this volume's keys.`,
    usable.length === k ? usable.map((u) => u.siteId) : [...bad],
  );
}

/**
 * The site's re-wrap of its shares (RS-2, MS-4): opens its escrow envelopes
 * of the epochs a generation needs (ascending) and seals one share payload
 * to the restorer's ephemeral key. The chunk-ID key's share is always taken
 * from the lowest of those epochs, so that every site passes on shares of the
 * same split. Returns undefined when the envelopes hold whole keys.
 */
export async function rewrapShareEnvelopes(
  sources: readonly { readonly epoch: number; readonly envelope: string }[],
  sitePrivateKey: CryptoKey,
  recipient: RecipientKey,
  context: EnvelopeContext,
): Promise<string | undefined> {
  const ordered = [...sources].sort((a, b) => a.epoch - b.epoch);
  const payloads: VolumeKeySharesPayload[] = [];
  for (const { envelope } of ordered) {
    const opened = await openEnvelopePayload(envelope, sitePrivateKey, {
      purpose: ['escrow', 'registration'],
      volumeId: context.volumeId,
    });
    wipe(opened.bytes);
    if (opened.payload.type !== VOLUME_KEY_SHARES_TYPE) return undefined;
    payloads.push(opened.payload);
  }
  const first = payloads[0];
  if (!first) return undefined;
  if (
    payloads.some(
      (p) =>
        p.siteId !== first.siteId || p.threshold !== first.threshold || p.shares !== first.shares,
    )
  ) {
    throw new KeySharesError(
      'wrong-site',
      'The escrowed shares of this volume do not belong together.',
    );
  }
  const dataKeys = payloads
    .flatMap((p) => p.dataKeys)
    .filter((k) => context.epochs.includes(k.epoch))
    .sort((a, b) => a.epoch - b.epoch);
  const missing = context.epochs.filter((e) => !dataKeys.some((k) => k.epoch === e));
  if (missing.length > 0) {
    throw new KeySharesError('too-few', `No share is held for epochs [${missing.join(', ')}].`);
  }
  const bytes = canonicalJson({ ...first, dataKeys } as unknown as JsonValue);
  try {
    return await encryptPayload(bytes, recipient, context);
  } finally {
    wipe(bytes);
  }
}
