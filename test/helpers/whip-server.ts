/**
 * A WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) server for tests, whose WebRTC side is not
 * werift: every session is a GStreamer webrtcbin peer in its own process (webrtcbin-peer.ts).
 * A WHIP session only receives and decodes what the client publishes; a WHEP session sends
 * test video and audio to the client. The HTTP side is a real node:http server on 127.0.0.1,
 * with what a client must cope with: bearer tokens, a redirect, a refused POST, ICE servers in
 * Link headers, trickled candidates by PATCH, sessions ended by DELETE. It logs every request so
 * a test can assert what a client sent.
 */
import { randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import { startWebrtcbinPeer, type WebrtcbinPeer } from './webrtcbin-peer.js';

export type WhipKind = 'whip' | 'whep';

export interface IceServerLink {
  urls: string;
  username?: string;
  credential?: string;
}

/** Announced by default: nothing listens there (the client must parse them, not use them). */
export const DEFAULT_ICE_SERVERS: readonly IceServerLink[] = [
  { urls: 'stun:127.0.0.1:3478' },
  { urls: 'turn:127.0.0.1:3478?transport=udp', username: 'u', credential: 'p' },
];

export interface WhipServerOptions {
  /** Every request must carry `Authorization: Bearer <token>` (default: no check). */
  token?: string;
  /**
   * The first POST answers `307 Temporary Redirect` to `/redirected/<kind>/<room>`, which
   * serves as the endpoint (so do the original paths, from then on). Checked before the token,
   * so the redirected POST shows whether the client carried it across.
   */
  redirect?: boolean;
  /**
   * The next POST answers this status (e.g. 503), with a JSON body, and makes no session (see
   * failNext). Checked after the redirect and before the token.
   */
  failWith?: number;
  /** What a WHEP session sends (default h264); its audio is Opus. */
  video?: 'h264' | 'vp8';
  /** ICE servers in the 201's Link headers (default DEFAULT_ICE_SERVERS; [] sends none). */
  iceServers?: readonly IceServerLink[];
  /** How long a session's peer may take to start and answer with its candidates (default 15 s). */
  answerTimeoutMs?: number;
}

export interface ForwardedCandidate {
  candidate: string;
  sdpMLineIndex: number;
  sdpMid: string | null;
}

export interface WhipServerSession {
  readonly id: string;
  readonly kind: WhipKind;
  readonly room: string;
  /** The resource path given in Location, e.g. `/session/3f2a…`. */
  readonly location: string;
  /** The strong entity-tag of the ICE session, quotes included, as sent in ETag. */
  readonly etag: string;
  readonly offer: string;
  /** The peer's answer with its gathered candidates, as sent in the 201. */
  readonly answer: string;
  readonly peer: WebrtcbinPeer;
  /** Candidates from PATCH requests, in the order they were handed to the peer. */
  readonly candidates: ForwardedCandidate[];
  /** Set by DELETE (the peer is stopped by then). */
  deleted: boolean;
}

export interface RecordedRequest {
  method: string;
  /** Path and query as requested. */
  path: string;
  /** The status answered; 0 while the request is being handled. */
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface WhipServer {
  /** `http://127.0.0.1:<port>`; endpoints are `${url}/whip/<room>` and `${url}/whep/<room>`. */
  readonly url: string;
  /** Every request so far, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Every session made so far, deleted ones included, oldest first. */
  sessions(): WhipServerSession[];
  /** The next POST answers `status` (as options.failWith does). */
  failNext(status: number): void;
  /** Closes the server and stops every session's peer. Idempotent; also run at teardown. */
  stop(): Promise<void>;
}

/** The `error` field of every refusal's JSON body: tests assert these, not the messages. */
export type WhipRefusal =
  | 'unauthorized'
  | 'unsupported-media-type'
  | 'bad-offer'
  | 'not-found'
  | 'method-not-allowed'
  | 'precondition-failed'
  | 'ice-restart-unsupported'
  | 'injected-failure'
  | 'session-failed';

const SDP = 'application/sdp';
const SDPFRAG = 'application/trickle-ice-sdpfrag';
const MAX_BODY = 256 * 1024;

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: WhipRefusal,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Starts the server on a free port of 127.0.0.1; the test's teardown stops it. */
export async function startWhipServer(t: Test, options: WhipServerOptions = {}): Promise<WhipServer> {
  const requests: RecordedRequest[] = [];
  const sessions = new Map<string, WhipServerSession>();
  const iceServers = options.iceServers ?? DEFAULT_ICE_SERVERS;
  let failNextWith = options.failWith;
  let redirectNext = options.redirect ?? false;
  let stopped = false;

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', status: 0, headers: req.headers, body: '' };
    requests.push(record);
    try {
      record.body = await readBody(req);
      const reply = await route(req, record.body);
      send(res, record, reply.status, reply.headers, reply.body);
    } catch (e) {
      const refusal =
        e instanceof Refusal ? e : new Refusal(500, 'session-failed', e instanceof Error ? e.message : String(e));
      send(res, record, refusal.status, { 'Content-Type': 'application/json', ...refusal.headers }, JSON.stringify({ error: refusal.code, message: refusal.message }));
    }
  }

  function send(res: ServerResponse, record: RecordedRequest, status: number, headers: Record<string, string | string[]>, body = ''): void {
    record.status = status;
    if (res.destroyed) return;
    res.writeHead(status, headers);
    res.end(body);
  }

  async function route(req: IncomingMessage, body: string): Promise<Reply> {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const endpoint = /^\/(redirected\/)?(whip|whep)\/([^/]+)$/.exec(path);
    if (endpoint) {
      const [, redirected, kind, room] = endpoint as unknown as [string, string | undefined, WhipKind, string];
      if (req.method === 'OPTIONS') return { status: 204, headers: { Allow: 'OPTIONS, POST', 'Accept-Post': SDP } };
      if (req.method !== 'POST') throw new Refusal(405, 'method-not-allowed', `${req.method} on an endpoint`, { Allow: 'OPTIONS, POST' });
      if (redirectNext && !redirected) {
        // Before the token check: the redirected POST must carry the token again.
        redirectNext = false;
        return { status: 307, headers: { Location: `/redirected/${kind}/${room}` } };
      }
      if (failNextWith !== undefined) {
        const status = failNextWith;
        failNextWith = undefined;
        throw new Refusal(status, 'injected-failure', `this POST was made to fail with ${status}`);
      }
      authorize(req);
      return createSession(req, kind, decodeURIComponent(room), body);
    }
    const resource = /^\/session\/([^/]+)$/.exec(path);
    if (resource) {
      if (req.method !== 'PATCH' && req.method !== 'DELETE') {
        throw new Refusal(405, 'method-not-allowed', `${req.method} on a session`, { Allow: 'PATCH, DELETE' });
      }
      authorize(req);
      const session = sessions.get(resource[1]!);
      if (!session || session.deleted) throw new Refusal(404, 'not-found', `no session ${resource[1]}`);
      return req.method === 'PATCH' ? patchSession(req, session, body) : deleteSession(session);
    }
    throw new Refusal(404, 'not-found', `nothing at ${path}`);
  }

  function authorize(req: IncomingMessage): void {
    if (options.token === undefined) return;
    const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (given !== options.token) {
      throw new Refusal(401, 'unauthorized', given === undefined ? 'no bearer token' : 'wrong bearer token', {
        'WWW-Authenticate': 'Bearer realm="whip-test"',
      });
    }
  }

  async function createSession(req: IncomingMessage, kind: WhipKind, room: string, offer: string): Promise<Reply> {
    if (mediaType(req) !== SDP) throw new Refusal(415, 'unsupported-media-type', `a POST takes ${SDP}, not ${mediaType(req) || 'nothing'}`, { 'Accept-Post': SDP });
    if (!offer.startsWith('v=0') || !/^m=/m.test(offer)) throw new Refusal(400, 'bad-offer', 'the body is not an SDP offer with media');
    if (stopped) throw new Refusal(503, 'session-failed', 'the server is stopping');
    const id = randomBytes(6).toString('hex');
    const timeoutMs = options.answerTimeoutMs ?? 15_000;
    // WHIP: nothing to send, so webrtcbin answers recvonly and decodes what arrives.
    const peer = await startWebrtcbinPeer(t, {
      name: `${kind} session ${id}`,
      loopbackOnly: true,
      video: kind === 'whep' ? (options.video ?? 'h264') : 'none',
      audio: kind === 'whep' ? 'opus' : 'none',
      startTimeoutMs: timeoutMs,
    });
    let answer: string;
    try {
      if (stopped) throw new Error('the server is stopping');
      await peer.answer(offer, timeoutMs);
      // WHIP/WHEP servers do not trickle: the answer carries every candidate.
      answer = (await peer.waitFor('local-description', undefined, timeoutMs)).sdp;
    } catch (e) {
      await peer.stop();
      throw new Refusal(500, 'session-failed', `the ${kind} session's peer did not answer: ${(e as Error).message}`);
    }
    const session: WhipServerSession = {
      id,
      kind,
      room,
      location: `/session/${id}`,
      etag: `"${randomBytes(8).toString('hex')}"`,
      offer,
      answer,
      peer,
      candidates: [],
      deleted: false,
    };
    sessions.set(id, session);
    const headers: Record<string, string | string[]> = {
      'Content-Type': SDP,
      Location: session.location,
      ETag: session.etag,
      'Accept-Patch': SDPFRAG,
    };
    if (iceServers.length > 0) headers.Link = iceServers.map(iceServerLink);
    return { status: 201, headers, body: answer };
  }

  /** Trickled candidates go to the peer (204); an ICE restart is refused (422, RFC 9725 §4.3.1). */
  function patchSession(req: IncomingMessage, session: WhipServerSession, body: string): Reply {
    if (mediaType(req) !== SDPFRAG) throw new Refusal(415, 'unsupported-media-type', `a PATCH takes ${SDPFRAG}`, { 'Accept-Patch': SDPFRAG });
    const fragment = parseSdpFragment(body);
    const ifMatch = req.headers['if-match'];
    const offeredUfrag = /^a=ice-ufrag:(\S+)/m.exec(session.offer)?.[1];
    // RFC 9110 writes the wildcard bare; the WHEP draft's example quotes it: take both.
    const restart = ifMatch === '*' || ifMatch === '"*"';
    if (restart || (fragment.ufrag !== undefined && offeredUfrag !== undefined && fragment.ufrag !== offeredUfrag)) {
      throw new Refusal(422, 'ice-restart-unsupported', 'this server takes trickled candidates but cannot restart ICE');
    }
    if (ifMatch !== undefined && ifMatch !== session.etag) {
      throw new Refusal(412, 'precondition-failed', `If-Match ${ifMatch} is not the ICE session ${session.etag}`);
    }
    const mids = [...session.offer.matchAll(/^a=mid:(\S+)/gm)].map((m) => m[1]!);
    for (const c of fragment.candidates) {
      const byMid = c.mid === null ? -1 : mids.indexOf(c.mid);
      const forwarded: ForwardedCandidate = { candidate: c.candidate, sdpMLineIndex: byMid >= 0 ? byMid : c.mline, sdpMid: c.mid };
      session.candidates.push(forwarded);
      if (session.peer.running()) session.peer.send({ type: 'candidate', ...forwarded });
    }
    return { status: 204, headers: {} };
  }

  async function deleteSession(session: WhipServerSession): Promise<Reply> {
    session.deleted = true;
    await session.peer.stop();
    return { status: 200, headers: {} };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const whipServer: WhipServer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    sessions: () => [...sessions.values()],
    failNext(status) {
      failNextWith = status;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.all([closed, ...[...sessions.values()].map((s) => s.peer.stop())]);
    },
  };
  t.teardown(() => whipServer.stop());
  return whipServer;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[]>;
  body?: string;
}

function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Refusal(413, 'bad-offer', `a body over ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** `<url>; rel="ice-server"` with credentials as RFC 9725 §4.6 writes them. */
export function iceServerLink(server: IceServerLink): string {
  let link = `<${server.urls}>; rel="ice-server"`;
  if (server.username !== undefined) link += `; username="${server.username}"`;
  if (server.credential !== undefined) link += `; credential="${server.credential}"; credential-type="password"`;
  return link;
}

interface FragmentCandidate {
  candidate: string;
  /** The m= section it came under (0 when the fragment has none). */
  mline: number;
  mid: string | null;
}

/**
 * An RFC 8840 fragment: its candidates, each with the m= section and a=mid it came under, and
 * its ICE credentials (new ones mean an ICE restart).
 */
export function parseSdpFragment(body: string): { ufrag?: string; pwd?: string; candidates: FragmentCandidate[] } {
  const result: { ufrag?: string; pwd?: string; candidates: FragmentCandidate[] } = { candidates: [] };
  const mids: Array<string | null> = [null];
  let mline = 0;
  let sections = 0;
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('m=')) {
      // The first m= opens section 0; lines before it (session level) count as section 0 too.
      mline = sections++;
      mids[mline] = null;
    } else if (line.startsWith('a=mid:')) mids[mline] = line.slice('a=mid:'.length);
    else if (line.startsWith('a=ice-ufrag:')) result.ufrag = line.slice('a=ice-ufrag:'.length);
    else if (line.startsWith('a=ice-pwd:')) result.pwd = line.slice('a=ice-pwd:'.length);
    else if (line.startsWith('a=candidate:')) result.candidates.push({ candidate: line.slice(2), mline, mid: null });
  }
  // a=mid may follow the candidates of its section.
  for (const c of result.candidates) c.mid = mids[c.mline] ?? null;
  return result;
}
