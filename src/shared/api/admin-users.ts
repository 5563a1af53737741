import {
  adminUserListSchema,
  adminUserResponseSchema,
  apiRoutes,
  endSessionsResponseSchema,
  passwordResetResponseSchema,
  type AdminUser,
  type CreateUserRequest,
  type EndSessionsResponse,
  type PasswordResetResponse,
  type Role,
} from '@/core/contract';
import { request } from './request';

/** ID-1: accounts as administrators manage them. Every change carries a reason. */
export async function listUsers(): Promise<AdminUser[]> {
  return (await request({ route: apiRoutes.adminListUsers, schema: adminUserListSchema })).users;
}

export async function createUser(body: CreateUserRequest): Promise<AdminUser> {
  return (
    await request({ route: apiRoutes.adminCreateUser, body, schema: adminUserResponseSchema })
  ).user;
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

export async function setRoles(
  userId: string,
  roles: readonly Role[],
  reason: string,
): Promise<AdminUser> {
  return (
    await request({
      route: apiRoutes.adminSetRoles,
      params: { userId },
      body: { roles: [...roles], reason },
      schema: adminUserResponseSchema,
    })
  ).user;
}

export function endSessions(userId: string, reason: string): Promise<EndSessionsResponse> {
  return request({
    route: apiRoutes.adminEndSessions,
    params: { userId },
    body: { reason },
    schema: endSessionsResponseSchema,
  });
}
