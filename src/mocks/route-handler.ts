import { http, HttpResponse, type HttpResponseResolver } from 'msw';
import {
  CSRF_HEADER,
  CSRF_HEADER_VALUE,
  type ApiErrorBody,
  type RouteEntry,
} from '@/core/contract';

export function refuse(status: number, body: ApiErrorBody): Response {
  return HttpResponse.json(body, { status });
}

export const notSignedIn = (): Response =>
  refuse(401, { code: 'not_signed_in', message: 'Sign in first.' });

/** The route's path under any origin, so tests and the demo share handlers. */
export function on(route: RouteEntry, resolver: HttpResponseResolver): ReturnType<typeof http.all> {
  const path = `*${route.path}`;
  switch (route.method) {
    case 'GET':
      return http.get(path, resolver);
    case 'POST':
      return http.post(path, resolver);
    case 'PUT':
      return http.put(path, resolver);
    case 'PATCH':
      return http.patch(path, resolver);
    case 'DELETE':
      return http.delete(path, resolver);
    case 'HEAD':
      return http.head(path, resolver);
  }
}

/** State-changing calls without the CSRF header are refused, as the site does. */
export function csrfMissing(route: RouteEntry, request: Request): Response | undefined {
  if (route.csrf && request.headers.get(CSRF_HEADER) !== CSRF_HEADER_VALUE) {
    return refuse(403, { code: 'csrf_required', message: 'This request needs the CSRF header.' });
  }
  return undefined;
}

export async function jsonBody(request: Request): Promise<unknown> {
  try {
    return await request.json();
  } catch {
    return undefined;
  }
}
