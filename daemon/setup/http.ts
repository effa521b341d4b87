/**
 * The setup server's HTTP plumbing: errors as status codes and JSON, the security headers,
 * cookies and headers read from a request. No routes here.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DcError, ERROR_CODES, serializeError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  DC_SETUP_LOGIN: 401,
  DC_SETUP_CODE: 403,
  DC_SETUP_CSRF: 403,
  DC_SETUP_LOCKED: 429,
  DC_SETUP_CLAIMED: 409,
  DC_SETUP_PASSWORD: 400,
  DC_SETUP_BAD_REQUEST: 400,
  DC_CONFIG_INVALID: 400,
  DC_CONFIG_STALE_REVISION: 409,
  DC_CMD_BUSY: 409,
  DC_NOT_AVAILABLE: 501,
  DC_MEDIA_NOT_RUNNING: 503,
  DC_MEDIA_WORKER: 503,
};

/** Problems that are the network's or a tool's, not the request's: 502 with what the tool said. */
const UPSTREAM_FAMILIES = new Set(['network', 'rtc', 'media']);

const CSP = ["default-src 'self'", "img-src 'self' data: blob:", "media-src 'self' blob:", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"].join('; ');

/** On every answer: nothing from elsewhere, no framing, no sniffing, no referrer, nothing cached unless said. */
export function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('content-security-policy', CSP);
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });
}

/** Any error as `{ error: { code, message, details } }` with its status; the unexpected ones logged. */
export function sendError(reply: FastifyReply, error: unknown, log: Logger) {
  const e = error as { validation?: unknown; statusCode?: number; message?: string };
  if (e.validation) return reply.code(400).send({ error: { code: 'DC_SETUP_BAD_REQUEST', message: e.message } });
  if (error instanceof DcError) {
    const retry = error.details?.retryAfterS;
    if (typeof retry === 'number') reply.header('retry-after', String(retry));
    const status = HTTP_STATUS[error.code] ?? (UPSTREAM_FAMILIES.has(ERROR_CODES[error.code].family) ? 502 : 500);
    if (status >= 500) log.warn({ event: 'setup.request_failed', err: serializeError(error) }, `setup: ${error.message}`);
    return reply.code(status).send({ error: error.toJSON() });
  }
  // fastify's own: 413 for a body over the limit, 415 for another content type, 400 for bad JSON.
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return reply.code(e.statusCode).send({ error: { code: 'DC_SETUP_BAD_REQUEST', message: e.message ?? 'bad request' } });
  }
  log.error({ event: 'setup.error', err: serializeError(error) }, 'setup: request failed');
  return reply.code(500).send({ error: { code: 'DC_INTERNAL', message: 'the box could not do that; see its log' } });
}

export function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (headerOf(request, 'cookie') ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

/** A capability the box lacks here (no media engine, no NetworkManager): 501 with why. */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new DcError('DC_NOT_AVAILABLE', `${what} is not available on this box`);
  return value;
}
