/**
 * The independent webrtcbin peer (test/peers/webrtcbin-peer.py), proved against itself before
 * it is used against the box: two instances negotiate over the JSON-lines protocol, connect by
 * ICE on 127.0.0.1 only, and each decodes the other's video (frames rising, the sender's size)
 * and audio (buffers rising, a sine well above silence). A keyframe request travels as PLI and
 * reaches the far encoder.
 */
import t, { type Test } from 'tap';
import { relayCandidates, startWebrtcbinPeer, type WebrtcbinPeer } from './helpers/webrtcbin-peer.js';
import { browserSessionLines, browserTransportLines } from './helpers/sdp.js';

const A_SIZE = { width: 320, height: 240 };
const B_SIZE = { width: 352, height: 288 };
/** A 440 Hz sine at volume 0.5 decodes at about -9 dBFS; silence reports -200. */
const AUDIBLE_DB = -30;

async function startPair(t: Test, video: 'h264' | 'vp8'): Promise<[WebrtcbinPeer, WebrtcbinPeer]> {
  const common = { video, audio: 'opus', fps: 30, loopbackOnly: true } as const;
  return Promise.all([
    startWebrtcbinPeer(t, { ...common, ...A_SIZE, name: `A (${video})` }),
    startWebrtcbinPeer(t, { ...common, ...B_SIZE, name: `B (${video})` }),
  ]);
}

/** Both peers connected, each decoding what the other sends, at the sender's size. */
async function expectMediaBothWays(t: Test, a: WebrtcbinPeer, b: WebrtcbinPeer, codec: 'H264' | 'VP8'): Promise<void> {
  const states = await Promise.all([a, b].map((p) => p.waitFor('state', (m) => m.connectionState === 'connected', 10_000)));
  t.same(
    states.map((m) => m.connectionState),
    ['connected', 'connected'],
    'both peers reach connectionState connected',
  );

  for (const [receiver, size] of [[a, B_SIZE], [b, A_SIZE]] as const) {
    const seen = await receiver.waitFor(
      'stats',
      (m) => m.video.frames > 30 && m.video.width !== null && m.audio.buffers > 25 && m.audio.rmsDb !== null && m.audio.rmsDb > AUDIBLE_DB,
      10_000,
    );
    t.comment(`${receiver.name} receives: ${JSON.stringify({ video: seen.video, audio: seen.audio })}`);
    t.equal(seen.video.codec, codec, `${receiver.name} receives ${codec}`);
    t.same([seen.video.width, seen.video.height], [size.width, size.height], `${receiver.name} decodes the far picture at ${size.width}x${size.height}`);
    t.equal(seen.audio.codec, 'OPUS', `${receiver.name} receives Opus`);
    t.ok(seen.audio.rmsDb! > AUDIBLE_DB, `${receiver.name} hears the sine above silence (${seen.audio.rmsDb} dBFS)`);

    // Still flowing: later reports count more frames and buffers.
    const later = await receiver.waitFor('stats', (m) => m.video.frames >= seen.video.frames + 20 && m.audio.buffers >= seen.audio.buffers + 20, 5000);
    t.ok(later.video.frames >= seen.video.frames + 20, `${receiver.name}: decoded frames keep rising (${seen.video.frames} → ${later.video.frames})`);
    t.ok(later.audio.buffers >= seen.audio.buffers + 20, `${receiver.name}: audio buffers keep rising (${seen.audio.buffers} → ${later.audio.buffers})`);
  }
}

/** B asks for a keyframe: A's encoder gets the request (PLI → force-key-unit) and B keeps decoding. */
async function expectKeyframeRequestHonoured(t: Test, a: WebrtcbinPeer, b: WebrtcbinPeer): Promise<void> {
  const sentBefore = a.lastStats()!.sent;
  const receivedBefore = b.lastStats()!.video;
  b.send({ type: 'request-keyframe' });
  const requested = await b.waitFor('keyframe-requested', () => true, 3000);
  t.ok(requested.handled, 'the force-key-unit event was accepted upstream of the received video');
  const after = await a.waitFor(
    'stats',
    (m) => m.sent.keyframeRequests > sentBefore.keyframeRequests && m.sent.keyframes > sentBefore.keyframes,
    5000,
  );
  t.ok(after.sent.keyframeRequests > sentBefore.keyframeRequests, `A's encoder got the keyframe request (${sentBefore.keyframeRequests} → ${after.sent.keyframeRequests})`);
  t.ok(after.sent.keyframes > sentBefore.keyframes, `A encoded a keyframe after it (${sentBefore.keyframes} → ${after.sent.keyframes})`);
  const decoded = await b.waitFor('stats', (m) => m.video.keyframes > receivedBefore.keyframes && m.video.frames >= receivedBefore.frames + 30, 5000);
  t.ok(decoded.video.keyframes > receivedBefore.keyframes, `B received the new keyframe (${receivedBefore.keyframes} → ${decoded.video.keyframes})`);
  t.ok(decoded.video.frames >= receivedBefore.frames + 30, `B keeps decoding after the request (${receivedBefore.frames} → ${decoded.video.frames})`);
}

async function expectCleanStop(t: Test, peers: WebrtcbinPeer[]): Promise<void> {
  for (const p of peers) t.same(p.messages.filter((m) => m.type === 'error'), [], `${p.name} reported no error`);
  const exits = await Promise.all(peers.map((p) => p.stop()));
  t.same(exits, peers.map(() => ({ code: 0, signal: null })), 'both peers stop on {"type":"stop"} and exit 0');
}

const hostCandidateAddress = (candidate: string): string | undefined => candidate.replace(/^a=/, '').split(' ')[4];

t.test('H.264 + Opus between two webrtcbin peers, trickle ICE on 127.0.0.1', async (t) => {
  const [a, b] = await startPair(t, 'h264');
  const relayed: string[] = [];
  a.on('candidate', (m) => relayed.push(m.candidate));
  b.on('candidate', (m) => relayed.push(m.candidate));
  relayCandidates(a, b);

  const offer = await a.makeOffer();
  t.match(offer, /^a=group:BUNDLE \S+ \S+\r?$/m, 'max-bundle: one BUNDLE group of both m-lines');
  t.match(offer, /^a=rtpmap:\d+ H264\/90000/m, 'the offer has H.264');
  t.match(offer, /^a=fmtp:\d+ .*packetization-mode=1/m, 'H.264 with packetization-mode 1');
  t.match(offer, /^a=fmtp:\d+ .*profile-level-id=42[ce]0[0-9a-f]{2}/im, 'constrained baseline profile-level-id');
  t.match(offer, /^a=rtcp-fb:\d+ nack pli/m, 'the offer lets the far end ask for keyframes (nack pli)');
  t.match(offer, /^a=rtpmap:\d+ OPUS\/48000\/2/m, 'the offer has Opus');

  const answer = await b.answer(offer);
  t.equal((answer.match(/^a=sendrecv/gm) ?? []).length, 2, 'B answers both m-lines sendrecv');
  t.notMatch(answer, /sprop-parameter-sets/, "B's answer does not echo A's SPS/PPS");
  a.send({ type: 'answer', sdp: answer });

  await expectMediaBothWays(t, a, b, 'H264');
  t.ok(relayed.length >= 2, `candidates were trickled both ways (${relayed.length})`);
  t.same(
    relayed.filter((c) => hostCandidateAddress(c) !== '127.0.0.1' || !/ UDP /i.test(c)),
    [],
    'every trickled candidate is UDP on 127.0.0.1',
  );
  await expectKeyframeRequestHonoured(t, a, b);
  await expectCleanStop(t, [a, b]);
});

t.test('VP8 + Opus between two webrtcbin peers, full SDP after gathering (no trickle)', async (t) => {
  const [a, b] = await startPair(t, 'vp8');

  const offer = await a.makeOffer();
  t.match(offer, /^a=rtpmap:\d+ VP8\/90000/m, 'the offer has VP8');
  const fullOffer = (await a.waitFor('local-description', () => true, 10_000)).sdp;
  await b.answer(fullOffer);
  const fullAnswer = (await b.waitFor('local-description', () => true, 10_000)).sdp;
  for (const [who, sdp] of [['A', fullOffer], ['B', fullAnswer]] as const) {
    const candidates = sdp.match(/^a=candidate:.*$/gm) ?? [];
    t.ok(candidates.length > 0, `${who}'s gathered description carries its candidates (${candidates.length})`);
    t.same(candidates.filter((c) => hostCandidateAddress(c.trim()) !== '127.0.0.1'), [], `${who}'s candidates are all on 127.0.0.1`);
  }
  a.send({ type: 'answer', sdp: fullAnswer });

  await expectMediaBothWays(t, a, b, 'VP8');
  await expectKeyframeRequestHonoured(t, a, b);
  await expectCleanStop(t, [a, b]);
});

/** An offer shaped like a browser's: several H.264 profiles, RTX, header extensions, mids 0/1. */
function browserStyleOffer(): string {
  const h264 = (pt: number, rtx: number, fmtp: string): string[] => [
    `a=rtpmap:${pt} H264/90000`,
    `a=rtcp-fb:${pt} nack`,
    `a=rtcp-fb:${pt} nack pli`,
    `a=fmtp:${pt} level-asymmetry-allowed=1;${fmtp}`,
    `a=rtpmap:${rtx} rtx/90000`,
    `a=fmtp:${rtx} apt=${pt}`,
  ];
  const transport = browserTransportLines('sendrecv');
  return [
    ...browserSessionLines(),
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 127 125',
    ...transport,
    'a=mid:0',
    'a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=rtpmap:96 VP8/90000',
    'a=rtpmap:97 rtx/90000',
    'a=fmtp:97 apt=96',
    ...h264(102, 103, 'packetization-mode=1;profile-level-id=42001f'),
    ...h264(104, 105, 'packetization-mode=0;profile-level-id=42e01f'),
    ...h264(106, 107, 'packetization-mode=1;profile-level-id=42e01f'),
    ...h264(127, 125, 'packetization-mode=1;profile-level-id=4d001f'),
    'a=ssrc-group:FID 1111 2222',
    'a=ssrc:1111 cname:abc',
    'a=ssrc:2222 cname:abc',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126',
    ...transport,
    'a=mid:1',
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:126 telephone-event/8000',
    'a=ssrc:3333 cname:abc',
    '',
  ].join('\r\n');
}

t.test("answers a browser-style offer with the offer's constrained-baseline H.264 and Opus", async (t) => {
  const p = await startWebrtcbinPeer(t, { video: 'h264', audio: 'opus', width: 320, height: 240, loopbackOnly: true, name: 'answerer' });
  const answer = await p.answer(browserStyleOffer());
  const video = answer.slice(answer.indexOf('m=video'), answer.indexOf('m=audio'));
  const audio = answer.slice(answer.indexOf('m=audio'));
  t.match(video, /^m=video 9 UDP\/TLS\/RTP\/SAVPF 106( 107)?\r?$/m, 'video answered with payload type 106 only (packetization-mode 1, 42e01f)');
  t.match(video, /^a=fmtp:106 .*profile-level-id=42e01f/m, "the answer names the offer's profile-level-id");
  t.notMatch(video, /sprop-parameter-sets/, 'no SPS/PPS in the answer (they go in-band)');
  t.match(video, /^a=sendrecv/m, 'video answered sendrecv');
  t.match(audio, /^m=audio 9 UDP\/TLS\/RTP\/SAVPF 111\r?$/m, 'audio answered with Opus 111 only');
  t.match(audio, /^a=sendrecv/m, 'audio answered sendrecv');
  t.same(p.messages.filter((m) => m.type === 'error'), [], 'no error');
  t.same(await p.stop(), { code: 0, signal: null }, 'exits 0 on stop');
});

t.test('a bad command gets an error message and the peer keeps running', async (t) => {
  const p = await startWebrtcbinPeer(t, { video: 'none', audio: 'none', loopbackOnly: true, name: 'lonely' });
  p.send({ type: 'answer', sdp: 'this is not SDP' });
  const error = await p.waitFor('error', () => true, 3000);
  t.match(error.message, /does not parse/, 'an unparsable SDP is refused with a message');
  p.send({ type: 'request-keyframe' });
  t.match((await p.waitFor('error', (m) => /request-keyframe/.test(m.message), 3000)).message, /no video/, 'request-keyframe with nothing received is refused');
  const stats = await p.waitFor('stats', () => true, 2000);
  t.equal(stats.connectionState, 'new', 'still reporting stats afterwards');
  t.same(await p.stop(), { code: 0, signal: null }, 'exits 0 on stop');
});
