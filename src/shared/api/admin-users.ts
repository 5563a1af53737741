import {
  adminUserListSchema,
  adminUserResponseSchema,
  apiRoutes,
  endSessionsResponseSchema,
  passwordResetResponseSchema,
  roleGrantDecisionSchema,
  roleGrantListSchema,
  type AdminUser,
  type AdminUserResponse,
  type CreateUserRequest,
  type EndSessionsResponse,
  type PasswordResetResponse,
  type Role,
  type RoleGrant,
  type RoleGrantDecision,
} from '@/core/contract';
import { request } from './request';

/** ID-1: accounts as administrators manage them. Every change carries a reason. */
export async function listUsers(): Promise<AdminUser[]> {
  return (await request({ route: apiRoutes.adminListUsers, schema: adminUserListSchema })).users;
}

/** The answer names a `pendingGrant` when the admin role waits for a second administrator. */
export function createUser(body: CreateUserRequest): Promise<AdminUserResponse> {
  return request({ route: apiRoutes.adminCreateUser, body, schema: adminUserResponseSchema });
}

export async function setUserDisabled(
  userId: string,
  disabled: boolean,
  reason: string,
): Promise<AdminUser> {
  const route = disabled ? apiRoutes.adminDisableUser : apiRoutes.adminEnableUser;
  return (
    await request({ route, params: { userId }, body: { reason }, schema: adminUserResponseSchema })
  ).user;
}

export function resetPassword(userId: string, reason: string): Promise<PasswordResetResponse> {
  return request({
    route: apiRoutes.adminResetPassword,
    params: { userId },
    body: { reason },
    schema: passwordResetResponseSchema,
  });
}

/** The answer names a `pendingGrant` when the admin role waits for a second administrator. */
export function setRoles(
  userId: string,
  roles: readonly Role[],
  reason: string,
): Promise<AdminUserResponse> {
  return request({
    route: apiRoutes.adminSetRoles,
    params: { userId },
    body: { roles: [...roles], reason },
    schema: adminUserResponseSchema,
  });
}

/** Administrator roles waiting for a second administrator's confirmation. */
export async function listRoleGrants(): Promise<RoleGrant[]> {
  return (await request({ route: apiRoutes.adminListRoleGrants, schema: roleGrantListSchema }))
    .grants;
}

export function decideRoleGrant(
  grantId: string,
  approve: boolean,
  reason: string,
): Promise<RoleGrantDecision> {
  return request({
    route: apiRoutes.adminDecideRoleGrant,
    params: { grantId },
    body: { approve, reason },
    schema: roleGrantDecisionSchema,
  });
}

export function endSessions(userId: string, reason: string): Promise<EndSessionsResponse> {
  return request({
    route: apiRoutes.adminEndSessions,
    params: { userId },
    body: { reason },
    schema: endSessionsResponseSchema,
  });
}
