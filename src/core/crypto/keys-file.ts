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
import { KEYS_FILE_TYPE, type KeysFile } from './volume-keys-payload';

/**
 * Opens an escrow envelope with the site's private key and returns the keys
 * file as canonical JSON bytes. The caller writes it out and wipes it.
 */
export async function createKeysFile(
  jwe: string,
  sitePrivateKey: CryptoKey,
  devicePublicKeysSpki: readonly Uint8Array[],
  expected: ExpectedEnvelopeContext = { purpose: ['escrow', 'registration'] },
): Promise<Uint8Array<ArrayBuffer>> {
  const opened = await openEnvelopePayload(jwe, sitePrivateKey, expected);
  try {
    const file: KeysFile = {
      type: KEYS_FILE_TYPE,
      format: 1,
      volumeId: opened.payload.volumeId,
      chunkIdKey: opened.payload.chunkIdKey,
      dataKeys: opened.payload.dataKeys,
      devicePublicKeys: devicePublicKeysSpki.map((spki) => toBase64Url(spki)),
    };
    return canonicalJson(file as JsonValue);
  } finally {
    wipe(opened.bytes);
  }
}
