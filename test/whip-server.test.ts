/**
 * The WHIP/WHEP test server (helpers/whip-server.ts), proved before the box's clients are run
 * against it: refusals (token, content type, unknown session, an injected 503), a WHIP session
 * that decodes what a webrtcbin client publishes and connects only through candidates trickled
 * by PATCH, a WHEP session that sends VP8 and Opus to a recvonly werift client, DELETE stopping
 * the session's peer, and the redirect of the first POST.
 */
import t from 'tap';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { waitUntil } from './helpers/wait.js';
import { startWebrtcbinPeer } from './helpers/webrtcbin-peer.js';
import { parseSdpFragment, startWhipServer } from './helpers/whip-server.js';
import { browserSessionLines, browserTransportLines } from './helpers/sdp.js';

const TOKEN = 'hall-token-1';
const auth = { Authorization: `Bearer ${TOKEN}` };

function post(url: string, body: string, headers: Record<string, string>, redirect: 'follow' | 'manual' = 'follow'): Promise<Response> {
  return fetch(url, { method: 'POST', headers, body, redirect, signal: AbortSignal.timeout(20_000) });
}

function request(url: string, method: 'PATCH' | 'DELETE', headers: Record<string, string> = {}, body?: string): Promise<Response> {
  return fetch(url, { method, headers, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(10_000) });
}

/** A publisher's offer shaped like a browser's (the session need not connect): H.264 and Opus, sendonly. */
function staticOffer(): string {
  const transport = (mid: string): string[] => browserTransportLines('sendonly', mid);
  return [
    ...browserSessionLines(),
    'm=video 9 UDP/TLS/RTP/SAVPF 102',
    ...transport('0'),
    'a=rtpmap:102 H264/90000',
    'a=rtcp-fb:102 nack pli',
    'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    'a=ssrc:1111 cname:box',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    ...transport('1'),
    'a=rtpmap:111 opus/48000/2',
    'a=ssrc:3333 cname:box',
    '',
  ].join('\r\n');
}

const count = (sdp: string, re: RegExp): number => (sdp.match(re) ?? []).length;

t.test('refusals: an injected 503, the bearer token, the content type, unknown sessions', async (t) => {
  const server = await startWhipServer(t, { token: TOKEN, failWith: 503 });
  const endpoint = `${server.url}/whip/hall`;
  const sdp = { ...auth, 'Content-Type': 'application/sdp' };

  const busy = await post(endpoint, staticOffer(), sdp);
  t.equal(busy.status, 503, 'failWith: the first POST answers 503');
  t.match(await busy.json(), { error: 'injected-failure' }, 'with a JSON body naming the refusal');

  const anonymous = await post(endpoint, staticOffer(), { 'Content-Type': 'application/sdp' });
  t.equal(anonymous.status, 401, 'no token: 401');
  t.match(anonymous.headers.get('www-authenticate'), /^Bearer\b/, 'with WWW-Authenticate: Bearer');
  t.match(await anonymous.json(), { error: 'unauthorized' });
  const wrong = await post(endpoint, staticOffer(), { Authorization: 'Bearer nope', 'Content-Type': 'application/sdp' });
  t.equal(wrong.status, 401, 'a wrong token: 401');
  t.match(wrong.headers.get('www-authenticate'), /^Bearer\b/);

  const text = await post(endpoint, staticOffer(), { ...auth, 'Content-Type': 'text/plain' });
  t.equal(text.status, 415, 'text/plain instead of application/sdp: 415');
  t.match(await text.json(), { error: 'unsupported-media-type' });

  const fragment = 'a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n';
  const patch = await request(`${server.url}/session/nope`, 'PATCH', { ...auth, 'Content-Type': 'application/trickle-ice-sdpfrag' }, fragment);
  t.equal(patch.status, 404, 'PATCH to an unknown session: 404');
  t.equal((await request(`${server.url}/session/nope`, 'DELETE', auth)).status, 404, 'DELETE of an unknown session: 404');
  t.equal((await request(`${server.url}/session/nope`, 'DELETE')).status, 401, 'a session needs the token too');

  server.failNext(429);
  t.equal((await post(`${server.url}/whep/hall`, staticOffer(), sdp)).status, 429, 'failNext: the next POST answers 429');

  t.same(server.sessions(), [], 'no session was made');
  t.same(
    server.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
    [
      'POST /whip/hall 503',
      'POST /whip/hall 401',
      'POST /whip/hall 401',
      'POST /whip/hall 415',
      'PATCH /session/nope 404',
      'DELETE /session/nope 404',
      'DELETE /session/nope 401',
      'POST /whep/hall 429',
    ],
    'the request log has every request with its status',
  );
  t.equal(server.requests[3]!.headers.authorization, `Bearer ${TOKEN}`, 'and the headers the client sent');
  t.equal(server.requests[4]!.body, fragment, 'and the body');
});

t.test('WHIP: a webrtcbin publisher, its candidates trickled by PATCH, decoded by the session; DELETE stops it', async (t) => {
  const server = await startWhipServer(t, { token: TOKEN });
  const client = await startWebrtcbinPeer(t, { name: 'whip client', loopbackOnly: true, width: 320, height: 240 });
  const offer = await client.makeOffer();

  const created = await post(`${server.url}/whip/hall`, offer, { ...auth, 'Content-Type': 'application/sdp' });
  t.equal(created.status, 201, 'a good offer: 201 Created');
  t.equal(created.headers.get('content-type'), 'application/sdp');
  const location = created.headers.get('location') ?? '';
  t.match(location, /^\/session\/[0-9a-f]+$/, 'Location is the relative session path');
  const etag = created.headers.get('etag') ?? '';
  t.match(etag, /^"[0-9a-f]+"$/, 'ETag is a strong entity-tag');
  const link = created.headers.get('link') ?? '';
  t.match(link, '<stun:127.0.0.1:3478>; rel="ice-server"', 'Link: a STUN server');
  t.match(link, /<turn:127\.0\.0\.1:3478\?transport=udp>; rel="ice-server"; username="u"; credential="p"; credential-type="password"/, 'Link: a TURN server with credentials');
  const answer = await created.text();
  t.ok(count(answer, /^a=candidate:/gm) > 0, "the answer carries the session's candidates");
  t.equal(count(answer, /^a=recvonly\r?$/gm), 2, 'WHIP: both m-lines answered recvonly');

  const [session] = server.sessions();
  t.match(session, { kind: 'whip', room: 'hall', location, etag, deleted: false });

  // The publisher learns no candidate of the session: ICE can only succeed by the session
  // checking the publisher's candidates, which reach it by PATCH alone.
  client.send({ type: 'answer', sdp: answer.replace(/^a=(candidate:|end-of-candidates).*\r?\n/gm, '') });
  await client.waitFor('gathering-complete', undefined, 10_000);
  const trickled = client.messages.flatMap((m) => (m.type === 'candidate' ? [m.candidate] : []));
  t.ok(trickled.length > 0, `the publisher gathered ${trickled.length} candidates`);
  const media = /^m=.*$/m.exec(offer)![0];
  const [ufrag, pwd] = [/^a=ice-ufrag:(\S+)/m.exec(offer)![1]!, /^a=ice-pwd:(\S+)/m.exec(offer)![1]!];
  const mid = /^a=mid:(\S+)/m.exec(offer)![1]!;
  const fragment = (u: string, p: string): string =>
    [`a=ice-ufrag:${u}`, `a=ice-pwd:${p}`, media, `a=mid:${mid}`, ...trickled.map((c) => `a=${c}`), 'a=end-of-candidates', ''].join('\r\n');
  const resource = new URL(location, created.url).toString();
  const sdpfrag = { ...auth, 'Content-Type': 'application/trickle-ice-sdpfrag' };

  const patched = await request(resource, 'PATCH', { ...sdpfrag, 'If-Match': etag }, fragment(ufrag, pwd));
  t.equal(patched.status, 204, 'trickled candidates: 204');
  t.same(
    session!.candidates,
    trickled.map((candidate) => ({ candidate, sdpMLineIndex: 0, sdpMid: mid })),
    'each went to the session peer, mapped to m-line 0 by its mid',
  );

  const seen = await session!.peer.waitFor('stats', (m) => m.connectionState === 'connected' && m.video.frames > 20 && m.audio.buffers > 20, 15_000);
  t.equal(seen.connectionState, 'connected', 'the session connected');
  t.ok(seen.video.frames > 20, `it decodes the published video (${seen.video.frames} frames)`);
  t.ok(seen.audio.buffers > 20, `and audio (${seen.audio.buffers} buffers)`);
  t.match(seen.video, { codec: 'H264', width: 320, height: 240 }, "the publisher's H.264 at its size");
  t.equal(seen.audio.codec, 'OPUS');
  t.equal(seen.sent.videoFrames + seen.sent.audioBuffers, 0, 'the WHIP session sends nothing');

  const restart = await request(resource, 'PATCH', { ...sdpfrag, 'If-Match': '*' }, fragment('NeWu', 'aNewPasswordOf22chars+'));
  t.equal(restart.status, 422, 'an ICE restart (If-Match: *, new ufrag/pwd): 422, as RFC 9725 asks of a session without restarts');
  t.match(await restart.json(), { error: 'ice-restart-unsupported' });
  t.equal((await request(resource, 'PATCH', { ...sdpfrag, 'If-Match': '"stale"' }, fragment(ufrag, pwd))).status, 412, 'a stale If-Match: 412');
  t.equal((await request(resource, 'PATCH', { ...auth, 'Content-Type': 'application/sdp' }, fragment(ufrag, pwd))).status, 415, 'PATCH of application/sdp: 415');
  t.equal(session!.peer.lastStats()?.connectionState, 'connected', 'the refused PATCHes left the session connected');

  t.equal((await request(resource, 'DELETE', auth)).status, 200, 'DELETE: 200');
  t.ok(session!.deleted, 'the session is marked deleted');
  t.same(await session!.peer.exited, { code: 0, signal: null }, 'its peer has stopped, cleanly');
  t.equal((await request(resource, 'DELETE', auth)).status, 404, 'DELETE again: 404');
  t.equal((await request(resource, 'PATCH', sdpfrag, fragment(ufrag, pwd))).status, 404, 'PATCH after DELETE: 404');
});

t.test('WHEP: a recvonly werift player receives the VP8 and Opus the session sends', async (t) => {
  const server = await startWhipServer(t, { video: 'vp8', iceServers: [] });
  const feedback = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }];
  const pc = new RTCPeerConnection({
    codecs: {
      video: [
        new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90_000, payloadType: 97, rtcpFeedback: feedback }),
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90_000,
          payloadType: 96,
          rtcpFeedback: feedback,
          parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
        }),
      ],
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2, payloadType: 111 })],
    },
    bundlePolicy: 'max-bundle',
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
  });
  t.teardown(() => pc.close());
  const received = { video: 0, audio: 0, videoPayloadTypes: new Set<number>() };
  for (const kind of ['video', 'audio'] as const) {
    pc.addTransceiver(kind, { direction: 'recvonly' }).onTrack.subscribe((track) =>
      track.onReceiveRtp.subscribe((rtp) => {
        received[kind]++;
        if (kind === 'video') received.videoPayloadTypes.add(rtp.header.payloadType);
      }),
    );
  }
  await pc.setLocalDescription(await pc.createOffer());
  await waitUntil('werift has gathered', () => pc.iceGatheringState === 'complete', { timeoutMs: 5000 });

  const created = await post(`${server.url}/whep/stage`, pc.localDescription!.sdp, { 'Content-Type': 'application/sdp' });
  t.equal(created.status, 201, 'no token configured: the POST needs none');
  t.equal(created.headers.get('link'), null, 'iceServers: [] sends no Link header');
  const answer = await created.text();
  t.equal(count(answer, /^a=sendonly\r?$/gm), 2, 'WHEP: both m-lines answered sendonly');
  const vp8 = /^a=rtpmap:(\d+) VP8\/90000/m.exec(answer);
  t.ok(vp8, 'video: VP8, as the server was told');
  const [session] = server.sessions();
  t.match(session, { kind: 'whep', room: 'stage' });

  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await waitUntil('the player is connected', () => pc.connectionState === 'connected', { timeoutMs: 15_000 }, () => session!.peer.lastStats());
  await waitUntil('the player receives video and audio', () => received.video > 50 && received.audio > 25, { timeoutMs: 10_000 }, () => ({
    received: { ...received, videoPayloadTypes: [...received.videoPayloadTypes] },
    stats: session!.peer.lastStats(),
  }));
  t.ok(received.video > 50, `the player received ${received.video} video RTP packets`);
  t.ok(received.audio > 25, `and ${received.audio} audio RTP packets`);
  t.ok(received.videoPayloadTypes.has(Number(vp8?.[1])), "video arrives with the answer's VP8 payload type");
  const stats = await session!.peer.waitFor('stats', (m) => m.connectionState === 'connected' && m.sent.videoFrames > 0, 5000);
  t.ok(stats.sent.audioBuffers > 0, `the session sent ${stats.sent.videoFrames} frames and ${stats.sent.audioBuffers} audio buffers`);

  t.equal((await request(new URL(session!.location, server.url).toString(), 'DELETE')).status, 200, 'DELETE: 200');
  t.same(await session!.peer.exited, { code: 0, signal: null }, 'the session peer stopped');
});

t.test('redirect: the first POST answers 307 to the real endpoint, which makes the session', async (t) => {
  const server = await startWhipServer(t, { token: TOKEN, redirect: true });
  const headers = { ...auth, 'Content-Type': 'application/sdp' };
  const redirected = await post(`${server.url}/whip/hall`, staticOffer(), headers, 'manual');
  t.equal(redirected.status, 307, '307 Temporary Redirect');
  const target = redirected.headers.get('location') ?? '';
  t.equal(target, '/redirected/whip/hall', 'Location: the real endpoint');

  const created = await post(new URL(target, server.url).toString(), staticOffer(), headers);
  t.equal(created.status, 201, 'the POST to it: 201');
  const answer = await created.text();
  t.equal(count(answer, /^a=recvonly\r?$/gm), 2, 'a sendonly offer is answered recvonly');
  t.match(server.sessions(), [{ kind: 'whip', room: 'hall' }]);
  t.same(
    server.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
    ['POST /whip/hall 307', 'POST /redirected/whip/hall 201'],
  );
});

t.test('parseSdpFragment maps candidates to their m= section and mid', async (t) => {
  const parsed = parseSdpFragment(
    ['a=ice-ufrag:abcd', 'a=ice-pwd:efgh', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=candidate:1 1 udp 1 127.0.0.1 5000 typ host', 'a=mid:a0', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:v1', 'a=candidate:2 1 udp 1 127.0.0.1 5002 typ host', 'a=end-of-candidates'].join('\n'),
  );
  t.same(parsed, {
    ufrag: 'abcd',
    pwd: 'efgh',
    candidates: [
      { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', mline: 0, mid: 'a0' },
      { candidate: 'candidate:2 1 udp 1 127.0.0.1 5002 typ host', mline: 1, mid: 'v1' },
    ],
  });
  t.same(parseSdpFragment('a=candidate:3 1 udp 1 127.0.0.1 5004 typ host\r\n').candidates, [
    { candidate: 'candidate:3 1 udp 1 127.0.0.1 5004 typ host', mline: 0, mid: null },
  ], 'a fragment without m= lines: m-line 0, no mid');
});
