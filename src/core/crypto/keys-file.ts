/**
 * ES-4: the keys file of `npm run site -- export-key`, read by the
 * independent decoder (tools/decode, docs/FORMAT.md "Keys file"). It holds
 * raw keys in the clear: it is meant for an administrator's offline
 * recovery, is audited by the site, and must be handled like the medium.
 */

import { toBase64Url } from './bytes';
import { canonicalJson, type JsonValue } from './canonical-json';
import { openEnvelopePayload, type ExpectedEnvelopeContext } from './envelope';
import { wipe } from './bytes';
import { EnvelopeContextError, MalformedEnvelopeError } from './errors';
import {
  KEY_SHARE_FILE_TYPE,
  KEYS_FILE_TYPE,
  VOLUME_KEY_SHARES_TYPE,
  type KeysFile,
  type VolumeKeySharesPayload,
  type VolumeKeysPayload,
} from './volume-keys-payload';

/**
 * Opens the escrow envelopes of one volume (one per epoch, or one holding
 * several) with the site's private key and returns the keys file as
 * canonical JSON bytes, every epoch once. The caller writes it out and
 * wipes it.
 */
export async function createKeysFile(
  jwes: string | readonly string[],
  sitePrivateKey: CryptoKey,
  devicePublicKeysSpki: readonly Uint8Array[],
  expected: ExpectedEnvelopeContext = { purpose: ['escrow', 'registration'] },
): Promise<Uint8Array<ArrayBuffer>> {
  const sources = typeof jwes === 'string' ? [jwes] : jwes;
  if (sources.length === 0) throw new MalformedEnvelopeError('there is no key envelope to export.');
  const opened = [];
  try {
    for (const jwe of sources)
      opened.push(await openEnvelopePayload(jwe, sitePrivateKey, expected));
    const shares = opened.map((o) => o.payload).filter((p) => p.type === VOLUME_KEY_SHARES_TYPE);
    if (shares.length > 0) return shareFile(shares, opened.length, devicePublicKeysSpki);
    const first = opened[0]!.payload as VolumeKeysPayload;
    const dataKeys = new Map<number, string>();
    for (const { payload } of opened as { payload: VolumeKeysPayload }[]) {
      if (payload.volumeId !== first.volumeId || payload.chunkIdKey !== first.chunkIdKey) {
        throw new EnvelopeContextError(
          'the envelopes belong to different volumes or chunk-ID keys.',
        );
      }
      for (const { epoch, key } of payload.dataKeys) dataKeys.set(epoch, key);
    }
    const file: KeysFile = {
      type: KEYS_FILE_TYPE,
      format: 1,
      volumeId: first.volumeId,
      chunkIdKey: first.chunkIdKey,
      dataKeys: [...dataKeys].sort(([a], [b]) => a - b).map(([epoch, key]) => ({ epoch, key })),
      devicePublicKeys: devicePublicKeysSpki.map((spki) => toBase64Url(spki)),
    };
    return canonicalJson(file as JsonValue);
  } finally {
    for (const o of opened) wipe(o.bytes);
  }
}

/**
 * MS-4: what a site that keeps a share of the keys exports instead (docs/FORMAT.md
 * "Key shares"): its shares, k of which the decoder combines. The chunk-ID
 * key's share comes from the lowest epoch, as in every release.
 */
function shareFile(
  payloads: readonly VolumeKeySharesPayload[],
  opened: number,
  devicePublicKeysSpki: readonly Uint8Array[],
): Uint8Array<ArrayBuffer> {
  const sorted = [...payloads].sort((a, b) => a.dataKeys[0]!.epoch - b.dataKeys[0]!.epoch);
  const first = sorted[0]!;
  if (
    payloads.length !== opened ||
    payloads.some(
      (p) =>
        p.volumeId !== first.volumeId ||
        p.siteId !== first.siteId ||
        p.threshold !== first.threshold ||
        p.shares !== first.shares,
    )
  ) {
    throw new EnvelopeContextError('the envelopes do not hold shares of one volume for one site.');
  }
  const dataKeys = sorted.flatMap((p) => p.dataKeys).sort((a, b) => a.epoch - b.epoch);
  return canonicalJson({
    ...first,
    type: KEY_SHARE_FILE_TYPE,
    dataKeys,
    devicePublicKeys: devicePublicKeysSpki.map((spki) => toBase64Url(spki)),
  } as unknown as JsonValue);
}
