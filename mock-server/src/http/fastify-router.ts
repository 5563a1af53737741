import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RouteEntry } from '../../../src/core/contract';
import { trustedOriginOf } from './cross-origin';
import {
  authorize,
  type ApiReply,
  type ApiRequest,
  type Handler,
  type RouteContext,
  type RouteOptions,
  type Router,
} from './router';

function replyOf(reply: FastifyReply): ApiReply {
  const api: ApiReply = {
    status: (code) => (reply.status(code), api),
    type: (contentType) => (reply.type(contentType), api),
    header: (name, value) => (reply.header(name, value), api),
    setCookie: (name, value, options) => (reply.setCookie(name, value, options), api),
    clearCookie: (name, options) => (reply.clearCookie(name, options), api),
    send: (payload) => {
      void reply.send(
        payload instanceof Uint8Array
          ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
          : payload,
      );
      return api;
    },
  };
  return api;
}

function requestOf(request: FastifyRequest): ApiRequest {
  const api: ApiRequest = {
    params: request.params,
    query: request.query,
    body: Buffer.isBuffer(request.body)
      ? new Uint8Array(request.body.buffer, request.body.byteOffset, request.body.byteLength)
      : request.body,
    headers: request.headers,
    ip: request.ip,
    cookies: request.cookies,
    method: request.method,
    path: request.url.split('?')[0] ?? request.url,
    trustedOrigin: trustedOriginOf(request),
  };
  return api;
}

/** The API's routes on Fastify: access rules from the route table, handlers shared with the in-browser site. */
export function fastifyRouter(app: FastifyInstance, ctx: RouteContext): Router {
  const register = (
    target: FastifyInstance,
    entry: RouteEntry,
    handler: Handler,
    options: RouteOptions,
  ) => {
    target.route({
      method: entry.method,
      url: entry.path,
      ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
      handler: async (request, reply) => {
        const api = requestOf(request);
        await authorize(entry, api, ctx);
        const result = await handler(api, replyOf(reply));
        return reply.sent ? reply : result;
      },
    });
  };
  return {
    route(entry, handler, options = {}) {
      if (!options.binaryBody) return register(app, entry, handler, options);
      // Binary bodies get their own parser in their own scope; JSON stays the rule elsewhere.
      void app.register(async (scope) => {
        scope.addContentTypeParser(
          'application/octet-stream',
          { parseAs: 'buffer', bodyLimit: options.bodyLimit },
          (_req, body, done) => done(null, body),
        );
        register(scope, entry, handler, options);
      });
    },
  };
}
