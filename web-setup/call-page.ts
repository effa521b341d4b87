/**
 * The call page: a meeting host opens it in Chrome on a laptop and calls a box directly,
 * with the same MQTT signalling as box↔box calls (docs/mqtt-api.md, "Direct calls"). The page
 * is three static files plus mqtt.js's browser bundle and a `config.json` naming the broker.
 * The daemon's setup server mounts it with `registerCallPage`; `startCallPageServer` runs it
 * alone (on the host's laptop, say, where `http://localhost` lets the browser open the camera).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import type { Logger } from '../daemon/log.js';
import { loadPageFiles, webSetupDir, type PageFile } from '../daemon/setup/page-files.js';

export interface CallPageBroker {
  /** The broker's MQTT-over-WebSocket address as the browser reaches it (`ws://…` or `wss://…`). */
  wsUrl: string;
  /** Prefilled user id; the broker's ACL must treat it like a box (`diemcau/%u/#`). */
  username?: string;
  /**
   * Prefilled password. `config.json` gives it to anyone who can load the page: only set it
   * where that is the host alone (localhost, a trusted LAN).
   */
  password?: string;
}

export interface CallPageIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface CallPageOptions {
  /** Where the page lives (default `/call`). */
  prefix?: string;
  broker: CallPageBroker;
  /** STUN/TURN servers for the browser (none by default: LAN and loopback need none). */
  iceServers?: CallPageIceServer[];
}

export interface CallPageServer {
  /** The page's address, ending in `/` (e.g. `http://127.0.0.1:8090/call/`). */
  url: string;
  close(): Promise<void>;
}

/** The page's own files, by the name the browser asks for. */
const PAGE_FILES = ['index.html', 'call.js', 'call.css'] as const;

async function loadAssets(): Promise<Map<string, PageFile>> {
  const assets = await loadPageFiles(webSetupDir('call'), PAGE_FILES);
  // mqtt.js's own browser build, found the way Node finds the package (its exports map
  // allows `mqtt/dist/*`), so the page needs no bundler and no CDN.
  const mqttBundle = createRequire(import.meta.url).resolve('mqtt/dist/mqtt.esm');
  assets.set('mqtt.esm.js', { body: await readFile(mqttBundle), type: 'text/javascript; charset=utf-8' });
  return assets;
}

/**
 * Everything from this server; media and the broker are the only things the page reaches
 * beyond it (camera pictures are MediaStreams, which CSP does not gate).
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The page as a fastify plugin whose routes are relative to the instance it is registered on:
 * `app.register(callPagePlugin, { prefix: '/call', broker })` (fastify applies the prefix).
 */
export const callPagePlugin: FastifyPluginAsync<CallPageOptions> = async (app, options) => {
  const assets = await loadAssets();
  const config = JSON.stringify({
    broker: {
      wsUrl: options.broker.wsUrl,
      ...(options.broker.username !== undefined ? { username: options.broker.username } : {}),
      ...(options.broker.password !== undefined ? { password: options.broker.password } : {}),
    },
    iceServers: options.iceServers ?? [],
  });

  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('content-security-policy', CSP);
    reply.header('referrer-policy', 'no-referrer');
    // A firmware update changes these files: the browser asks again rather than keeping an old page.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-cache');
  });

  const serve = (name: string) => async (_request: unknown, reply: FastifyReply) => {
    const asset = assets.get(name)!;
    return reply.type(asset.type).send(asset.body);
  };
  app.get('/', { prefixTrailingSlash: 'slash' }, serve('index.html'));
  if (app.prefix !== '') {
    // `/call` without the slash: the page's relative links (./call.js) need the slash.
    app.get('/', { prefixTrailingSlash: 'no-slash' }, async (request, reply) => {
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
      return reply.redirect(`${app.prefix}/${query}`, 308);
    });
  }
  for (const name of PAGE_FILES) app.get(`/${name}`, serve(name));
  app.get('/mqtt.esm.js', serve('mqtt.esm.js'));
  app.get('/config.json', async (_request, reply) => {
    // It may carry a password: never kept by the browser or a proxy.
    return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(config);
  });
};

/**
 * Mounts the call page on `app` under `options.prefix` (default `/call`): `/call/` (the page),
 * `call.js`, `call.css`, `mqtt.esm.js` and `config.json`. Call it directly
 * (`await registerCallPage(app, { broker })`); to use fastify's own `register`, take
 * `callPagePlugin`.
 */
export async function registerCallPage(app: FastifyInstance, options: CallPageOptions): Promise<void> {
  const prefix = normalizePrefix(options.prefix ?? '/call');
  await app.register(callPagePlugin, { ...options, prefix });
}

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '');
  if (trimmed === '') return '';
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(trimmed)) throw new TypeError(`call page prefix ${JSON.stringify(prefix)}: a path such as /call`);
  return trimmed;
}

/** The call page alone on `host:port` (port 0: any free one), for a laptop or a test. */
export async function startCallPageServer(options: {
  host: string;
  port: number;
  broker: CallPageBroker;
  iceServers?: CallPageIceServer[];
  prefix?: string;
  log?: Logger;
}): Promise<CallPageServer> {
  // Typed as fastify's base logger so the instance is the plain FastifyInstance plugins take.
  const logger: FastifyBaseLogger | undefined = options.log;
  const app = logger ? Fastify({ loggerInstance: logger }) : Fastify({ logger: false });
  try {
    await registerCallPage(app, {
      broker: options.broker,
      ...(options.iceServers ? { iceServers: options.iceServers } : {}),
      ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    });
    await app.listen({ host: options.host, port: options.port });
  } catch (e) {
    await app.close();
    throw e;
  }
  const { port } = app.server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const prefix = normalizePrefix(options.prefix ?? '/call');
  return { url: `http://${host}:${port}${prefix}/`, close: () => app.close() };
}
