/**
 * The crypto core of Custodian: the backup format (docs/FORMAT.md), key
 * envelopes, manifests, receipts and registration files. Isomorphic: it runs
 * in the console, in its workers and in the site (Node 20).
 */

export * from './constants';
export * from './errors';
export {
  bytesEqual,
  concatBytes,
  fromBase64Url,
  fromHex,
  fromUtf8,
  randomBytes,
  sha256,
  sha256Hex,
  toBase64Url,
  toHex,
  utf8,
  wipe,
} from './bytes';
export { canonicalJson, parseJsonBytes, type JsonValue } from './canonical-json';
export * from './keys';
export * from './chunk';
export * from './chunking';
export { ImageHash } from './image-hash';
export * from './device-key';
export * from './format-schemas';
export * from './release-policy';
export * from './manifest-schema';
export * from './manifest';
export * from './restore-verifier';
export * from './volume-move';
export * from './passphrase-key-file';
export {
  ENVELOPE_ALG,
  ENVELOPE_ENC,
  checkEnvelope,
  envelopeContextSchema,
  envelopePurposes,
  openEnvelope,
  readEnvelopeContext,
  rewrapEnvelope,
  sealEnvelope,
  type EnvelopeContext,
  type EnvelopePurpose,
  type ExpectedEnvelopeContext,
  type RecipientKey,
} from './envelope';
export * from './envelope-key';
export * from './volume-keys-payload';
export { createKeysFile } from './keys-file';
export * from './receipt';
export * from './registration';
export * from './site-fingerprint';
export * from './site-credential';
export * from './key-shares';
export * from './bundle';
