/**
 * BK-9 offline registration files (seed 000's card route; docs/FORMAT.md
 * "Registration files"): when the site is unreachable, the operator exports
 * the registration of a generation as a file: its manifest, the escrow
 * record's people and policy, and the keys as a JWE to the site's escrow key,
 * all signed by the device key over RFC 8785 canonical JSON. The file names
 * one site and carries a random ID so that the site can refuse a replay.
 */

import { z } from 'zod';
import { userIdSchema } from '../contract/identity';
import { fromBase64Url, toBase64Url } from './bytes';
import { canonicalJson, parseJsonBytes, type JsonValue } from './canonical-json';
import {
  SIGNATURE_LENGTH,
  exportPublicKeySpki,
  importSigningPublicKeySpki,
  publicKeyFingerprint,
  signBytes,
  verifyBytes,
} from './device-key';
import { checkEnvelope, sealEnvelope, type EnvelopeContext, type RecipientKey } from './envelope';
import { BadSignatureError, CustodianCryptoError, MalformedRegistrationError } from './errors';
import {
  base64UrlBytesSchema,
  base64UrlSchema,
  describeIssues,
  timestampSchema,
  volumeIdSchema,
} from './format-schemas';
import type { VolumeKeys } from './keys';
import { manifestEpochs, verifyManifestSignature } from './manifest';
import { signedManifestSchema, type SignedManifest } from './manifest-schema';
import { releasePolicySchema, type ReleasePolicy } from './release-policy';

export const REGISTRATION_TYPE = 'custodian-registration';

const siteIdSchema = z.string().min(1).max(128);

export const registrationFileSchema = z.strictObject({
  type: z.literal(REGISTRATION_TYPE),
  format: z.literal(1),
  /** Random UUID (RFC 9562 version 4): the site refuses a second import. */
  registrationId: z.uuid(),
  /** The one site that may import the file. */
  siteId: siteIdSchema,
  volumeId: volumeIdSchema,
  owner: userIdSchema,
  /** Restorer IDs; the owner is always one of them (BK-4). */
  restorers: z.array(userIdSchema).min(1).max(10_000),
  policy: releasePolicySchema,
  manifest: signedManifestSchema,
  /** Key envelope to the site's escrow key, purpose "registration". */
  keys: z.string().min(1).max(10_000_000),
  createdAt: timestampSchema,
  /** DER SPKI of the signing device key, base64url. */
  devicePublicKey: base64UrlSchema.min(1).max(1024),
  /** ECDSA P-256 / SHA-256 over the canonical JSON of every other member, P1363, base64url. */
  signature: base64UrlBytesSchema(SIGNATURE_LENGTH),
});
export type RegistrationFile = z.infer<typeof registrationFileSchema>;

export interface CreateRegistrationParams {
  readonly siteId: string;
  readonly owner: string;
  readonly restorers: readonly string[];
  readonly policy: ReleasePolicy;
  readonly manifest: SignedManifest;
  /** The volume's keys, extractable, covering every epoch the manifest uses. */
  readonly keys: VolumeKeys;
  readonly siteEscrowPublicKey: RecipientKey;
  readonly deviceKeyPair: CryptoKeyPair;
  /** Defaults to now. */
  readonly createdAt?: string;
}

function signedPart(file: Omit<RegistrationFile, 'signature'> | RegistrationFile): JsonValue {
  const { signature: _signature, ...rest } = file as RegistrationFile;
  return rest as JsonValue;
}

/** Makes and signs a registration file for one generation. */
export async function createRegistrationFile(
  params: CreateRegistrationParams,
): Promise<RegistrationFile> {
  const volumeId = params.manifest.index.volumeId;
  if (params.keys.volumeId !== volumeId) {
    throw new MalformedRegistrationError(
      'the keys given are for another volume than the manifest.',
    );
  }
  const missing = manifestEpochs(params.manifest).filter((e) => !params.keys.dataKeys.has(e));
  if (missing.length > 0) {
    throw new MalformedRegistrationError(`no data key given for epochs [${missing.join(', ')}].`);
  }
  const registrationId = globalThis.crypto.randomUUID();
  const keys = await sealEnvelope(params.keys, params.siteEscrowPublicKey, {
    purpose: 'registration',
    siteId: params.siteId,
    generation: params.manifest.index.generation,
    requestId: registrationId,
  });
  const spki = await exportPublicKeySpki(params.deviceKeyPair.publicKey);
  const restorers = [...new Set([params.owner, ...params.restorers])].sort();
  const unsigned = {
    type: REGISTRATION_TYPE,
    format: 1,
    registrationId,
    siteId: params.siteId,
    volumeId,
    owner: params.owner,
    restorers,
    policy: params.policy,
    manifest: params.manifest,
    keys,
    createdAt: params.createdAt ?? new Date().toISOString(),
    devicePublicKey: toBase64Url(spki),
  } as const;
  const draft = registrationFileSchema.omit({ signature: true }).safeParse(unsigned);
  if (!draft.success) {
    throw new MalformedRegistrationError(describeIssues(draft.error));
  }
  const signature = await signBytes(
    params.deviceKeyPair.privateKey,
    canonicalJson(signedPart(draft.data)),
  );
  return { ...draft.data, signature: toBase64Url(signature) };
}

/** The file's content: canonical JSON. */
export function serializeRegistrationFile(file: RegistrationFile): Uint8Array<ArrayBuffer> {
  return canonicalJson(file as JsonValue);
}

/** Parses a registration file (bytes, JSON text or a parsed value) without verifying it. */
export function parseRegistrationFile(input: Uint8Array | string | unknown): RegistrationFile {
  let value: unknown = input;
  try {
    if (input instanceof Uint8Array) value = parseJsonBytes(input);
    else if (typeof input === 'string') value = JSON.parse(input);
  } catch (cause) {
    throw new MalformedRegistrationError('it is not valid UTF-8 JSON.', { cause });
  }
  const result = registrationFileSchema.safeParse(value);
  if (!result.success) {
    throw new MalformedRegistrationError(describeIssues(result.error));
  }
  return result.data;
}

export interface OpenedRegistration {
  readonly registration: RegistrationFile;
  readonly manifest: SignedManifest;
  /** The verified device key, for the site to match against the owner's registered keys (ID-6). */
  readonly devicePublicKey: CryptoKey;
  readonly deviceKeyFingerprint: string;
  /** Authenticated context of `registration.keys`. */
  readonly keysContext: EnvelopeContext;
}

/**
 * ES-3/BK-9 import at the site: checks structure, that the file is meant
 * for this site, the device signature over the file and the manifest, and
 * that the key envelope opens with the site's escrow key and covers every
 * epoch of the manifest. Refusing a second import of the same registrationId
 * and re-running the owner check (BK-3) are the site's job.
 */
export async function openRegistrationFile(
  input: Uint8Array | string | unknown,
  siteId: string,
  sitePrivateKey: CryptoKey,
): Promise<OpenedRegistration> {
  const file = parseRegistrationFile(input);
  if (file.siteId !== siteId) {
    throw new MalformedRegistrationError(
      `it was made for site ${file.siteId}, not for this site (${siteId}).`,
    );
  }
  if (!file.restorers.includes(file.owner)) {
    throw new MalformedRegistrationError('its owner is not among its restorers.');
  }
  if (file.manifest.index.volumeId !== file.volumeId) {
    throw new MalformedRegistrationError('its manifest is for another volume.');
  }
  let devicePublicKey: CryptoKey;
  try {
    devicePublicKey = await importSigningPublicKeySpki(fromBase64Url(file.devicePublicKey));
  } catch (cause) {
    throw new MalformedRegistrationError('its device public key is not a P-256 key.', { cause });
  }
  const ok = await verifyBytes(
    devicePublicKey,
    fromBase64Url(file.signature),
    canonicalJson(signedPart(file)),
  );
  if (!ok) throw new BadSignatureError('registration file');
  await verifyManifestSignature(file.manifest, devicePublicKey);

  const epochs = manifestEpochs(file.manifest);
  let keysContext: EnvelopeContext;
  try {
    keysContext = await checkEnvelope(file.keys, sitePrivateKey, {
      purpose: 'registration',
      volumeId: file.volumeId,
      siteId,
      requestId: file.registrationId,
      generation: file.manifest.index.generation,
    });
  } catch (cause) {
    if (cause instanceof CustodianCryptoError && cause.code === 'wrong_key') throw cause;
    throw new MalformedRegistrationError(
      cause instanceof Error ? `its keys: ${cause.message}` : 'its keys cannot be read.',
      { cause },
    );
  }
  const missing = epochs.filter((e) => !keysContext.epochs.includes(e));
  if (missing.length > 0) {
    throw new MalformedRegistrationError(`its keys lack the epochs [${missing.join(', ')}].`);
  }
  return {
    registration: file,
    manifest: file.manifest,
    devicePublicKey,
    deviceKeyFingerprint: await publicKeyFingerprint(devicePublicKey),
    keysContext,
  };
}
