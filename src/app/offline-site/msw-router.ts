import { http, HttpResponse, sse, type HttpHandler } from 'msw';
import { apiRoutes, type ApiErrorBody, type RouteEntry, type ServerEvent } from '@/core/contract';
import { DomainError } from '../../../mock-server/src/domain/errors';
import type { Audience } from '../../../mock-server/src/domain/events';
import { registerApi } from '../../../mock-server/src/http/api';
import {
  authorize,
  principalOf,
  type ApiReply,
  type ApiRequest,
  type CookieOptions,
  type RouteContext,
  SESSION_COOKIE,
} from '../../../mock-server/src/http/router';

/** What one handler call produced, before it becomes an MSW response. */
interface ReplyState {
  status: number;
  contentType: string | undefined;
  headers: Record<string, string>;
  cookies: string[];
  sent: { payload: Uint8Array | string | undefined } | undefined;
}

function replyFor(state: ReplyState, now: () => Date): ApiReply {
  const reply: ApiReply = {
    status: (code) => ((state.status = code), reply),
    type: (contentType) => ((state.contentType = contentType), reply),
    header: (name, value) => ((state.headers[name] = value), reply),
    setCookie: (name: string, value: string, options: CookieOptions) => {
      // Max-Age, not Expires: the page's clock need not agree with the site's.
      const maxAge = Math.max(0, Math.round((options.expires.getTime() - now().getTime()) / 1000));
      state.cookies.push(
        `${name}=${value}; Path=${options.path}; Max-Age=${maxAge}; SameSite=Strict`,
      );
      return reply;
    },
    clearCookie: (name, options) => {
      state.cookies.push(`${name}=; Path=${options.path}; Expires=Thu, 01 Jan 1970 00:00:00 GMT`);
      return reply;
    },
    send: (payload) => ((state.sent = { payload }), reply),
  };
  return reply;
}

function errorResponse(error: unknown): Response {
  if (error instanceof DomainError) {
    const body: ApiErrorBody = {
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
    };
    return HttpResponse.json(body, { status: error.status });
  }
  console.error(error);
  return HttpResponse.json(
    { code: 'server_error', message: 'The demo site failed unexpectedly.' },
    { status: 500 },
  );
}

function cookiesOf(request: Request): Record<string, string> {
  const header = request.headers.get('cookie') ?? '';
  return Object.fromEntries(
    header
      .split(';')
      .map((part) => part.trim().split('='))
      .filter((pair) => pair.length >= 2)
      .map(([name, ...value]) => [name!, value.join('=')]),
  );
}

/**
 * The site's own API handlers, access rules and CSRF check, carried by MSW
 * instead of Fastify: component tests and the offline demo run the real
 * rules on the site's own repositories over SQLite in memory (SPEC §5).
 */
export function siteHandlers(ctx: RouteContext, origin = '*'): HttpHandler[] {
  const handlers: HttpHandler[] = [];
  const route = (
    entry: RouteEntry,
    handler: (request: ApiRequest, reply: ApiReply) => Promise<unknown>,
    options: { binaryBody?: boolean } = {},
  ) => {
    const method = entry.method.toLowerCase() as
      'get' | 'post' | 'put' | 'patch' | 'delete' | 'head';
    handlers.push(
      http[method](`${origin}${entry.path}`, async ({ request, params, cookies }) => {
        const url = new URL(request.url);
        let body: unknown;
        if (options.binaryBody) {
          body = new Uint8Array(await request.arrayBuffer());
        } else if (entry.method !== 'GET' && entry.method !== 'HEAD') {
          const text = await request.text();
          if (text) {
            try {
              body = JSON.parse(text) as unknown;
            } catch {
              return HttpResponse.json(
                { code: 'malformed_json', message: 'The request body is not valid JSON.' },
                { status: 400 },
              );
            }
          }
        }
        const api: ApiRequest = {
          params: Object.fromEntries(
            Object.entries(params).map(([k, v]) => [k, decodeURIComponent(String(v))]),
          ),
          query: Object.fromEntries(url.searchParams),
          body,
          headers: Object.fromEntries(request.headers),
          ip: '127.0.0.1',
          // A service worker never sees the Cookie header; MSW passes the page's cookies.
          cookies: { ...cookiesOf(request), ...cookies },
          method: request.method,
          path: url.pathname,
        };
        const state: ReplyState = {
          status: 200,
          contentType: undefined,
          headers: {},
          cookies: [],
          sent: undefined,
        };
        try {
          await authorize(entry, api, ctx);
          const result = await handler(
            api,
            replyFor(state, () => ctx.clock.now()),
          );
          const headers = new Headers(state.headers);
          for (const cookie of state.cookies) headers.append('set-cookie', cookie);
          if (state.sent) {
            if (state.contentType) headers.set('content-type', state.contentType);
            const payload = state.sent.payload;
            return new HttpResponse(
              payload instanceof Uint8Array ? payload.slice().buffer : (payload ?? null),
              { status: state.status, headers },
            );
          }
          if (typeof result === 'string') {
            headers.set('content-type', state.contentType ?? 'text/plain; charset=utf-8');
            return new HttpResponse(result, { status: state.status, headers });
          }
          return HttpResponse.json(result as object, { status: state.status, headers });
        } catch (error) {
          return errorResponse(error);
        }
      }),
    );
  };
  registerApi({ route }, ctx);

  // The event stream (AL-2): the site's own access rule and event bus, each
  // stream hearing what its user may see.
  const listen = async (
    request: Request,
    cookies: Record<string, string>,
    send: (event: ServerEvent) => void,
  ): Promise<() => void> => {
    const api: ApiRequest = {
      params: {},
      query: {},
      body: undefined,
      // A bearer token (another site's console, MS-2) is read from here.
      headers: Object.fromEntries(request.headers),
      ip: '127.0.0.1',
      cookies: { ...cookiesOf(request), ...cookies },
      method: 'GET',
      path: new URL(request.url).pathname,
    };
    await authorize(apiRoutes.events, api, ctx);
    const { user } = principalOf(api);
    const isAdmin = user.roles.includes('admin');
    const hears = (audience: Audience) =>
      audience.kind === 'admins' ? isAdmin : isAdmin || audience.userId === user.userId;
    send({ type: 'hello', userId: user.userId, at: ctx.clock.now().toISOString() });
    return ctx.events.subscribe((event, audience) => {
      if (hears(audience)) send(event);
    });
  };

  if (typeof EventSource === 'undefined') {
    // Where there is no EventSource (Node, component tests), the same stream
    // as a streaming response, read with fetch.
    handlers.push(
      http.get(`${origin}${apiRoutes.events.path}`, async ({ request, cookies }) => {
        const encoder = new TextEncoder();
        let controller!: ReadableStreamDefaultController<Uint8Array>;
        const stream = new ReadableStream<Uint8Array>({
          start: (c) => void (controller = c),
          cancel: () => unsubscribe?.(),
        });
        let unsubscribe: () => void;
        try {
          unsubscribe = await listen(request, cookies, (event) =>
            controller.enqueue(
              encoder.encode(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`),
            ),
          );
        } catch (error) {
          return errorResponse(error);
        }
        request.signal.addEventListener('abort', () => {
          unsubscribe();
          try {
            controller.close();
          } catch {
            // already closed
          }
        });
        return new HttpResponse(stream, {
          headers: { 'content-type': 'text/event-stream; charset=utf-8' },
        });
      }),
    );
    return handlers;
  }
  // In the browser, through MSW's Server-Sent Events support.
  handlers.push(
    sse(`${origin}${apiRoutes.events.path}`, async ({ request, client, cookies }) => {
      let unsubscribe: () => void;
      try {
        unsubscribe = await listen(request, cookies, (event) =>
          client.send({ event: event.type, data: JSON.stringify(event) } as never),
        );
      } catch {
        client.close();
        return;
      }
      request.signal.addEventListener('abort', unsubscribe);
    }),
  );
  return handlers;
}

export { SESSION_COOKIE };
