import {
  apiRoutes,
  mailSettingsSchema,
  testMailResponseSchema,
  type MailSettings,
  type TestMailResponse,
} from '@/core/contract';
import { request } from './request';

/** AL-3: the SMTP settings in effect (never the password). */
export function fetchMailSettings(): Promise<MailSettings> {
  return request({ route: apiRoutes.adminMailSettings, schema: mailSettingsSchema });
}

export function sendTestMail(): Promise<TestMailResponse> {
  return request({ route: apiRoutes.adminSendTestMail, schema: testMailResponseSchema });
}
