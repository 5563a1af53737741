import { z } from 'zod';
import {
  acknowledgeInstructionRequestSchema,
  apiRoutes,
  heartbeatRequestSchema,
  pairActionRequestSchema,
  pairRotationRequestSchema,
} from '../../../../src/core/contract';
import type { Caller } from '../../domain/escrow/context';
import { parseWith } from '../errors';
import { type ApiRequest, type RouteContext, type Router, principalOf } from '../router';

const pairParams = z.object({ pairId: z.string().uuid() });
const instructionParams = z.object({ pairId: z.string().uuid(), instructionId: z.string().uuid() });

function callerOf(request: ApiRequest): Caller {
  const { user } = principalOf(request);
  return { userId: user.userId, roles: user.roles, clientAddress: request.ip };
}

/** Remote copy of paired volumes (RC-1..RC-7). */
export function pairRoutes(router: Router, ctx: RouteContext): void {
  router.route(apiRoutes.myPairs, async (request) => ({
    pairs: await ctx.pairs.mine(callerOf(request)),
  }));
  router.route(apiRoutes.pairHeartbeat, async (request) => {
    const { pairId } = parseWith(pairParams, request.params, 'pair ID');
    const beat = parseWith(heartbeatRequestSchema, request.body);
    return { instructions: await ctx.pairs.heartbeat(callerOf(request), pairId, beat) };
  });
  router.route(apiRoutes.acknowledgeInstruction, async (request) => {
    const { pairId, instructionId } = parseWith(instructionParams, request.params, 'instruction');
    const body = parseWith(acknowledgeInstructionRequestSchema, request.body ?? {});
    return ctx.pairs.acknowledge(callerOf(request), pairId, instructionId, body);
  });
  router.route(apiRoutes.adminListPairs, async () => ({
    pairs: await ctx.pairs.list(),
  }));
  router.route(apiRoutes.adminGetPair, async (request) => {
    const { pairId } = parseWith(pairParams, request.params, 'pair ID');
    return ctx.pairs.detail(pairId);
  });
  router.route(apiRoutes.adminPairRotation, async (request) => {
    const { pairId } = parseWith(pairParams, request.params, 'pair ID');
    const body = parseWith(pairRotationRequestSchema, request.body, 'key rotation');
    return ctx.pairs.setRotation(callerOf(request), pairId, body);
  });
  router.route(apiRoutes.adminPairAction, async (request) => {
    const body = parseWith(pairActionRequestSchema, request.body);
    return {
      instructions: await ctx.pairs.act(callerOf(request), body.pairIds, body.action, body.reason),
    };
  });
}
