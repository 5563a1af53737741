import { z } from 'zod';
import { SITE_CREDENTIAL_PATTERN } from '../crypto/site-credential';

export const roles = ['admin', 'operator', 'restorer'] as const;
export const roleSchema = z.enum(roles);
export type Role = z.infer<typeof roleSchema>;

/** User IDs are short, printable and safe in paths and logs. */
export const userIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-zA-Z0-9._-]+$/, 'letters, digits, dot, underscore and hyphen only');

/**
 * What a console sends in place of a password: the credential derived from
 * it for this site (MS-2, FORMAT.md §15). A site never receives a password.
 */
export const siteCredentialSchema = z
  .string()
  .regex(SITE_CREDENTIAL_PATTERN, 'a site credential: 43 base64url characters (FORMAT.md §15)');

/** Strict: a request that still carries a `password` is refused, not stripped. */
export const loginRequestSchema = z.strictObject({
  userId: z.string().min(1).max(64),
  credential: siteCredentialSchema,
});
export type LoginRequest = z.infer<typeof loginRequestSchema>;

export const sessionInfoSchema = z.object({
  userId: userIdSchema,
  displayName: z.string(),
  roles: z.array(roleSchema),
  mustChangePassword: z.boolean(),
  expiresAt: z.iso.datetime(),
});
export type SessionInfo = z.infer<typeof sessionInfoSchema>;

/**
 * The answer to a sign-in: the session, and for a trusted site's console
 * calling across origins (MS-2) the bearer token it sends from then on in
 * `Authorization: Bearer`. The site's own console gets an HttpOnly cookie
 * instead and never sees its token.
 */
export const signInAnswerSchema = sessionInfoSchema.extend({
  bearerToken: z.string().min(1).max(200).optional(),
});
export type SignInAnswer = z.infer<typeof signInAnswerSchema>;

/** The console checks the new password's rule (password-rules.ts) before it derives. */
export const changePasswordRequestSchema = z.strictObject({
  currentCredential: siteCredentialSchema,
  newCredential: siteCredentialSchema,
});
export type ChangePasswordRequest = z.infer<typeof changePasswordRequestSchema>;

export const okSchema = z.object({ ok: z.literal(true) });
export type Ok = z.infer<typeof okSchema>;

/** A user as administrators see them (never the password verifier). */
export const userSummarySchema = z.object({
  userId: userIdSchema,
  displayName: z.string(),
  roles: z.array(roleSchema),
  disabled: z.boolean(),
  mustChangePassword: z.boolean(),
  createdAt: z.iso.datetime(),
});
export type UserSummary = z.infer<typeof userSummarySchema>;
export const userListSchema = z.object({ users: z.array(userSummarySchema) });
export type UserList = z.infer<typeof userListSchema>;

/** Users with the restorer role, for the restorer picker (BK-4). */
export const restorerListSchema = z.object({
  users: z.array(z.object({ userId: userIdSchema, displayName: z.string() })),
});
export type RestorerList = z.infer<typeof restorerListSchema>;
