import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  acknowledgeInstructionRequestSchema,
  apiRoutes,
  heartbeatRequestSchema,
  pairActionRequestSchema,
} from '../../../../src/core/contract';
import type { Caller } from '../../domain/escrow/context';
import { parseWith } from '../errors';
import { principalOf, registerRoute, type RouteContext } from '../access';

const pairParams = z.object({ pairId: z.string().uuid() });
const instructionParams = z.object({ pairId: z.string().uuid(), instructionId: z.string().uuid() });

function callerOf(request: FastifyRequest): Caller {
  const { user } = principalOf(request);
  return { userId: user.userId, roles: user.roles, clientAddress: request.ip };
}

/** Remote copy of paired volumes (RC-1..RC-7). */
export function pairRoutes(app: FastifyInstance, ctx: RouteContext): void {
  registerRoute(app, ctx, apiRoutes.myPairs, async (request) => ({
    pairs: await ctx.pairs.mine(callerOf(request)),
  }));
  registerRoute(app, ctx, apiRoutes.pairHeartbeat, async (request) => {
    const { pairId } = parseWith(pairParams, request.params, 'pair ID');
    const beat = parseWith(heartbeatRequestSchema, request.body);
    return { instructions: await ctx.pairs.heartbeat(callerOf(request), pairId, beat) };
  });
  registerRoute(app, ctx, apiRoutes.acknowledgeInstruction, async (request) => {
    const { pairId, instructionId } = parseWith(instructionParams, request.params, 'instruction');
    const body = parseWith(acknowledgeInstructionRequestSchema, request.body ?? {});
    return ctx.pairs.acknowledge(callerOf(request), pairId, instructionId, body);
  });
  registerRoute(app, ctx, apiRoutes.adminListPairs, async () => ({
    pairs: await ctx.pairs.list(),
  }));
  registerRoute(app, ctx, apiRoutes.adminGetPair, async (request) => {
    const { pairId } = parseWith(pairParams, request.params, 'pair ID');
    return ctx.pairs.detail(pairId);
  });
  registerRoute(app, ctx, apiRoutes.adminPairAction, async (request) => {
    const body = parseWith(pairActionRequestSchema, request.body);
    return {
      instructions: await ctx.pairs.act(callerOf(request), body.pairIds, body.action, body.reason),
    };
  });
}
