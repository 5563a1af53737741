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
import { KEYS_FILE_TYPE, type KeysFile } from './volume-keys-payload';

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
    const first = opened[0]!.payload;
    const dataKeys = new Map<number, string>();
    for (const { payload } of opened) {
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
