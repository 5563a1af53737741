import {
  apiRoutes,
  okSchema,
  sessionInfoSchema,
  type ChangePasswordRequest,
  type LoginRequest,
  type Ok,
  type SessionInfo,
} from '@/core/contract';
import { request } from './request';

export function login(body: LoginRequest): Promise<SessionInfo> {
  return request({ route: apiRoutes.login, body, schema: sessionInfoSchema });
}

export function logout(): Promise<Ok> {
  return request({ route: apiRoutes.logout, schema: okSchema });
}

export function fetchSession(): Promise<SessionInfo> {
  return request({ route: apiRoutes.session, schema: sessionInfoSchema });
}

export function changePassword(body: ChangePasswordRequest): Promise<Ok> {
  return request({ route: apiRoutes.changePassword, body, schema: okSchema });
}
