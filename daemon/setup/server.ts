/**
 * The setup server on the hall's LAN: the page (web-setup/setup/) and its JSON API. Only the
 * page's files, `claim` and `login` answer without a session. Claiming takes the six-digit code
 * shown on the TV and sets the admin password; a session is an HttpOnly, SameSite=Strict
 * cookie, and every state-changing request also carries the session's CSRF token in a header.
 * Wrong codes and passwords are limited per address, with a lockout.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { join } from 'node:path';
import type { ConfigStore } from '../config/index.js';
import { writeFileAtomic } from '../config/atomic-write.js';
import { mergePatch } from '../config/merge.js';
import { validateConfig } from '../config/validate.js';
import { DcError, serializeError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { Part } from '../part.js';
import type { SetupCode } from './access.js';
import { FailureLimiter } from './limiter.js';
import { AdminPassword, MAX_PASSWORD } from './password.js';
import { sameToken, Sessions, type Session } from './sessions.js';
import { loadPage, type PageFile } from './page-files.js';

export interface SetupServerOptions {
  host: string;
  port: number;
  config: ConfigStore;
  /** The config's folder: the broker password file goes there. */
  stateDir: string;
  password: AdminPassword;
  code: SetupCode;
  /** What the status page shows: the box's state as the fleet console sees it. */
  status(): unknown;
  /** Plays the test tone through the hall's speaker. */
  playTestTone?(seconds: number): Promise<void>;
  log: Logger;
  /** Tests: other limits. */
  limiter?: FailureLimiter;
  sessions?: Sessions;
}

/** Bodies are small JSON: a config patch is a few hundred bytes. */
export const BODY_LIMIT = 16 * 1024;
const COOKIE = 'dc_session';
const CSRF_HEADER = 'x-csrf-token';

const CSP = ["default-src 'self'", "img-src 'self' data: blob:", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"].join('; ');

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
  DC_NOT_AVAILABLE: 501,
  DC_MEDIA_NOT_RUNNING: 503,
  DC_MEDIA_WORKER: 503,
};

const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD });
const ClaimBody = Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }), password: Password }, { additionalProperties: false });
const LoginBody = Type.Object({ password: Password }, { additionalProperties: false });
const ConfigBody = Type.Object(
  { revision: Type.Integer({ minimum: 0 }), patch: Type.Record(Type.String(), Type.Unknown()) },
  { additionalProperties: false },
);
const SiteBody = Type.Object(
  {
    revision: Type.Integer({ minimum: 0 }),
    device: Type.Object({ name: Type.String({ maxLength: 64 }), village: Type.String({ maxLength: 100 }), commune: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
    fleet: Type.Object(
      { url: Type.String({ maxLength: 500 }), username: Type.String({ maxLength: 128 }), password: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
/** The broker password the page sets, beside the config (mode 0600), never in it. */
export const BROKER_PASSWORD_FILE = 'broker-password';
const ToneBody = Type.Object({ seconds: Type.Integer({ minimum: 1, maximum: 10, default: 3 }) }, { additionalProperties: false });

declare module 'fastify' {
  interface FastifyRequest {
    session?: Session;
  }
}

export class SetupServer implements Part {
  readonly name = 'setup';
  private app: FastifyInstance | undefined;
  private readonly limiter: FailureLimiter;
  private readonly sessions: Sessions;
  private boundPort = 0;

  constructor(private readonly opts: SetupServerOptions) {
    this.limiter = opts.limiter ?? new FailureLimiter();
    this.sessions = opts.sessions ?? new Sessions();
  }

  /** The port it listens on (the configured one, or the one given for 0). */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const app = this.build(await loadPage());
    try {
      await app.listen({ host: this.opts.host, port: this.opts.port });
    } catch (e) {
      await app.close();
      throw e;
    }
    this.app = app;
    this.boundPort = (app.server.address() as AddressInfo).port;
    this.opts.log.info({ event: 'setup.listening', host: this.opts.host, port: this.boundPort }, `setup page on port ${this.boundPort}`);
  }

  async stop(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }

  /** Everyone signed out, the password forgotten, a new code on the TV: the box is unclaimed. */
  async factoryReset(): Promise<void> {
    await this.opts.password.clear();
    this.sessions.clear();
    this.opts.code.rotate();
    this.opts.log.warn({ event: 'setup.factory_reset' }, 'setup: admin password cleared, the box is unclaimed');
  }

  private build(page: Map<string, PageFile>): FastifyInstance {
    const logger: FastifyBaseLogger = this.opts.log;
    // No line per request: the journal gets what a person acts on (claims, wrong codes, changes).
    const app = Fastify({ loggerInstance: logger, bodyLimit: BODY_LIMIT, logController: new LogController({ disableRequestLogging: true }) });
    app.addHook('onSend', async (_request, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('content-security-policy', CSP);
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-frame-options', 'DENY');
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    });
    app.setErrorHandler((error, _request, reply) => this.sendError(reply, error));
    app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: { code: 'DC_SETUP_BAD_REQUEST', message: 'no such page' } }));

    // The page: its few files by name, nothing read from disk by a path a request gives.
    for (const [name, file] of page) {
      app.get(name === 'index.html' ? '/' : `/${name}`, async (_request, reply) => reply.header('cache-control', 'no-cache').type(file.type).send(file.body));
    }

    app.post<{ Body: Static<typeof ClaimBody> }>('/api/claim', { schema: { body: ClaimBody } }, async (request, reply) => {
      this.checkNotLocked(request);
      if (await this.opts.password.isSet()) throw new DcError('DC_SETUP_CLAIMED', 'this box is already set up: sign in with its password');
      if (!this.opts.code.matches(request.body.code)) {
        const locked = this.limiter.fail(request.ip);
        // A burst of wrong codes also draws a new one: guesses start over from nothing.
        if (locked) this.opts.code.rotate();
        this.opts.log.warn({ event: 'setup.wrong_code', ip: request.ip, locked }, 'setup: wrong setup code');
        throw new DcError('DC_SETUP_CODE', 'wrong setup code: type the six digits shown on the TV');
      }
      await this.opts.password.set(request.body.password);
      this.limiter.succeed(request.ip);
      this.opts.code.rotate();
      this.sessions.clear();
      this.opts.log.info({ event: 'setup.claimed', ip: request.ip }, 'setup: the box was claimed');
      return this.signIn(reply);
    });

    app.post<{ Body: Static<typeof LoginBody> }>('/api/login', { schema: { body: LoginBody } }, async (request, reply) => {
      this.checkNotLocked(request);
      if (!(await this.opts.password.isSet())) throw new DcError('DC_SETUP_LOGIN', 'this box is not set up yet: claim it with the code on the TV', { claimed: false });
      if (!(await this.opts.password.verify(request.body.password))) {
        const locked = this.limiter.fail(request.ip);
        this.opts.log.warn({ event: 'setup.wrong_password', ip: request.ip, locked }, 'setup: wrong password');
        throw new DcError('DC_SETUP_LOGIN', 'wrong password', { claimed: true });
      }
      this.limiter.succeed(request.ip);
      return this.signIn(reply);
    });

    // Everything below needs a session; changes need its CSRF token too.
    app.register(async (api) => {
      api.addHook('onRequest', async (request) => {
        const session = this.sessions.touch(cookieOf(request, COOKIE));
        if (!session) throw new DcError('DC_SETUP_LOGIN', 'sign in first', { claimed: await this.opts.password.isSet() });
        if (request.method !== 'GET' && request.method !== 'HEAD' && !sameToken(headerOf(request, CSRF_HEADER), session.csrf)) {
          throw new DcError('DC_SETUP_CSRF', `this request needs the ${CSRF_HEADER} header the sign-in gave`);
        }
        request.session = session;
      });
      api.get('/api/session', async (request) => ({ csrf: request.session!.csrf }));
      api.post('/api/logout', async (request, reply) => {
        this.sessions.destroy(request.session!.id);
        return reply.header('set-cookie', `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`).send({ signedOut: true });
      });
      api.get('/api/status', async () => this.opts.status());
      api.get('/api/config', async () => this.opts.config.current);
      api.post<{ Body: Static<typeof ConfigBody> }>('/api/config', { schema: { body: ConfigBody } }, async (request) => {
        const before = this.opts.config.current.revision;
        const next = await this.opts.config.update(request.body.patch, { expectedRevision: request.body.revision });
        this.opts.log.info({ event: 'setup.config_changed', revision: next.revision }, 'setup: settings changed');
        return { revision: next.revision, changed: next.revision !== before };
      });
      // The site and the commune's broker, the first-run form: a broker password is written to
      // its own file only once the rest is known to be valid, so a refused form changes nothing.
      api.post<{ Body: Static<typeof SiteBody> }>('/api/site', { schema: { body: SiteBody } }, async (request) => {
        const { revision, device, fleet } = request.body;
        const patch = {
          device,
          fleet: { url: fleet.url, username: fleet.username, ...(fleet.password !== undefined ? { passwordFile: BROKER_PASSWORD_FILE } : {}) },
        };
        const current = this.opts.config.current;
        if (revision !== current.revision) {
          throw new DcError('DC_CONFIG_STALE_REVISION', `the settings changed since this page read them (revision ${current.revision}, not ${revision}): reload`);
        }
        validateConfig(mergePatch(current, patch));
        if (fleet.password !== undefined) await writeFileAtomic(join(this.opts.stateDir, BROKER_PASSWORD_FILE), `${fleet.password}\n`);
        const next = await this.opts.config.update(patch, { expectedRevision: revision });
        this.opts.log.info({ event: 'setup.site_changed', revision: next.revision }, 'setup: site and broker settings changed');
        return { revision: next.revision };
      });
      api.post<{ Body: Static<typeof ToneBody> }>('/api/test-tone', { schema: { body: ToneBody } }, async (request) => {
        if (!this.opts.playTestTone) throw new DcError('DC_NOT_AVAILABLE', 'this box has no media engine running');
        await this.opts.playTestTone(request.body.seconds);
        return { playing: true, seconds: request.body.seconds };
      });
      api.post('/api/factory-reset', async (_request, reply) => {
        await this.factoryReset();
        return reply.header('set-cookie', `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`).send({ claimed: false });
      });
    });
    return app;
  }

  private checkNotLocked(request: FastifyRequest): void {
    const waitMs = this.limiter.lockedFor(request.ip);
    if (waitMs > 0) throw new DcError('DC_SETUP_LOCKED', `too many wrong tries: wait ${Math.ceil(waitMs / 60_000)} minute(s)`, { retryAfterS: Math.ceil(waitMs / 1000) });
  }

  private signIn(reply: FastifyReply) {
    const session = this.sessions.create();
    reply.header('set-cookie', `${COOKIE}=${session.id}; HttpOnly; SameSite=Strict; Path=/`);
    return { csrf: session.csrf };
  }

  private sendError(reply: FastifyReply, error: unknown) {
    const e = error as { validation?: unknown; statusCode?: number; message?: string; code?: string };
    if (e.validation) return reply.code(400).send({ error: { code: 'DC_SETUP_BAD_REQUEST', message: e.message } });
    if (error instanceof DcError) {
      const retry = error.details?.retryAfterS;
      if (typeof retry === 'number') reply.header('retry-after', String(retry));
      return reply.code(HTTP_STATUS[error.code] ?? 500).send({ error: error.toJSON() });
    }
    // fastify's own: 413 for a body over the limit, 415 for another content type, 400 for bad JSON.
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ error: { code: 'DC_SETUP_BAD_REQUEST', message: e.message ?? 'bad request' } });
    }
    this.opts.log.error({ event: 'setup.error', err: serializeError(error) }, 'setup: request failed');
    return reply.code(500).send({ error: { code: 'DC_INTERNAL', message: 'the box could not do that; see its log' } });
  }
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (headerOf(request, 'cookie') ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}
