/**
 * The HTTP side of the WHIP/WHEP client against a real HTTP server on 127.0.0.1 that answers
 * as servers do on good and bad days: Link headers, redirects, refused tokens, gone sessions.
 */
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../daemon/log.js';
import { iceFragmentOf, withIceFragment } from '../daemon/rtc/ice-fragment.js';
import { parseIceServerLinks, WhipSession } from '../daemon/rtc/whip.js';

const log = createLogger('silent');
const OUR_FRAGMENT = 'm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=ice-ufrag:ab13\r\na=ice-pwd:pw-after-the-restart-xx\r\na=end-of-candidates\r\n';
const SERVER_FRAGMENT = 'a=ice-ufrag:srv2\r\na=ice-pwd:new-password-of-the-server\r\na=candidate:1 1 udp 2130706431 127.0.0.2 40000 typ host\r\na=end-of-candidates\r\n';
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
    } else if (req.method === 'PATCH' && req.url === '/v2/whip/sessions/abc' && req.headers['if-match'] === '"*"') {
      // An ICE restart (RFC 9725 §4.4.1.2): the server's new credentials, and a new ETag.
      res.writeHead(200, { 'Content-Type': 'application/trickle-ice-sdpfrag', ETag: '"restarted"' });
      res.end(SERVER_FRAGMENT);
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
  t.equal(await session.restartIce(OUR_FRAGMENT), SERVER_FRAGMENT, 'an ICE restart gets the server’s fragment');
  const restart = seen.filter((s) => s.method === 'PATCH').at(-1)!;
  t.match(restart, { headers: { 'if-match': '"*"', 'content-type': 'application/trickle-ice-sdpfrag' }, body: OUR_FRAGMENT });
  t.equal(await session.trickle('a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n'), true);
  t.equal(seen.filter((s) => s.method === 'PATCH').at(-1)!.headers['if-match'], '"restarted"', 'later PATCHes carry the new ETag');
  await session.end();
  t.ok(seen.some((s) => s.method === 'DELETE'), 'DELETE on leave');
});

t.test('ICE fragments: ours from the local SDP, the server’s put into its answer', async (t) => {
  const local = [
    'v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:0', 'a=ice-ufrag:ab12', 'a=ice-pwd:pw-one-two-three-four-5',
    'a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host', 'a=end-of-candidates',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:1', 'a=ice-ufrag:ab12', 'a=ice-pwd:pw-one-two-three-four-5',
    'a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host', '',
  ].join('\r\n');
  const fragment = iceFragmentOf(local);
  t.equal(
    fragment,
    ['m=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:0', 'a=ice-ufrag:ab12', 'a=ice-pwd:pw-one-two-three-four-5', 'a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host', 'a=end-of-candidates', ''].join('\r\n'),
    'the first (bundled) section, its credentials and each candidate once',
  );
  const answer = local.replace(/ab12/g, 'srv1').replace(/pw-one-two-three-four-5/g, 'old-password-of-the-server');
  const merged = withIceFragment(answer, SERVER_FRAGMENT);
  t.equal(merged.match(/^a=ice-ufrag:srv2$/gm)?.length, 2, 'every section takes the new ufrag');
  t.equal(merged.match(/^a=ice-pwd:new-password-of-the-server$/gm)?.length, 2, 'and the new password');
  t.notMatch(merged, /127\.0\.0\.1 50000/, 'the old candidates are gone');
  t.match(merged, /a=mid:0\r\n(?:a=[^\r]*\r\n)*a=candidate:1 1 udp 2130706431 127\.0\.0\.2 40000 typ host\r\n(?:a=end-of-candidates\r\n)?m=audio/, 'the new ones are in the first section');
  t.throws(() => withIceFragment(answer, 'a=candidate:x\r\n'), { code: 'DC_RTC_BAD_SDP' }, 'a fragment without credentials is refused');
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
  // A session the server has forgotten (404 on PATCH): coded with the status, so the call makes a new one.
  const gone = await server(t, (req, res) => {
    if (req.method === 'POST') return void res.writeHead(201, { 'Content-Type': 'application/sdp', Location: '/s/1' }).end(ANSWER);
    res.writeHead(404).end();
  });
  const { session } = await WhipSession.start({ endpoint: `${gone.base}/whip/room`, log }, OFFER);
  await t.rejects(session.restartIce(OUR_FRAGMENT), { code: 'DC_RTC_SERVER', message: /no such room or session/, details: { status: 404 } });
  await session.end();
  t.ok(gone.seen.some((r) => r.method === 'DELETE'), 'DELETE of a gone session is not an error');
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
