import {
  apiRoutes,
  approvalSchema,
  escrowRecordSchema,
  importRegistrationResponseSchema,
  recordDetailSchema,
  recordPageSchema,
  type Approval,
  type EscrowRecord,
  type ManualRegistrationRequest,
  type RecordDetail,
  type RecordFilter,
  type RecordPage,
  type RecordQuery,
} from '@/core/contract';
import type { RegistrationFile } from '@/core/crypto/registration';
import { buildUrl, request } from './request';

/** ES-1: one page of the restorer DB, searched, filtered and sorted by the site. */
export function listRecords(
  query: Partial<RecordQuery>,
  signal?: AbortSignal,
): Promise<RecordPage> {
  return request({ route: apiRoutes.adminListRecords, query, schema: recordPageSchema, signal });
}

/** ES-1: where every matching record downloads from, as CSV or JSON. */
export function recordsExportUrl(filter: Partial<RecordFilter>, format: 'csv' | 'json'): string {
  return buildUrl(apiRoutes.adminExportRecords.path, {}, { ...filter, format });
}

/** A record with its generations, receipts and release history (row detail). */
export function fetchRecordDetail(volumeId: string, signal?: AbortSignal): Promise<RecordDetail> {
  return request({
    route: apiRoutes.adminGetRecord,
    params: { volumeId },
    schema: recordDetailSchema,
    signal,
  });
}

/** ES-2: who may obtain the keys; the owner always stays one of them. */
export function changeRecordRestorers(
  volumeId: string,
  change: { add: readonly string[]; remove: readonly string[]; reason: string },
): Promise<EscrowRecord> {
  return request({
    route: apiRoutes.changeRestorers,
    params: { volumeId },
    body: { add: [...change.add], remove: [...change.remove], reason: change.reason },
    schema: escrowRecordSchema,
  });
}

/** ES-2: no release after `expiresAt` (null: no expiry). */
export function setRecordExpiry(
  volumeId: string,
  expiresAt: string | null,
  reason: string,
): Promise<EscrowRecord> {
  return request({
    route: apiRoutes.adminSetExpiry,
    params: { volumeId },
    body: { expiresAt, reason },
    schema: escrowRecordSchema,
  });
}

export function revokeRecord(volumeId: string, reason: string): Promise<EscrowRecord> {
  return request({
    route: apiRoutes.adminRevoke,
    params: { volumeId },
    body: { reason },
    schema: escrowRecordSchema,
  });
}

export function transferOwnership(
  volumeId: string,
  newOwner: string,
  reason: string,
): Promise<EscrowRecord> {
  return request({
    route: apiRoutes.adminTransferOwnership,
    params: { volumeId },
    body: { newOwner, reason },
    schema: escrowRecordSchema,
  });
}

/** ES-2: re-arming a burned record only files a request for a second administrator. */
export function requestRearm(volumeId: string, reason: string): Promise<Approval> {
  return request({
    route: apiRoutes.adminRequestRearm,
    params: { volumeId },
    body: { reason },
    schema: approvalSchema,
  });
}

/** ES-3: reserves a volume ID for an owner and restorers before any backup. */
export function registerManually(body: ManualRegistrationRequest): Promise<EscrowRecord> {
  return request({ route: apiRoutes.adminRegisterManually, body, schema: escrowRecordSchema });
}

/** BK-9: imports an offline registration file; the site checks it and refuses a repeat. */
export async function importRegistration(
  file: RegistrationFile,
  reason: string,
): Promise<EscrowRecord> {
  const answer = await request({
    route: apiRoutes.adminImportRegistration,
    body: { file, reason },
    schema: importRegistrationResponseSchema,
  });
  return answer.record;
}
