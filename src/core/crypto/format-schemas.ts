/**
 * Zod schemas for the small values every document of the format shares
 * (docs/FORMAT.md "Conventions"). Documents built from them are strict:
 * unknown members are refused rather than ignored, so that what was signed
 * is exactly what is read.
 */

import { z } from 'zod';
import { fromBase64Url, utf8 } from './bytes';
import { MAX_EPOCH, MAX_VOLUME_ID_BYTES } from './constants';

/** SHA-256 or HMAC-SHA-256 output: 64 lower-case hex digits. */
export const hex256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits');

/** base64url without padding (RFC 4648 §5), in its one canonical spelling. */
export const base64UrlSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]*$/, 'expected base64url text')
  .refine(isCanonicalBase64Url, 'expected base64url text without padding or stray bits');

function isCanonicalBase64Url(text: string): boolean {
  try {
    fromBase64Url(text);
    return true;
  } catch {
    return false;
  }
}

/** Exactly `bytes` bytes as base64url without padding. */
export function base64UrlBytesSchema(bytes: number) {
  return base64UrlSchema.length(Math.ceil((bytes * 4) / 3), `expected ${bytes} bytes of base64url`);
}

/** A volume ID as detected from the image (SPEC §2): 1..1024 bytes of UTF-8. */
export const volumeIdSchema = z
  .string()
  .min(1)
  .refine((id) => utf8(id).length <= MAX_VOLUME_ID_BYTES, {
    message: `at most ${MAX_VOLUME_ID_BYTES} bytes of UTF-8`,
  });

/** Key epochs are u32 (RC-4). */
export const epochSchema = z.number().int().min(0).max(MAX_EPOCH);

/** A generation number, 1..n (SPEC §2). */
export const generationSchema = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** RFC 3339 UTC timestamp, as Date.prototype.toISOString() writes it. */
export const timestampSchema = z.iso.datetime();

/** Describes zod issues in one English sentence fragment, e.g. `index.chunks[2].length: too big`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const path = issue.path.length === 0 ? '(top level)' : formatPath(issue.path);
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}
