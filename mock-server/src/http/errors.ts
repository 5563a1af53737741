import type { FastifyError, FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { ApiErrorBody } from '../../../src/core/contract';
import { DomainError, isStorageFull, storageFull } from '../domain/errors';

/** Validates a request part against its contract schema, or refuses with 400. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what = 'request body'): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : what}: ${i.message}`);
  throw new DomainError(
    'invalid_request',
    `The ${what} is not valid: ${problems.join('; ')}.`,
    400,
    {
      problems,
    },
  );
}

const FASTIFY_CODES: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'body_too_large',
    message: 'The request body is too large.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    message: 'Send the request body as application/json.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'invalid_request',
    message: 'The request body is empty; send a JSON object.',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: 'malformed_json',
    message: 'The request body is not valid JSON.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'invalid_request',
    message: 'The Content-Length header does not match the body.',
  },
};

/**
 * Every failure leaves the site as `{code, message}` with a 4xx status where
 * the caller can do something about it; an unexpected fault is a 500 with a
 * request ID to quote, never a stack trace.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | DomainError | Error, request, reply) => {
    let status: number;
    let body: ApiErrorBody;
    if (isStorageFull(error)) error = storageFull();
    if (error instanceof DomainError) {
      status = error.status;
      body = {
        code: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
      };
    } else if ('code' in error && typeof error.code === 'string' && FASTIFY_CODES[error.code]) {
      const known = FASTIFY_CODES[error.code]!;
      status = known.status;
      body = { code: known.code, message: known.message };
    } else if (
      error instanceof SyntaxError ||
      ('statusCode' in error && error.statusCode === 400)
    ) {
      status = 400;
      body = { code: 'invalid_request', message: 'The request could not be read.' };
    } else if (
      'statusCode' in error &&
      typeof error.statusCode === 'number' &&
      error.statusCode < 500
    ) {
      status = error.statusCode;
      body = { code: 'invalid_request', message: 'The request could not be handled as sent.' };
    } else {
      request.log.error({ err: error }, 'unexpected failure');
      status = 500;
      body = {
        code: 'server_error',
        message: `The site failed unexpectedly; quote request ${request.id} to its administrator.`,
      };
    }
    void reply.status(status).type('application/json; charset=utf-8').send(body);
  });
}

export function notFoundBody(method: string, url: string): ApiErrorBody {
  const path = url.split('?')[0] ?? url;
  return {
    code: 'not_found',
    message: `There is no ${method} ${path.slice(0, 200)} on this site.`,
  };
}
