/**
 * The restore endpoints of the in-memory demo site (RS-1..RS-9), answering
 * per the contract from DemoRestoreSite, for component tests and the demo.
 */
import { HttpResponse } from 'msw';
import { apiRoutes, integrityReportSchema, type RouteEntry } from '@/core/contract';
import { demoSite } from './demo-site';
import { Refusal, restoreSite } from './restore-site';
import { csrfMissing, jsonBody, notSignedIn, on, refuse } from './route-handler';

type Handler = (input: {
  request: Request;
  params: Record<string, string>;
  userId: string;
  roles: readonly string[];
}) => Response | Promise<Response>;

/** The session, the CSRF header and the route's roles are checked as the site does (ID-2). */
function handle(route: RouteEntry, handler: Handler) {
  return on(route, async ({ request, params }) => {
    if (!restoreSite.reachable) return HttpResponse.error();
    const url = new URL(request.url);
    restoreSite.requests.push(`${request.method} ${decodeURIComponent(url.pathname)}`);
    const refused = csrfMissing(route, request);
    if (refused) return refused;
    const session = demoSite.session;
    if (!session) return notSignedIn();
    if (Array.isArray(route.access) && !route.access.some((role) => session.roles.includes(role))) {
      return refuse(403, { code: 'forbidden', message: 'Your role may not do this.' });
    }
    const decoded = Object.fromEntries(
      Object.entries(params).map(([name, value]) => [name, decodeURIComponent(String(value))]),
    );
    try {
      return await handler({
        request,
        params: decoded,
        userId: session.userId,
        roles: session.roles,
      });
    } catch (error) {
      if (error instanceof Refusal) {
        return refuse(error.status, { code: error.code, message: error.message });
      }
      throw error;
    }
  });
}

/** Handlers of the restore endpoints on the demo site. */
export const restoreHandlers = [
  handle(apiRoutes.restorable, ({ userId }) =>
    HttpResponse.json({ volumes: restoreSite.restorable(userId) }),
  ),
  handle(apiRoutes.requestKeyRelease, async ({ request, params, userId }) => {
    const answer = await restoreSite.requestRelease(
      userId,
      params['volumeId']!,
      await jsonBody(request),
    );
    return HttpResponse.json(answer, { status: answer.state === 'pending_approval' ? 202 : 200 });
  }),
  handle(apiRoutes.getKeyRelease, ({ params, userId }) =>
    HttpResponse.json(restoreSite.fetchRelease(userId, params['volumeId']!, params['requestId']!)),
  ),
  handle(apiRoutes.generationManifest, ({ params, userId, roles }) => {
    const volume = restoreSite.readable(userId, roles, params['volumeId']!);
    const generation = volume.generations.get(Number(params['generation']));
    if (!generation) {
      return refuse(404, { code: 'generation_not_found', message: 'No such generation.' });
    }
    return HttpResponse.json({
      volumeId: volume.volumeId,
      generation: generation.manifest.index.generation,
      manifest: generation.manifest,
      devicePublicKey: generation.devicePublicKey,
      receipt: generation.receipt,
    });
  }),
  handle(apiRoutes.getChunk, ({ params, userId, roles }) => {
    const volume = restoreSite.readable(userId, roles, params['volumeId']!);
    const blob = volume.blobs.get(params['chunkId']!);
    if (!blob) {
      return refuse(404, { code: 'chunk_not_found', message: 'The site holds no such chunk.' });
    }
    return new HttpResponse(blob.slice(), {
      headers: { 'content-type': 'application/octet-stream' },
    });
  }),
  handle(apiRoutes.scrubVolume, async ({ request, params, userId }) =>
    HttpResponse.json(
      await restoreSite.scrub(userId, params['volumeId']!, await jsonBody(request)),
    ),
  ),
  handle(apiRoutes.reportIntegrity, async ({ request, userId }) => {
    const report = integrityReportSchema.safeParse(await jsonBody(request));
    if (!report.success) {
      return refuse(400, { code: 'invalid_request', message: report.error.message });
    }
    restoreSite.integrityReports.push(report.data);
    demoSite.alerts.raise({
      kind: 'integrity_failure',
      userId,
      volumeId: report.data.volumeId,
      sentence: `${userId} found volume ${report.data.volumeId} tampered: ${report.data.what}`,
    });
    return HttpResponse.json({ ok: true });
  }),
];
