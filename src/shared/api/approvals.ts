import { apiRoutes, approvalListSchema, decisionSchema, type Approval } from '@/core/contract';
import { request } from './request';

/** BK-5, ES-2: key releases and re-arms waiting for an administrator's decision. */
export async function listApprovals(signal?: AbortSignal): Promise<Approval[]> {
  return (
    await request({ route: apiRoutes.adminListApprovals, schema: approvalListSchema, signal })
  ).approvals;
}

/** The site refuses a decision on one's own request (`self_approval`). */
export function decideApproval(
  approvalId: string,
  approve: boolean,
  reason: string,
): Promise<{ id: string; kind: Approval['kind']; state: 'approved' | 'denied' }> {
  return request({
    route: apiRoutes.adminDecideApproval,
    params: { approvalId },
    body: { approve, reason },
    schema: decisionSchema,
  });
}
