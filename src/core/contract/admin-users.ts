import { z } from 'zod';
import { roleSchema, siteCredentialSchema, userIdSchema, userSummarySchema } from './identity';

/**
 * User administration (ID-1) and the site's mail settings, as the
 * administrators' console sees them. Every change carries a reason that the
 * audit log keeps (AL-4); the site refuses a blank one.
 */
export const REASON_MAX_LENGTH = 500;
export const changeReasonSchema = z.string().max(REASON_MAX_LENGTH);

/** A user as administrators see them, with their sessions still alive. */
export const adminUserSchema = userSummarySchema.extend({
  activeSessions: z.number().int().nonnegative(),
});
export type AdminUser = z.infer<typeof adminUserSchema>;
export const adminUserListSchema = z.object({ users: z.array(adminUserSchema) });
export type AdminUserList = z.infer<typeof adminUserListSchema>;

/** At least one role, each named once. */
export const roleListSchema = z
  .array(roleSchema)
  .min(1, 'give the user at least one role')
  .max(3)
  .refine((list) => new Set(list).size === list.length, 'name each role once');

export const createUserRequestSchema = z.strictObject({
  userId: userIdSchema,
  displayName: z.string().trim().min(1).max(100),
  roles: roleListSchema,
  /**
   * The credential of the initial password the administrator typed, derived
   * for this site (MS-2); the console checked the password's rule first.
   */
  initialCredential: siteCredentialSchema,
  reason: changeReasonSchema,
});
export type CreateUserRequest = z.infer<typeof createUserRequestSchema>;

/** Disable, enable, reset password and end sessions need only a reason. */
export const userChangeRequestSchema = z.object({ reason: changeReasonSchema });
export type UserChangeRequest = z.infer<typeof userChangeRequestSchema>;

export const setRolesRequestSchema = z.object({
  roles: roleListSchema,
  reason: changeReasonSchema,
});
export type SetRolesRequest = z.infer<typeof setRolesRequestSchema>;

export const userPathSchema = z.object({ userId: userIdSchema });

/**
 * A role that waits for a second administrator (ID-1, ES-2): giving the
 * admin role takes effect only when a different administrator, one who held
 * the role when it was asked for, confirms it.
 */
export const roleGrantSchema = z.object({
  id: z.string(),
  userId: userIdSchema,
  role: roleSchema,
  requestedBy: z.string(),
  requestedAt: z.iso.datetime(),
  reason: z.string(),
});
export type RoleGrant = z.infer<typeof roleGrantSchema>;
export const roleGrantListSchema = z.object({ grants: z.array(roleGrantSchema) });
export type RoleGrantList = z.infer<typeof roleGrantListSchema>;

export const decideRoleGrantRequestSchema = z.object({
  approve: z.boolean(),
  reason: changeReasonSchema,
});
export type DecideRoleGrantRequest = z.infer<typeof decideRoleGrantRequestSchema>;
export const roleGrantPathSchema = z.object({ grantId: z.string().min(1).max(64) });

export const roleGrantDecisionSchema = z.object({
  grant: roleGrantSchema,
  state: z.enum(['confirmed', 'refused']),
  user: adminUserSchema,
});
export type RoleGrantDecision = z.infer<typeof roleGrantDecisionSchema>;

/** Creating a user or setting roles: `pendingGrant` when the admin role waits for confirmation. */
export const adminUserResponseSchema = z.object({
  user: adminUserSchema,
  pendingGrant: roleGrantSchema.optional(),
});
export type AdminUserResponse = z.infer<typeof adminUserResponseSchema>;

/** The temporary password is shown once and never stored in clear. */
export const passwordResetResponseSchema = z.object({
  user: adminUserSchema,
  temporaryPassword: z.string().min(1),
});
export type PasswordResetResponse = z.infer<typeof passwordResetResponseSchema>;

export const endSessionsResponseSchema = z.object({
  user: adminUserSchema,
  ended: z.number().int().nonnegative(),
});
export type EndSessionsResponse = z.infer<typeof endSessionsResponseSchema>;

/**
 * The SMTP settings in effect for alert mail (AL-3), read-only. The SMTP
 * password is never sent, only whether one is set.
 */
export const mailSettingsSchema = z.discriminatedUnion('configured', [
  z.object({ configured: z.literal(false) }),
  z.object({
    configured: z.literal(true),
    host: z.string(),
    port: z.number().int().positive(),
    /** SMTPS (TLS from the first byte) rather than plain SMTP with STARTTLS if offered. */
    secure: z.boolean(),
    username: z.string().nullable(),
    passwordSet: z.boolean(),
    from: z.string(),
    to: z.array(z.string()),
    burstWindowSeconds: z.number().int().positive(),
  }),
]);
export type MailSettings = z.infer<typeof mailSettingsSchema>;

export const testMailResponseSchema = z.object({ sent: z.literal(true), to: z.array(z.string()) });
export type TestMailResponse = z.infer<typeof testMailResponseSchema>;
