/**
 * Key envelopes (BK-8, RS-2, BK-9; docs/FORMAT.md "Key envelopes"): the keys
 * of a volume as a JWE in Compact Serialization (RFC 7516 §7.1), key agreement
 * ECDH-ES+A256KW on P-256 (RFC 7518 §4.6) and content encryption A256GCM
 * (RFC 7518 §5.3), through `jose`. The context travels in the protected header,
 * which A256GCM authenticates (RFC 7516 §5.1 step 14), and is checked on
 * opening. Works in browsers and in Node 20 (globalThis.crypto).
 */

import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, errors as joseErrors } from 'jose';
import { z } from 'zod';
import { canonicalJson, parseJsonBytes, type JsonValue } from './canonical-json';
import {
  EnvelopeContextError,
  MalformedEnvelopeError,
  MalformedKeyError,
  WrongKeyError,
} from './errors';
import { epochSchema, generationSchema, volumeIdSchema, describeIssues } from './format-schemas';
import { exportRawKey, importChunkIdKey, importDataKey, type VolumeKeys } from './keys';
import {
  envelopePayloadSchema,
  type EnvelopePayload,
  type VolumeKeysPayload,
} from './volume-keys-payload';
import { fromBase64Url, toBase64Url, wipe } from './bytes';

export const ENVELOPE_ALG = 'ECDH-ES+A256KW';
export const ENVELOPE_ENC = 'A256GCM';

export const envelopePurposes = ['escrow', 'release', 'registration', 'move'] as const;
export type EnvelopePurpose = (typeof envelopePurposes)[number];

/** Protected-header members that say what an envelope is for. */
export const envelopeContextSchema = z.strictObject({
  purpose: z.enum(envelopePurposes),
  volumeId: volumeIdSchema,
  /** Epochs whose data keys are inside, ascending, no duplicates. */
  epochs: z.array(epochSchema).max(1_000_000),
  /** Generation the keys are released for (release). */
  generation: generationSchema.optional(),
  /** Key-release request the envelope answers (RS-2, RS-3). */
  requestId: z.string().min(1).max(128).optional(),
  /** Site the envelope is addressed to (registration, BK-9). */
  siteId: z.string().min(1).max(128).optional(),
});
export type EnvelopeContext = z.infer<typeof envelopeContextSchema>;

/** What the opener requires; members left out are not checked. */
export type ExpectedEnvelopeContext = Partial<Omit<EnvelopeContext, 'purpose'>> & {
  purpose: EnvelopePurpose | readonly EnvelopePurpose[];
};

/** An ECDH P-256 public key as a CryptoKey or a public JWK. */
export type RecipientKey = CryptoKey | JsonWebKey;

const CONTEXT_MEMBERS = ['purpose', 'volumeId', 'epochs', 'generation', 'requestId', 'siteId'];

/** The context with its epochs sorted and once each; throws MalformedEnvelopeError if invalid. */
export function normaliseContext(context: EnvelopeContext): EnvelopeContext {
  const epochs = [...new Set(context.epochs)].sort((a, b) => a - b);
  const result = envelopeContextSchema.safeParse({ ...context, epochs });
  if (!result.success) {
    throw new MalformedEnvelopeError(`invalid context: ${describeIssues(result.error)}`);
  }
  return result.data;
}

function recipientKeyInput(recipient: RecipientKey): CryptoKey | JsonWebKey {
  if (recipient instanceof CryptoKey) {
    const algorithm = recipient.algorithm as KeyAlgorithm & { namedCurve?: string };
    if (
      recipient.type !== 'public' ||
      algorithm.name !== 'ECDH' ||
      algorithm.namedCurve !== 'P-256'
    ) {
      throw new MalformedKeyError('an envelope recipient must be an ECDH P-256 public key.');
    }
    return recipient;
  }
  if (recipient.kty !== 'EC' || recipient.crv !== 'P-256' || !recipient.x || !recipient.y) {
    throw new MalformedKeyError('an envelope recipient must be a P-256 public JWK.');
  }
  return { kty: 'EC', crv: 'P-256', x: recipient.x, y: recipient.y };
}

/** Encrypts a payload to the recipient; wipes nothing (the caller owns `payload`). */
export async function encryptPayload(
  payload: Uint8Array,
  recipient: RecipientKey,
  context: EnvelopeContext,
): Promise<string> {
  const key = recipientKeyInput(recipient);
  try {
    return await new CompactEncrypt(payload)
      .setProtectedHeader({ alg: ENVELOPE_ALG, enc: ENVELOPE_ENC, ...context })
      .encrypt(key);
  } catch (cause) {
    throw new MalformedKeyError('the recipient key cannot be used for ECDH-ES on P-256.', {
      cause,
    });
  }
}

/** Raw payload of an envelope, after context checks. The caller wipes `bytes`. */
export interface OpenedPayload {
  readonly context: EnvelopeContext;
  readonly payload: EnvelopePayload;
  readonly bytes: Uint8Array;
}

/** The context of an envelope, read without decrypting (NOT authenticated). */
export function readEnvelopeContext(jwe: string): EnvelopeContext {
  if (typeof jwe !== 'string' || jwe.split('.').length !== 5) {
    throw new MalformedEnvelopeError('it is not a JWE in compact serialization (five parts).');
  }
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jwe) as Record<string, unknown>;
  } catch (cause) {
    throw new MalformedEnvelopeError('its protected header is not base64url JSON.', { cause });
  }
  if (header.alg !== ENVELOPE_ALG || header.enc !== ENVELOPE_ENC) {
    throw new MalformedEnvelopeError(
      `it uses alg ${String(header.alg)} / enc ${String(header.enc)}, expected ${ENVELOPE_ALG} / ${ENVELOPE_ENC}.`,
    );
  }
  const members = Object.fromEntries(
    Object.entries(header).filter(([name]) => CONTEXT_MEMBERS.includes(name)),
  );
  const result = envelopeContextSchema.safeParse(members);
  if (!result.success) {
    throw new MalformedEnvelopeError(`its context is invalid: ${describeIssues(result.error)}`);
  }
  return result.data;
}

/**
 * Decrypts an envelope and checks its context and payload, returning the
 * payload as parsed JSON and as bytes. Key material is in both: the caller
 * must wipe `bytes` and drop `payload` at once (keys-file export only).
 */
export async function openEnvelopePayload(
  jwe: string,
  privateKey: CryptoKey,
  expected: ExpectedEnvelopeContext,
): Promise<OpenedPayload> {
  readEnvelopeContext(jwe);
  let plaintext: Uint8Array;
  let header: Record<string, unknown>;
  try {
    const result = await compactDecrypt(jwe, privateKey, {
      keyManagementAlgorithms: [ENVELOPE_ALG],
      contentEncryptionAlgorithms: [ENVELOPE_ENC],
    });
    plaintext = result.plaintext;
    header = result.protectedHeader as Record<string, unknown>;
  } catch (cause) {
    if (cause instanceof joseErrors.JWEDecryptionFailed) throw new WrongKeyError('key envelope');
    if (cause instanceof TypeError || cause instanceof joseErrors.JOSENotSupported) {
      throw new MalformedKeyError('the private key cannot open ECDH-ES envelopes on P-256.', {
        cause,
      });
    }
    throw new MalformedEnvelopeError(cause instanceof Error ? cause.message : 'cannot be read.', {
      cause,
    });
  }
  try {
    // The header is authenticated now: read the context again from it.
    const context = envelopeContextSchema.parse(
      Object.fromEntries(Object.entries(header).filter(([name]) => CONTEXT_MEMBERS.includes(name))),
    );
    checkContext(context, expected);
    let value: unknown;
    try {
      value = parseJsonBytes(plaintext);
    } catch (cause) {
      throw new MalformedEnvelopeError('its payload is not JSON.', { cause });
    }
    const parsed = envelopePayloadSchema.safeParse(value);
    if (!parsed.success) {
      throw new MalformedEnvelopeError(`its payload is invalid: ${describeIssues(parsed.error)}`);
    }
    const payload = parsed.data;
    if (payload.volumeId !== context.volumeId) {
      throw new MalformedEnvelopeError('its payload is for another volume than its header says.');
    }
    const payloadEpochs = payload.dataKeys.map((k) => k.epoch).join(',');
    if (payloadEpochs !== context.epochs.join(',')) {
      throw new MalformedEnvelopeError('its payload holds other epochs than its header says.');
    }
    return { context, payload, bytes: plaintext };
  } catch (error) {
    wipe(plaintext);
    throw error;
  }
}

function checkContext(actual: EnvelopeContext, expected: ExpectedEnvelopeContext): void {
  const purposes: readonly EnvelopePurpose[] =
    typeof expected.purpose === 'string' ? [expected.purpose] : expected.purpose;
  if (!purposes.includes(actual.purpose)) {
    throw new EnvelopeContextError(
      `its purpose is ${actual.purpose}, expected ${purposes.join(' or ')}.`,
    );
  }
  if (expected.volumeId !== undefined && actual.volumeId !== expected.volumeId) {
    throw new EnvelopeContextError(
      `it holds the keys of volume ${actual.volumeId}, expected ${expected.volumeId}.`,
    );
  }
  if (expected.epochs !== undefined) {
    const want = [...new Set(expected.epochs)].sort((a, b) => a - b).join(',');
    if (actual.epochs.join(',') !== want) {
      throw new EnvelopeContextError(
        `it holds epochs [${actual.epochs.join(', ')}], expected [${want}].`,
      );
    }
  }
  for (const member of ['generation', 'requestId', 'siteId'] as const) {
    if (expected[member] !== undefined && actual[member] !== expected[member]) {
      throw new EnvelopeContextError(
        `its ${member} is ${String(actual[member])}, expected ${String(expected[member])}.`,
      );
    }
  }
}

/**
 * Seals the keys of a volume to a recipient (BK-8: the site's escrow key).
 * Keys must be extractable; their raw bytes are wiped after encryption.
 * The context's volumeId and epochs are taken from `keys`.
 */
export async function sealEnvelope(
  keys: VolumeKeys,
  recipient: RecipientKey,
  context: Omit<EnvelopeContext, 'volumeId' | 'epochs'>,
): Promise<string> {
  const raw: Uint8Array[] = [];
  let payloadBytes: Uint8Array | undefined;
  try {
    const chunkIdKey = await exportRawKey(keys.chunkIdKey);
    raw.push(chunkIdKey);
    const dataKeys: { epoch: number; key: string }[] = [];
    for (const [epoch, key] of [...keys.dataKeys].sort(([a], [b]) => a - b)) {
      const bytes = await exportRawKey(key);
      raw.push(bytes);
      dataKeys.push({ epoch, key: toBase64Url(bytes) });
    }
    const full = normaliseContext({
      ...context,
      volumeId: keys.volumeId,
      epochs: dataKeys.map((k) => k.epoch),
    });
    payloadBytes = canonicalJson({
      type: 'custodian-volume-keys',
      format: 1,
      volumeId: keys.volumeId,
      chunkIdKey: toBase64Url(chunkIdKey),
      dataKeys,
    } satisfies VolumeKeysPayload as JsonValue);
    return await encryptPayload(payloadBytes, recipient, full);
  } finally {
    raw.forEach(wipe);
    wipe(payloadBytes);
  }
}

/**
 * Opens an envelope with the recipient's private key and imports the keys
 * (non-extractable unless asked). Throws WrongKeyError if the key does not
 * open it, EnvelopeContextError if it was made for something else,
 * MalformedEnvelopeError if it is not a Custodian key envelope.
 */
export async function openEnvelope(
  jwe: string,
  privateKey: CryptoKey,
  expected: ExpectedEnvelopeContext,
  options: { extractable?: boolean } = {},
): Promise<{ context: EnvelopeContext; keys: VolumeKeys }> {
  const opened = await openEnvelopePayload(jwe, privateKey, expected);
  try {
    if (opened.payload.type !== 'custodian-volume-keys') {
      throw new MalformedEnvelopeError(
        "it holds one site's shares of the keys, not the keys: combine it with the other sites' shares.",
      );
    }
    const chunkIdKey = await importChunkIdKey(fromBase64Url(opened.payload.chunkIdKey), options);
    const dataKeys = new Map<number, CryptoKey>();
    for (const { epoch, key } of opened.payload.dataKeys) {
      dataKeys.set(epoch, await importDataKey(fromBase64Url(key), options));
    }
    return {
      context: opened.context,
      keys: { volumeId: opened.payload.volumeId, chunkIdKey, dataKeys },
    };
  } finally {
    wipe(opened.bytes);
  }
}

/**
 * Checks that an envelope opens with `privateKey` and matches `expected`,
 * without importing the keys (the site uses it on import, BK-9).
 */
export async function checkEnvelope(
  jwe: string,
  privateKey: CryptoKey,
  expected: ExpectedEnvelopeContext,
): Promise<EnvelopeContext> {
  const opened = await openEnvelopePayload(jwe, privateKey, expected);
  wipe(opened.bytes);
  return opened.context;
}

/**
 * The site's re-wrap (RS-2): opens an escrow or registration envelope with
 * the site's private key and seals the same keys to `recipient` under
 * `newContext`. The new epochs must be a subset of the envelope's; only those
 * data keys are passed on. Nothing is imported; the plaintext is wiped.
 */
export async function rewrapEnvelope(
  jwe: string,
  sitePrivateKey: CryptoKey,
  recipient: RecipientKey,
  newContext: EnvelopeContext,
  expectedSource: ExpectedEnvelopeContext = {
    purpose: ['escrow', 'registration'],
    volumeId: newContext.volumeId,
  },
): Promise<string> {
  const target = normaliseContext(newContext);
  const opened = await openEnvelopePayload(jwe, sitePrivateKey, expectedSource);
  let payloadBytes: Uint8Array | undefined;
  try {
    if (target.volumeId !== opened.context.volumeId) {
      throw new EnvelopeContextError('a re-wrap cannot change the volume.');
    }
    const missing = target.epochs.filter((e) => !opened.context.epochs.includes(e));
    if (missing.length > 0) {
      throw new EnvelopeContextError(`it holds no data key for epochs [${missing.join(', ')}].`);
    }
    payloadBytes = canonicalJson({
      ...opened.payload,
      dataKeys: opened.payload.dataKeys.filter((k) => target.epochs.includes(k.epoch)),
    } as JsonValue);
    return await encryptPayload(payloadBytes, recipient, target);
  } finally {
    wipe(opened.bytes);
    wipe(payloadBytes);
  }
}
