import {
  apiRoutes,
  heartbeatResponseSchema,
  pairListSchema,
  pairSummarySchema,
  type HeartbeatRequest,
  type Instruction,
  type PairSummary,
} from '@/core/contract';
import { request } from './request';

/** RC-7 "operators see their own pairs": the caller's pairs as the site sees them. */
export async function fetchMyPairs(signal?: AbortSignal): Promise<PairSummary[]> {
  return (await request({ route: apiRoutes.myPairs, schema: pairListSchema, signal })).pairs;
}

/** The primary's heartbeat (RC-7); the answer carries the instructions waiting for it (RC-3). */
export async function sendHeartbeat(
  pairId: string,
  beat: HeartbeatRequest,
  signal?: AbortSignal,
): Promise<Instruction[]> {
  return (
    await request({
      route: apiRoutes.pairHeartbeat,
      params: { pairId },
      body: beat,
      schema: heartbeatResponseSchema,
      signal,
    })
  ).instructions;
}

/** The primary carried an instruction out; a suspension names its cut (RC-5). */
export function acknowledgeInstruction(
  pairId: string,
  instructionId: string,
  facts: { cutSeq?: number; epoch?: number },
  signal?: AbortSignal,
): Promise<PairSummary> {
  return request({
    route: apiRoutes.acknowledgeInstruction,
    params: { pairId, instructionId },
    body: facts,
    schema: pairSummarySchema,
    signal,
  });
}
