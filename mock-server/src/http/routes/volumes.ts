import { z } from 'zod';
import {
  apiRoutes,
  BODY_SHA256_HEADER,
  changeRestorersRequestSchema,
  CHUNK_EPOCH_HEADER,
  CIPHERTEXT_SHA256_HEADER,
  claimRequestSchema,
  keyReleaseRequestSchema,
  moveVolumeRequestSchema,
  registerDeviceRequestSchema,
  scrubRequestSchema,
  setVolumeExpiryRequestSchema,
  setVolumeLabelRequestSchema,
  volumeActivityQuerySchema,
} from '../../../../src/core/contract';
import { BLOB_HEADER_LENGTH, paddedTransferSize } from '../../../../src/core/crypto/constants';
import { parseChunkBlobHeader } from '../../../../src/core/crypto/chunk';
import {
  generationSchema,
  hex256Schema,
  volumeIdSchema,
} from '../../../../src/core/crypto/format-schemas';
import { VolumeActivityService } from '../../domain/escrow/activity';
import type { Caller } from '../../domain/escrow/context';
import { scrubVolume } from '../../domain/escrow/scrub';
import { DomainError } from '../../domain/errors';
import { parseWith } from '../errors';
import { type ApiRequest, type RouteContext, type Router, principalOf } from '../router';

const volumeParams = z.object({ volumeId: volumeIdSchema });
const chunkParams = z.object({ volumeId: volumeIdSchema, chunkId: hex256Schema });
const generationParams = z.object({
  volumeId: volumeIdSchema,
  generation: z.coerce.number().pipe(generationSchema),
});
const releaseParams = z.object({
  volumeId: volumeIdSchema,
  requestId: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/),
});
const transferParams = z.object({
  pairId: z.string().uuid(),
  seq: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

function callerOf(request: ApiRequest): Caller {
  const { user } = principalOf(request);
  return { userId: user.userId, roles: user.roles, clientAddress: request.ip };
}

export function volumeRoutes(router: Router, ctx: RouteContext): void {
  router.route(apiRoutes.registerDevice, async (request) => {
    const body = parseWith(registerDeviceRequestSchema, request.body);
    return ctx.volumes.registerDevice(callerOf(request), body.publicKey, body.label);
  });
  router.route(apiRoutes.listDevices, async (request) => ({
    devices: await ctx.volumes.devices(callerOf(request)),
  }));

  router.route(apiRoutes.volumeOwner, async (request) => {
    const { volumeId } = parseWith(volumeParams, request.params, 'volume ID');
    return ctx.volumes.owner(callerOf(request), volumeId);
  });
  router.route(apiRoutes.claimVolume, async (request) => {
    const { volumeId } = parseWith(volumeParams, request.params, 'volume ID');
    const body = parseWith(claimRequestSchema, request.body ?? {});
    return ctx.volumes.claim(callerOf(request), volumeId, body.resume);
  });
  router.route(apiRoutes.releaseClaim, async (request) => {
    const { volumeId } = parseWith(volumeParams, request.params, 'volume ID');
    await ctx.volumes.releaseClaim(callerOf(request), volumeId);
    return { ok: true };
  });
  router.route(apiRoutes.myVolumes, async (request) => ({
    records: await ctx.volumes.myVolumes(callerOf(request)),
  }));
  router.route(apiRoutes.setVolumeLabel, async (request) => {
    const { volumeId } = parseWith(volumeParams, request.params, 'volume ID');
    const { label } = parseWith(setVolumeLabelRequestSchema, request.body);
    return ctx.volumes.setLabel(callerOf(request), volumeId, label);
  });
  router.route(apiRoutes.setVolumeExpiry, async (request) => {
    const { volumeId } = parseWith(volumeParams, request.params, 'volume ID');
    const { expiresAt } = parseWith(setVolumeExpiryRequestSchema, request.body);
    return ctx.volumes.changeExpiry(callerOf(request), volumeId, expiresAt);
  });
  router.route(apiRoutes.moveVolume, async (request) => {
    const { volumeId } = parseWith(volumeParams, request.params, 'volume ID');
    const body = parseWith(moveVolumeRequestSchema, request.body);
    return ctx.releases.moveToDevice(callerOf(request), volumeId, body);
  });
  router.route(apiRoutes.changeRestorers, async (request) => {
    const { volumeId } = parseWith(volumeParams, request.params, 'volume ID');
    const body = parseWith(changeRestorersRequestSchema, request.body);
    return ctx.volumes.changeRestorers(callerOf(request), volumeId, body);
  });
  const activity = new VolumeActivityService(ctx.escrow, ctx.alerts, ctx.volumes);
  router.route(apiRoutes.volumeActivity, async (request) => {
    const { volumeId } = parseWith(volumeParams, request.params, 'volume ID');
    const query = parseWith(volumeActivityQuerySchema, request.query, 'query');
    return activity.list(callerOf(request), volumeId, query);
  });

  router.route(apiRoutes.headChunk, async (request, reply) => {
    const { volumeId, chunkId } = parseWith(chunkParams, request.params, 'chunk address');
    const chunk = await ctx.transfers.chunkInfo(callerOf(request), volumeId, chunkId);
    const header = chunk && (await ctx.escrow.blobs.head(volumeId, chunkId, BLOB_HEADER_LENGTH));
    if (!chunk || !header) return reply.status(404).send();
    return reply
      .header(CIPHERTEXT_SHA256_HEADER, chunk.ciphertextSha256)
      .header(CHUNK_EPOCH_HEADER, String(parseChunkBlobHeader(concatHeader(header)).epoch))
      .header('x-custodian-blob-length', String(chunk.size))
      .status(200)
      .send();
  });
  router.route(apiRoutes.getChunk, async (request, reply) => {
    const { volumeId, chunkId } = parseWith(chunkParams, request.params, 'chunk address');
    await ctx.volumes.assertMayReadChunks(callerOf(request), volumeId);
    const chunk = await ctx.escrow.store.chunks.find(volumeId, chunkId);
    const blob = chunk && (await ctx.escrow.blobs.get(volumeId, chunkId));
    if (!chunk || !blob)
      throw new DomainError(
        'chunk_not_found',
        `The site holds no chunk ${chunkId} of this volume.`,
        404,
      );
    return reply
      .type('application/octet-stream')
      .header(CIPHERTEXT_SHA256_HEADER, chunk.ciphertextSha256)
      .send(blob);
  });
  router.route(apiRoutes.scrubVolume, async (request) => {
    const { volumeId } = parseWith(volumeParams, request.params, 'volume ID');
    return scrubVolume(
      ctx.escrow,
      callerOf(request),
      volumeId,
      parseWith(scrubRequestSchema, request.body ?? {}),
    );
  });

  router.route(apiRoutes.restorable, async (request) => ({
    volumes: await ctx.releases.restorable(callerOf(request)),
  }));
  router.route(apiRoutes.generationManifest, async (request) => {
    const { volumeId, generation } = parseWith(generationParams, request.params, 'generation');
    return ctx.releases.manifest(callerOf(request), volumeId, generation);
  });
  router.route(apiRoutes.requestKeyRelease, async (request, reply) => {
    const { volumeId } = parseWith(volumeParams, request.params, 'volume ID');
    const body = parseWith(keyReleaseRequestSchema, request.body);
    const answer = await ctx.releases.request(callerOf(request), volumeId, body);
    reply.status(answer.state === 'pending_approval' ? 202 : 200);
    return answer;
  });
  router.route(apiRoutes.getKeyRelease, async (request) => {
    const { volumeId, requestId } = parseWith(releaseParams, request.params, 'request');
    return ctx.releases.fetch(callerOf(request), volumeId, requestId);
  });

  // Transfers carry padded binary bodies (RC-4): their own parser and size limit.
  const size = paddedTransferSize();
  router.route(
    apiRoutes.putTransfer,
    async (request, reply) => {
      const { pairId, seq } = parseWith(transferParams, request.params, 'transfer address');
      if (!(request.body instanceof Uint8Array) || request.body.length !== size) {
        throw new DomainError(
          'malformed_transfer',
          `A transfer body is exactly ${size} bytes of application/octet-stream.`,
          400,
        );
      }
      const claimed = request.headers[BODY_SHA256_HEADER];
      const answer = await ctx.transfers.put(
        callerOf(request),
        pairId,
        seq,
        request.body,
        typeof claimed === 'string' ? claimed : undefined,
      );
      reply.status(answer.httpStatus);
      return answer.ack;
    },
    { bodyLimit: size, binaryBody: true },
  );
}

function concatHeader(header: Uint8Array): Uint8Array {
  // parseChunkBlobHeader wants at least header + tag bytes; a header read is padded.
  const padded = new Uint8Array(BLOB_HEADER_LENGTH + 16);
  padded.set(header);
  return padded;
}
