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
import type { ConfigStore } from '../config/index.js';
import { DcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Part } from '../part.js';
import type { SetupCode } from './access.js';
import { addSecurityHeaders, cookieOf, headerOf, sendError } from './http.js';
import { FailureLimiter } from './limiter.js';
import { AdminPassword, MAX_PASSWORD } from './password.js';
import { sameToken, Sessions, type Session } from './sessions.js';
import { loadPage, type PageFile } from './page-files.js';
import { mediaRoutes, type SetupMedia } from './routes/media.js';
import { networkRoutes } from './routes/network.js';
import type { NetworkManager } from '../system/network/model.js';
import type { HotspotState } from '../system/network/hotspot.js';
import { settingsRoutes } from './routes/settings.js';
import { systemRoutes, type SystemRoutesOptions } from './routes/system.js';
import { testCallRoutes } from './routes/test-call.js';
import type { TestCall } from './test-call.js';

/** What the page can see and do of the rest of the box; what is missing answers 501. */
export interface SetupBox {
  /** What the status page shows: network, broker, camera, microphone, TV, call, health. */
  status: SystemRoutesOptions['status'];
  version?: string;
  /** The media engine while it runs. */
  media?(): SetupMedia | undefined;
  /** The log as JSON lines, oldest first. */
  logs?(): Promise<string>;
  reboot?(reason: string): Promise<void>;
  testCall?: TestCall;
  /** A broker secret was rewritten: the fleet reconnects with it. */
  fleetSecretsChanged?(): void;
  network?: NetworkManager;
  hotspot?(): HotspotState;
}

export interface SetupServerOptions {
  host: string;
  port: number;
  config: ConfigStore;
  /** The config's folder: the broker's secrets go there, each in its own 0600 file. */
  stateDir: string;
  password: AdminPassword;
  code: SetupCode;
  box: SetupBox;
  log: Logger;
  /** Tests: other limits. */
  limiter?: FailureLimiter;
  sessions?: Sessions;
}

/** Bodies are small JSON: a config patch is a few hundred bytes (a bundle has its own limit). */
export const BODY_LIMIT = 16 * 1024;
const COOKIE = 'dc_session';
const CSRF_HEADER = 'x-csrf-token';

const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD });
const ClaimBody = Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }), password: Password }, { additionalProperties: false });
const LoginBody = Type.Object({ password: Password }, { additionalProperties: false });
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
  private readonly routeList: string[] = [];

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

  /** Every route, as "METHOD /path": the tests check that only the open ones answer without a session. */
  get routes(): string[] {
    return [...this.routeList];
  }

  private build(page: Map<string, PageFile>): FastifyInstance {
    const logger: FastifyBaseLogger = this.opts.log;
    const { box, log } = this.opts;
    // No line per request: the journal gets what a person acts on (claims, wrong codes, changes).
    const app = Fastify({ loggerInstance: logger, bodyLimit: BODY_LIMIT, logController: new LogController({ disableRequestLogging: true }) });
    this.routeList.length = 0;
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) if (method !== 'HEAD') this.routeList.push(`${method} ${route.url}`);
    });
    addSecurityHeaders(app);
    app.setErrorHandler((error, _request, reply) => sendError(reply, error, log));
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
        log.warn({ event: 'setup.wrong_code', ip: request.ip, locked }, 'setup: wrong setup code');
        throw new DcError('DC_SETUP_CODE', 'wrong setup code: type the six digits shown on the TV');
      }
      await this.opts.password.set(request.body.password);
      this.limiter.succeed(request.ip);
      this.opts.code.rotate();
      this.sessions.clear();
      log.info({ event: 'setup.claimed', ip: request.ip }, 'setup: the box was claimed');
      return this.signIn(reply);
    });

    app.post<{ Body: Static<typeof LoginBody> }>('/api/login', { schema: { body: LoginBody } }, async (request, reply) => {
      this.checkNotLocked(request);
      if (!(await this.opts.password.isSet())) throw new DcError('DC_SETUP_LOGIN', 'this box is not set up yet: claim it with the code on the TV', { claimed: false });
      if (!(await this.opts.password.verify(request.body.password))) {
        const locked = this.limiter.fail(request.ip);
        log.warn({ event: 'setup.wrong_password', ip: request.ip, locked }, 'setup: wrong password');
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
        return this.signOut(reply).send({ signedOut: true });
      });
      api.post('/api/factory-reset', async (_request, reply) => {
        await this.factoryReset();
        return this.signOut(reply).send({ claimed: false });
      });
      systemRoutes(api, {
        status: box.status,
        version: box.version ?? 'unknown',
        boxId: () => this.opts.config.current.device.id,
        ...(box.logs ? { logs: box.logs } : {}),
        ...(box.reboot ? { reboot: box.reboot } : {}),
        log,
      });
      const joinWifi = box.network
        ? async (wifi: { ssid: string; password?: string | undefined }) => {
            await box.network!.joinWifi({ ssid: wifi.ssid, ...(wifi.password !== undefined ? { password: wifi.password } : {}) });
          }
        : undefined;
      settingsRoutes(api, { config: this.opts.config, stateDir: this.opts.stateDir, secretsChanged: () => box.fleetSecretsChanged?.(), ...(joinWifi ? { joinWifi } : {}), log });
      networkRoutes(api, { ...(box.network ? { network: box.network } : {}), ...(box.hotspot ? { hotspot: box.hotspot } : {}), log });
      mediaRoutes(api, () => box.media?.());
      testCallRoutes(api, box.testCall);
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

  private signOut(reply: FastifyReply): FastifyReply {
    return reply.header('set-cookie', `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
  }
}
