/**
 * Produces the worked example of docs/FORMAT.md with the real code of
 * src/core and fixed example keys, and (with --out-dir) writes it as files
 * the independent decoder restores:
 *
 *   npx tsx tools/decode/example/make-example.ts [--out-dir DIR]
 *   npm run decode -- --manifest DIR/manifest.json --keys DIR/keys.json \
 *     --chunks DIR/chunks --out DIR/image.bin
 *
 * This script is not part of the decoder (which imports nothing from
 * src/core); it only lives beside it because its output is the decoder's
 * reference input. Nonces and ECDSA signatures are random, so every run
 * prints different, equally valid values. The keys are public examples.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { decodeProtectedHeader } from 'jose';
import { fromUtf8, toBase64Url, toHex, utf8, sha256Hex } from '../../../src/core/crypto/bytes';
import {
  chunkAad,
  encryptChunk,
  ciphertextHash,
  computeChunkId,
} from '../../../src/core/crypto/chunk';
import { splitIntoChunks } from '../../../src/core/crypto/chunking';
import { canonicalJson } from '../../../src/core/crypto/canonical-json';
import { padTransfer, paddedTransferSize } from '../../../src/core/crypto/constants';
import { exportPublicKeySpki, publicKeyFingerprint } from '../../../src/core/crypto/device-key';
import { sealEnvelope } from '../../../src/core/crypto/envelope';
import { createKeysFile } from '../../../src/core/crypto/keys-file';
import { importChunkIdKey, importDataKey } from '../../../src/core/crypto/keys';
import {
  buildManifest,
  manifestHash,
  manifestSignedBytes,
  serializeManifest,
  signManifest,
} from '../../../src/core/crypto/manifest';
import type { ChunkEntry } from '../../../src/core/crypto/manifest-schema';
import { restorerListHash, serializeReceipt, signReceipt } from '../../../src/core/crypto/receipt';

const { values } = parseArgs({ options: { 'out-dir': { type: 'string' } } });

/** Example keys: never use them for anything else. */
const CHUNK_ID_KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const DATA_KEY_EPOCH_1 = Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i);
const DEVICE_KEY: JsonWebKey = {
  kty: 'EC',
  crv: 'P-256',
  x: 'ZTIGmd1Je8_vzuL_xoqbfnDjBPP5MZQmv_LKl5Po8hU',
  y: 'EA1GyJRlO7s_MZiUpwuEgzuTPyhRRubtJ7vhFL8h7Rs',
  d: 'VM0e0DzTBt0WPPjSy4VS6JUvDr-Ann4RuWpp0Zxhi5M',
};
const SITE_ESCROW_KEY: JsonWebKey = {
  kty: 'EC',
  crv: 'P-256',
  x: 'hCBYMSQpucwLBMNx2QdqO2PwGRf9HoZdZuEXBiesrZY',
  y: 'FOgE02nmR5sgZ5Hy9at-ZsFfKLwpWCBD82EIn_CZIhk',
  d: 'cJdwt1mtBx7U8tsWSRyCPfzr9n0PtgxOBEUbWaTCO-M',
};

const SITE_SIGNING_KEY: JsonWebKey = {
  kty: 'EC',
  crv: 'P-256',
  x: 'RhZuicsvVD1u5CCupjv1O-XN8hvwy6WEMEK6ibW90zc',
  y: 'eFaUw7CeirN89byl7wtNmkmWDoh5T75hie94UaYHQL8',
  d: 'z9g5pd44HSXN5FArjwf1X6N0Zf28_vgbXih2h6kOi2c',
};

const VOLUME_ID = 'iso9660:CUSTODIAN_DEMO:2026-11-21-13-30-00-00';
const IMAGE = utf8('The quick brown fox jumps over the lazy dog');
const CHUNK_SIZE_FOR_EXAMPLE = 32;
const EPOCH = 1;

async function importPair(jwk: JsonWebKey, algorithm: 'ECDSA' | 'ECDH'): Promise<CryptoKeyPair> {
  const params = { name: algorithm, namedCurve: 'P-256' };
  const { d: _d, ...publicJwk } = jwk;
  const privateKey = await crypto.subtle.importKey(
    'jwk',
    jwk,
    params,
    false,
    algorithm === 'ECDSA' ? ['sign'] : ['deriveBits'],
  );
  const publicKey = await crypto.subtle.importKey(
    'jwk',
    publicJwk,
    params,
    true,
    algorithm === 'ECDSA' ? ['verify'] : [],
  );
  return { privateKey, publicKey };
}

function hexLines(bytes: Uint8Array, width = 32): string {
  const hex = toHex(bytes);
  const lines: string[] = [];
  for (let i = 0; i < hex.length; i += width * 2) lines.push(hex.slice(i, i + width * 2));
  return lines.join('\n');
}

const out: string[] = [];
const say = (line = '') => out.push(line);

const chunkIdKey = await importChunkIdKey(CHUNK_ID_KEY.slice(), { extractable: true });
const dataKey = await importDataKey(DATA_KEY_EPOCH_1.slice(), { extractable: true });
const device = await importPair(DEVICE_KEY, 'ECDSA');
const site = await importPair(SITE_ESCROW_KEY, 'ECDH');
const siteSigning = await importPair(SITE_SIGNING_KEY, 'ECDSA');

say('### Inputs');
say('```');
say(`volume ID      ${VOLUME_ID}`);
say(`chunk-ID key   ${toHex(CHUNK_ID_KEY)}`);
say(`data key (1)   ${toHex(DATA_KEY_EPOCH_1)}`);
say(`image (${IMAGE.length} B)  "${fromUtf8(IMAGE)}"`);
say(`image SHA-256  ${await sha256Hex(IMAGE)}`);
say(`chunk size     ${CHUNK_SIZE_FOR_EXAMPLE} (example only; real manifests use 4194304)`);
say('```');

const entries: ChunkEntry[] = [];
const blobs = new Map<string, Uint8Array>();
let position = 0;
for (const plaintext of splitIntoChunks(IMAGE, CHUNK_SIZE_FOR_EXAMPLE)) {
  const chunkId = await computeChunkId(chunkIdKey, plaintext);
  const context = { volumeId: VOLUME_ID, chunkId, epoch: EPOCH };
  const aad = chunkAad(context);
  const blob = await encryptChunk(plaintext, dataKey, context);
  const entry: ChunkEntry = {
    chunkId: toHex(chunkId),
    ciphertextSha256: await ciphertextHash(blob),
    length: plaintext.length,
    epoch: EPOCH,
  };
  entries.push(entry);
  blobs.set(entry.chunkId, blob);
  say();
  say(`### Chunk ${position}`);
  say('```');
  say(`plaintext (${plaintext.length} B)`);
  say(hexLines(plaintext));
  say('chunk ID = HMAC-SHA-256(chunk-ID key, plaintext)');
  say(entry.chunkId);
  say(`AAD (${aad.length} B) = "CSTA" ‖ 01 ‖ u16 len ‖ volume ID ‖ chunk ID ‖ u32 epoch`);
  say(hexLines(aad));
  say(`blob (${blob.length} B) = "CSTC" ‖ 01 ‖ u32 epoch ‖ nonce ‖ ciphertext ‖ tag`);
  say(`  magic+version  ${toHex(blob.subarray(0, 5))}`);
  say(`  epoch          ${toHex(blob.subarray(5, 9))}`);
  say(`  nonce          ${toHex(blob.subarray(9, 21))}`);
  say(`  ciphertext     ${toHex(blob.subarray(21, blob.length - 16))}`);
  say(`  tag            ${toHex(blob.subarray(blob.length - 16))}`);
  say('ciphertextSha256 = SHA-256(blob)');
  say(entry.ciphertextSha256);
  say('```');
  position += 1;
}

const unsigned = await buildManifest(
  {
    volumeId: VOLUME_ID,
    generation: 1,
    previousManifestHash: null,
    chunkSize: CHUNK_SIZE_FOR_EXAMPLE,
    chunks: entries,
    createdAt: '2026-11-21T13:30:00.000Z',
    deviceKeyFingerprint: await publicKeyFingerprint(device.publicKey),
  },
  { imageSha256: await sha256Hex(IMAGE), fileName: 'demo.iso', size: IMAGE.length },
  { dataKey, epoch: EPOCH },
);
const manifest = await signManifest(unsigned, device.privateKey);
const indexBytes = canonicalJson(manifest.index);

say();
say('### Manifest');
say('```');
say(
  `device public key SPKI (base64url) ${toBase64Url(await exportPublicKeySpki(device.publicKey))}`,
);
say(`device key fingerprint             ${manifest.index.deviceKeyFingerprint}`);
say('canonical index:');
say(fromUtf8(indexBytes));
say(`SHA-256(canonical index)           ${await sha256Hex(indexBytes)}`);
say('sealed plaintext (canonical JSON):');
say(
  fromUtf8(
    canonicalJson({
      fileName: 'demo.iso',
      imageSha256: await sha256Hex(IMAGE),
      size: IMAGE.length,
    }),
  ),
);
say('signed bytes = canonical {type, index, sealed}:');
say(fromUtf8(manifestSignedBytes(manifest)));
say(`manifest hash = SHA-256(signed bytes) ${await manifestHash(manifest)}`);
say(`signature (P1363 r‖s, base64url)      ${manifest.signature}`);
say('```');

const keys = { volumeId: VOLUME_ID, chunkIdKey, dataKeys: new Map([[EPOCH, dataKey]]) };
const escrow = await sealEnvelope(keys, site.publicKey, { purpose: 'escrow' });
const keysFile = await createKeysFile(escrow, site.privateKey, [
  await exportPublicKeySpki(device.publicKey),
]);
say();
say('### Escrow envelope (JWE compact, to the site escrow key)');
say('```');
say(escrow);
say('protected header:');
say(JSON.stringify(decodeProtectedHeader(escrow)));
say('```');
say();
say('### Keys file');
say('```');
say(fromUtf8(keysFile));
say('```');

const receipt = await signReceipt(
  {
    volumeId: VOLUME_ID,
    generation: 1,
    manifestHash: await manifestHash(manifest),
    owner: 'operator',
    restorerListHash: await restorerListHash(['operator', 'restorer']),
    policy: { kind: 'one-time', approvalRequired: false, expiresAt: null },
    counter: '1',
    issuedAt: '2026-11-21T13:31:00.000Z',
    siteId: 'site-demo',
    deviceKeyFingerprint: manifest.index.deviceKeyFingerprint,
    auditChainHead: 'ab'.repeat(32),
  },
  siteSigning.privateKey,
);
say();
say('### Receipt (signed with the example site signing key)');
say('```');
say(fromUtf8(serializeReceipt(receipt)));
say('```');

const body = utf8('{"kind":"epoch-key","epoch":2}');
const padded = padTransfer(body);
say();
say('### Transfer padding');
say('```');
say(
  `body (${body.length} B) → padded ${padded.length} B = CHUNK_SIZE + 16384 = ${paddedTransferSize()}`,
);
say(
  `first bytes ${toHex(padded.subarray(0, 4 + body.length))} then ${padded.length - 4 - body.length} zero bytes`,
);
say('```');

process.stdout.write(`${out.join('\n')}\n`);

const outDir = values['out-dir'];
if (outDir) {
  mkdirSync(path.join(outDir, 'chunks'), { recursive: true });
  writeFileSync(path.join(outDir, 'manifest.json'), serializeManifest(manifest));
  writeFileSync(path.join(outDir, 'keys.json'), keysFile);
  for (const [id, blob] of blobs) writeFileSync(path.join(outDir, 'chunks', id), blob);
}
