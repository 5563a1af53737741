/**
 * BK-10 receipts (seed 004's registration certificate; docs/FORMAT.md
 * "Receipts"): a statement by the site that a generation and its escrow
 * record were registered, signed with the site's ECDSA P-256 key over the
 * statement's RFC 8785 canonical JSON (P1363 r ‖ s signature).
 */

import { z } from 'zod';
import { userIdSchema } from '../contract/identity';
import { fromBase64Url, fromUtf8, sha256Hex, toBase64Url } from './bytes';
import { canonicalJson, parseJsonBytes, type JsonValue } from './canonical-json';
import { SIGNATURE_LENGTH, signBytes, verifyBytes } from './device-key';
import { BadSignatureError, MalformedReceiptError, ReceiptMismatchError } from './errors';
import {
  base64UrlBytesSchema,
  describeIssues,
  generationSchema,
  hex256Schema,
  timestampSchema,
  volumeIdSchema,
} from './format-schemas';
import { releasePolicySchema } from './release-policy';

export const RECEIPT_TYPE = 'custodian-receipt';

/**
 * The site's registration counter, as a decimal string so it can grow past
 * 2^53 and never wraps.
 */
export const receiptCounterSchema = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, 'expected a decimal counter without leading zeros');

export const receiptStatementSchema = z.strictObject({
  type: z.literal(RECEIPT_TYPE),
  format: z.literal(1),
  volumeId: volumeIdSchema,
  generation: generationSchema,
  /** manifestHash() of the registered generation. */
  manifestHash: hex256Schema,
  owner: userIdSchema,
  /** restorerListHash() of the restorer IDs of the escrow record. */
  restorerListHash: hex256Schema,
  policy: releasePolicySchema,
  counter: receiptCounterSchema,
  issuedAt: timestampSchema,
  siteId: z.string().min(1).max(128),
  /** Fingerprint of the device key that signed the manifest (ID-6). */
  deviceKeyFingerprint: hex256Schema,
  /** Head of the site's audit chain after the registration (AL-4). */
  auditChainHead: hex256Schema,
});
export type ReceiptStatement = z.infer<typeof receiptStatementSchema>;

export const receiptSchema = z.strictObject({
  statement: receiptStatementSchema,
  signature: base64UrlBytesSchema(SIGNATURE_LENGTH),
});
export type Receipt = z.infer<typeof receiptSchema>;

/**
 * SHA-256 (hex) of the canonical JSON array of restorer IDs, sorted by UTF-16
 * code units and without duplicates: one hash per set of people.
 */
export async function restorerListHash(ids: readonly string[]): Promise<string> {
  const sorted = [...new Set(ids)].sort();
  return sha256Hex(canonicalJson(sorted));
}

/** The site signs a statement (the `type` and `format` members are added here). */
export async function signReceipt(
  statement: Omit<ReceiptStatement, 'type' | 'format'>,
  siteSigningKey: CryptoKey,
): Promise<Receipt> {
  const result = receiptStatementSchema.safeParse({ ...statement, type: RECEIPT_TYPE, format: 1 });
  if (!result.success) {
    throw new MalformedReceiptError(describeIssues(result.error));
  }
  const signature = await signBytes(siteSigningKey, canonicalJson(result.data as JsonValue));
  return { statement: result.data, signature: toBase64Url(signature) };
}

/** The stored and exported form of a receipt: canonical JSON. */
export function serializeReceipt(receipt: Receipt): Uint8Array<ArrayBuffer> {
  return canonicalJson(receipt as JsonValue);
}

/** Parses a receipt (bytes, JSON text or a parsed value) without verifying it. */
export function parseReceipt(input: Uint8Array | string | unknown): Receipt {
  let value: unknown = input;
  try {
    if (input instanceof Uint8Array) value = parseJsonBytes(input);
    else if (typeof input === 'string') value = JSON.parse(input);
  } catch (cause) {
    throw new MalformedReceiptError('it is not valid UTF-8 JSON.', { cause });
  }
  const result = receiptSchema.safeParse(value);
  if (!result.success) {
    throw new MalformedReceiptError(describeIssues(result.error));
  }
  return result.data;
}

/** Members the client knows before the site answers, to compare with the receipt. */
export type ExpectedReceipt = Partial<Omit<ReceiptStatement, 'type' | 'format'>>;

/**
 * BK-10: checks a receipt's structure, the site's signature and that it says
 * what the client registered. Returns the verified statement.
 */
export async function verifyReceipt(
  input: Receipt | Uint8Array | string | unknown,
  sitePublicKey: CryptoKey,
  expected: ExpectedReceipt = {},
): Promise<ReceiptStatement> {
  const receipt = parseReceipt(input);
  const ok = await verifyBytes(
    sitePublicKey,
    fromBase64Url(receipt.signature),
    canonicalJson(receipt.statement as JsonValue),
  );
  if (!ok) throw new BadSignatureError('receipt');
  const statement = receipt.statement;
  for (const [field, want] of Object.entries(expected)) {
    if (want === undefined) continue;
    const got = statement[field as keyof ReceiptStatement];
    const same =
      typeof want === 'object' && want !== null
        ? canonicalText(got) === canonicalText(want)
        : got === want;
    if (!same) {
      throw new ReceiptMismatchError(
        field,
        `its ${field} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}.`,
      );
    }
  }
  return statement;
}

/** Compares objects (the policy) by their canonical form. */
function canonicalText(value: unknown): string {
  return fromUtf8(canonicalJson(value as JsonValue));
}
