import {
  apiRoutes,
  heartbeatResponseSchema,
  pairListSchema,
  pairSummarySchema,
  type HeartbeatRequest,
  type Instruction,
  type PairSummary,
} from '@/core/contract';
import { request, type SiteAddress } from './request';

/**
 * RC-7 "operators see their own pairs": the caller's pairs as the site sees
 * them; `site` for another site, whose pairs hold copies (MS-3).
 */
export async function fetchMyPairs(
  signal?: AbortSignal,
  site?: SiteAddress,
): Promise<PairSummary[]> {
  return (await request({ route: apiRoutes.myPairs, schema: pairListSchema, signal, site })).pairs;
}

/** The primary's heartbeat (RC-7); the answer carries the instructions waiting for it (RC-3). */
export async function sendHeartbeat(
  pairId: string,
  beat: HeartbeatRequest,
  signal?: AbortSignal,
  site?: SiteAddress,
): Promise<Instruction[]> {
  return (
    await request({
      route: apiRoutes.pairHeartbeat,
      params: { pairId },
      body: beat,
      schema: heartbeatResponseSchema,
      signal,
      site,
    })
  ).instructions;
}

/** The primary carried an instruction out; a suspension names its cut (RC-5). */
export function acknowledgeInstruction(
  pairId: string,
  instructionId: string,
  facts: { cutSeq?: number; epoch?: number },
  signal?: AbortSignal,
  site?: SiteAddress,
): Promise<PairSummary> {
  return request({
    route: apiRoutes.acknowledgeInstruction,
    params: { pairId, instructionId },
    body: facts,
    schema: pairSummarySchema,
    signal,
    site,
  });
}
