import {
  apiRoutes,
  pairActionResponseSchema,
  pairDetailSchema,
  pairListSchema,
  pairRotationResponseSchema,
  type Instruction,
  type PairAction,
  type PairDetail,
  type PairRotationRequest,
  type PairRotationResponse,
  type PairSummary,
} from '@/core/contract';
import { request, type SiteAddress } from './request';

/**
 * RC-7: every pair of a site, as the secondary sees it: this console's own
 * site, or `site`, another one the administrator is signed in at (MS-6).
 */
export async function listPairs(signal?: AbortSignal, site?: SiteAddress): Promise<PairSummary[]> {
  return (await request({ route: apiRoutes.adminListPairs, schema: pairListSchema, signal, site }))
    .pairs;
}

/** A pair with its state history, epochs and lag/throughput samples. */
export function fetchPairDetail(
  pairId: string,
  signal?: AbortSignal,
  site?: SiteAddress,
): Promise<PairDetail> {
  return request({
    route: apiRoutes.adminGetPair,
    params: { pairId },
    schema: pairDetailSchema,
    signal,
    site,
  });
}

/** RC-3 actions for one pair or a selection; the primary carries most of them out later. */
export async function actOnPairs(
  pairIds: readonly string[],
  action: PairAction,
  reason: string,
  site?: SiteAddress,
): Promise<(Instruction & { pairId: string })[]> {
  return (
    await request({
      route: apiRoutes.adminPairAction,
      body: { pairIds: [...pairIds], action, reason },
      schema: pairActionResponseSchema,
      site,
    })
  ).instructions;
}

/** RC-4: a pair's key rotation; the site clamps it to its bounds and says whether it did. */
export function setPairRotation(
  pairId: string,
  body: PairRotationRequest,
  site?: SiteAddress,
): Promise<PairRotationResponse> {
  return request({
    route: apiRoutes.adminPairRotation,
    params: { pairId },
    body,
    schema: pairRotationResponseSchema,
    site,
  });
}
