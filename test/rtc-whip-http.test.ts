/**
 * The HTTP side of the WHIP/WHEP client against a real HTTP server on 127.0.0.1 that answers
 * as servers do on good and bad days: Link headers, redirects, refused tokens, gone sessions.
 */
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../daemon/log.js';
import { parseIceServerLinks, WhipSession } from '../daemon/rtc/whip.js';

const log = createLogger('silent');
const OFFER = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n';
const ANSWER = 'v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function server(t: Test, handle: (req: Seen, res: ServerResponse) => void): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const http = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const entry = { method: req.method!, url: req.url!, headers: req.headers, body };
      seen.push(entry);
      handle(entry, res);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => http.close(() => resolve())));
  return { base: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, seen };
}

t.test('Link headers become ICE servers', async (t) => {
  const servers = parseIceServerLinks(
    '<stun:stun.example.net>; rel="ice-server", <turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="myPassword"; credential-type="password", <https://example.org/x>; rel="alternate"',
  );
  t.same(servers, [
    { urls: 'stun:stun.example.net' },
    { urls: 'turn:turn.example.net?transport=udp', username: 'user', credential: 'myPassword' },
  ]);
  t.same(parseIceServerLinks(''), []);
  t.same(parseIceServerLinks('garbage; rel=ice-server'), [], 'nothing usable, nothing made up');
});

t.test('a good session: offer with the token, redirect followed, answer, Location, PATCH and DELETE', async (t) => {
  const { base, seen } = await server(t, (req, res) => {
    if (req.method === 'POST' && req.url === '/whip/room') {
      res.writeHead(307, { Location: '/v2/whip/room' }).end();
    } else if (req.method === 'POST' && req.url === '/v2/whip/room') {
      res.writeHead(201, {
        'Content-Type': 'application/sdp',
        Location: 'sessions/abc',
        ETag: '"xyz"',
        Link: '<stun:127.0.0.1:3478>; rel="ice-server"',
      });
      res.end(ANSWER);
    } else if (req.method === 'PATCH' && req.url === '/v2/whip/sessions/abc') {
      res.writeHead(204).end();
    } else if (req.method === 'DELETE' && req.url === '/v2/whip/sessions/abc') {
      res.writeHead(200).end();
    } else {
      res.writeHead(404).end('not here');
    }
  });
  const { session, answer } = await WhipSession.start({ endpoint: `${base}/whip/room`, token: 's3cret', log }, OFFER);
  t.equal(answer.sdp, ANSWER);
  t.same(answer.iceServers, [{ urls: 'stun:127.0.0.1:3478' }]);
  t.equal(session.resource, `${base}/v2/whip/sessions/abc`, 'Location resolved against the redirected URL');
  const posts = seen.filter((s) => s.method === 'POST');
  t.equal(posts.length, 2, 'the POST was repeated at the redirect target');
  for (const post of posts) {
    t.equal(post.headers.authorization, 'Bearer s3cret');
    t.equal(post.headers['content-type'], 'application/sdp');
    t.equal(post.body, OFFER, 'with the offer as its body');
  }
  t.equal(await session.trickle('a=ice-ufrag:x\r\n'), true);
  const patch = seen.find((s) => s.method === 'PATCH')!;
  t.equal(patch.headers['content-type'], 'application/trickle-ice-sdpfrag');
  t.equal(patch.headers['if-match'], '"xyz"');
  await session.end();
  t.ok(seen.some((s) => s.method === 'DELETE'), 'DELETE on leave');
});

t.test('every server failure is a clear, coded reason', async (t) => {
  let status = 401;
  const { base } = await server(t, (req, res) => {
    if (req.method === 'PATCH') return void res.writeHead(404).end();
    if (status === 201) return void res.writeHead(201, { 'Content-Type': 'text/plain' }).end('hi');
    res.writeHead(status).end(status === 503 ? 'overloaded' : '');
  });
  const start = () => WhipSession.start({ endpoint: `${base}/whip/room`, token: 'bad', log }, OFFER);
  await t.rejects(start(), { code: 'DC_RTC_SERVER', message: /access token was refused/, details: { status: 401 } });
  status = 404;
  await t.rejects(start(), { code: 'DC_RTC_SERVER', message: /no such room/ });
  status = 503;
  await t.rejects(start(), { code: 'DC_RTC_SERVER', message: /busy.*overloaded/ });
  status = 201;
  await t.rejects(start(), { code: 'DC_RTC_SERVER', message: /Location/ }, 'a 201 without a session');
  await t.rejects(
    WhipSession.start({ endpoint: 'http://127.0.0.1:9/whip/room', log, timeoutMs: 2000 }, OFFER),
    { code: 'DC_RTC_SERVER', message: /cannot reach the conference server 127\.0\.0\.1:9/ },
    'nothing listening',
  );
});
