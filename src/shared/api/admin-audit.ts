import {
  apiRoutes,
  auditPageSchema,
  auditVerificationSchema,
  type AuditFilter,
  type AuditPage,
  type AuditQuery,
  type AuditVerification,
} from '@/core/contract';
import { buildUrl, request } from './request';

/** AL-4: one page of the audit log, newest first. */
export function listAudit(query: Partial<AuditQuery>, signal?: AbortSignal): Promise<AuditPage> {
  return request({ route: apiRoutes.adminListAudit, query, schema: auditPageSchema, signal });
}

/** Walks the whole HMAC chain on the site and names the first broken entry. */
export function verifyAuditChain(): Promise<AuditVerification> {
  return request({ route: apiRoutes.adminVerifyAudit, schema: auditVerificationSchema });
}

export function auditExportUrl(filter: AuditFilter, format: 'csv' | 'json'): string {
  return buildUrl(apiRoutes.adminExportAudit.path, {}, { ...filter, format });
}
