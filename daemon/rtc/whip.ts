import { DcError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * The HTTP side of WHIP (RFC 9725, publishing) and WHEP (draft-ietf-wish-whep, playing): one
 * POST of an SDP offer makes a session on the server, whose answer and resource URL come back;
 * PATCH sends trickled candidates; DELETE ends it. Both protocols are the same exchange —
 * only the offer's direction differs — so one client serves both.
 */
export interface IceServerLink {
  urls: string;
  username?: string;
  credential?: string;
}

export interface WhipSessionOptions {
  /** The endpoint, e.g. `https://sfu.xa-example.vn/whip/hop-xa`. */
  endpoint: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Each HTTP request's deadline (default 10 s). */
  timeoutMs?: number;
  log: Logger;
}

export interface WhipAnswer {
  sdp: string;
  /** ICE servers the server offers in `Link: <…>; rel="ice-server"` headers. */
  iceServers: IceServerLink[];
  /** Whether the server takes trickled candidates (it answered with an ETag, RFC 9725 §4.3). */
  etag: string | undefined;
}

/** An established WHIP or WHEP session: its resource URL, for PATCH and DELETE. */
export class WhipSession {
  private constructor(
    readonly resource: string,
    private readonly opts: WhipSessionOptions,
    private etag: string | undefined,
  ) {}

  /** POSTs the offer; resolves with the session and the server's answer, or throws a coded reason. */
  static async start(opts: WhipSessionOptions, offerSdp: string): Promise<{ session: WhipSession; answer: WhipAnswer }> {
    const response = await request(opts, opts.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: offerSdp,
    });
    if (response.status !== 201) throw await failure(response, 'the server did not accept the offer');
    const location = response.headers.get('location');
    if (!location) throw new DcError('DC_RTC_SERVER', 'the server answered without a Location for the session', { status: 201 });
    const type = response.headers.get('content-type') ?? '';
    if (!type.startsWith('application/sdp')) {
      throw new DcError('DC_RTC_SERVER', `the server answered ${type || 'without a content type'}, not an SDP`, { status: 201 });
    }
    // The resource URL is relative to the URL the POST finally reached (after redirects).
    const resource = new URL(location, response.url || opts.endpoint).toString();
    const etag = response.headers.get('etag') ?? undefined;
    const answer: WhipAnswer = { sdp: await response.text(), iceServers: parseIceServerLinks(response.headers.get('link') ?? ''), etag };
    opts.log.info({ event: 'rtc.whip_session', resource, iceServers: answer.iceServers.length }, 'conference session created');
    return { session: new WhipSession(resource, opts, etag), answer };
  }

  /** Sends trickled candidates (an SDP fragment); false when the server does not take them. */
  async trickle(fragment: string): Promise<boolean> {
    const response = await request(this.opts, this.resource, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', ...(this.etag ? { 'If-Match': this.etag } : {}) },
      body: fragment,
    });
    if (response.status === 204 || response.status === 200) return true;
    if (response.status === 405 || response.status === 501) return false;
    throw await failure(response, 'the server refused the candidates');
  }

  /**
   * Restarts ICE on the server (RFC 9725 §4.4.1.2): our new credentials and candidates go by
   * PATCH with `If-Match: "*"`; the server's come back as a fragment. Throws a coded reason with
   * the HTTP status in `details.status` (422/405/501: the server cannot restart ICE; 404: the
   * session is gone) so the caller can fall back to a new session.
   */
  async restartIce(fragment: string): Promise<string> {
    const response = await request(this.opts, this.resource, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', 'If-Match': '"*"' },
      body: fragment,
    });
    if (response.status !== 200) throw await failure(response, 'the server did not restart ICE');
    this.etag = response.headers.get('etag') ?? this.etag;
    return response.text();
  }

  /** Ends the session on the server; a session already gone (404) is not an error. */
  async end(): Promise<void> {
    const response = await request(this.opts, this.resource, { method: 'DELETE' });
    if (response.ok || response.status === 404) return;
    throw await failure(response, 'the server did not end the session');
  }
}

async function request(opts: WhipSessionOptions, url: string, init: RequestInit): Promise<Response> {
  const headers = new Headers(init.headers);
  if (opts.token) headers.set('Authorization', `Bearer ${opts.token}`);
  try {
    // fetch follows 307/308 with the method and body kept, as RFC 9725 §4.5 asks.
    return await fetch(url, { ...init, headers, redirect: 'follow', signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    throw new DcError('DC_RTC_SERVER', `cannot reach the conference server ${new URL(url).host}: ${cause}`, { url }, { cause: e });
  }
}

/** Every HTTP failure as a reason a person can act on. */
async function failure(response: Response, what: string): Promise<DcError> {
  const body = (await response.text().catch(() => '')).slice(0, 200).trim();
  const reason =
    response.status === 401 || response.status === 403
      ? 'the access token was refused'
      : response.status === 404
        ? 'no such room or session on the server'
        : response.status === 422 || response.status === 405 || response.status === 501
          ? 'the server does not support this'
        : response.status === 415
          ? 'the server does not take SDP offers there'
          : response.status === 429 || response.status === 503
            ? 'the server is busy; try again later'
            : `HTTP ${response.status}`;
  return new DcError('DC_RTC_SERVER', `${what}: ${reason}${body ? ` (${body})` : ''}`, { status: response.status });
}

/**
 * ICE servers from `Link` headers (RFC 9725 §4.4): `<turn:turn.example:3478>; rel="ice-server";
 * username="u"; credential="p"; credential-type="password"`, several comma-separated.
 */
export function parseIceServerLinks(header: string): IceServerLink[] {
  const servers: IceServerLink[] = [];
  // Split on commas outside <> and quotes.
  const links = header.match(/<[^>]*>(?:\s*;\s*[^,;=]+(?:=(?:"[^"]*"|[^,;]*))?)*/g) ?? [];
  for (const link of links) {
    const url = /^<([^>]*)>/.exec(link)?.[1];
    const params = new Map<string, string>();
    for (const [, key, quoted, bare] of link.matchAll(/;\s*([^=;\s]+)\s*(?:=\s*(?:"([^"]*)"|([^;,\s]*)))?/g)) {
      params.set(key!.toLowerCase(), quoted ?? bare ?? '');
    }
    if (!url || params.get('rel') !== 'ice-server' || !/^(stun|stuns|turn|turns):/.test(url)) continue;
    const server: IceServerLink = { urls: url };
    const username = params.get('username');
    const credential = params.get('credential');
    if (username !== undefined) server.username = username;
    if (credential !== undefined) server.credential = credential;
    servers.push(server);
  }
  return servers;
}
