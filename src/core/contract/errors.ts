import { z } from 'zod';

/**
 * Every error the site returns has a stable `code` (for programs and for the
 * console's translations) and a human `message` (English, for logs and for
 * clients without a translation). Never a stack trace.
 */
export const apiErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ApiErrorBody = z.infer<typeof apiErrorSchema>;

/** Codes the console knows how to explain in every language. */
export const errorCodes = [
  'unauthorized_user',
  'locked_out',
  'not_signed_in',
  'session_expired',
  'forbidden',
  'csrf_required',
  'invalid_request',
  'malformed_json',
  'body_too_large',
  'unsupported_media_type',
  'not_found',
  'weak_password',
  'wrong_password',
  'password_change_required',
  'network_error',
  'timeout',
  'server_error',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

/** The header every state-changing call must carry (CSRF, with SameSite=Strict). */
export const CSRF_HEADER = 'x-custodian-csrf';
export const CSRF_HEADER_VALUE = '1';
