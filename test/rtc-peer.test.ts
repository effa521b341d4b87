/**
 * Two boxes in a direct call: each box's media engine (real GStreamer pipelines) and werift
 * peer, RTP crossing on loopback UDP bridges, ICE/DTLS/SRTP between the two peers on
 * 127.0.0.1. Each decodes the other's video and plays its audio; a keyframe request from the
 * far end reaches the encoder.
 */
import t, { type Test } from 'tap';
import { ReceiverEstimatedMaxBitrate, RtcpPayloadSpecificFeedback } from 'werift';
import type { BoxPeer } from '../daemon/rtc/peer.js';
import { boxPeerOn } from './helpers/calls.js';
import { startEngine, type EngineHarness } from './helpers/engine.js';
import { waitUntil } from './helpers/wait.js';

async function box(t: Test, name: string): Promise<{ h: EngineHarness; peer: BoxPeer }> {
  const h = await startEngine(t, { video: { encoders: ['x264enc'] }, rtp: {} });
  const peer = await boxPeerOn(t, h, name);
  return { h, peer };
}

t.test('box to box: each decodes the other; a PLI becomes a keyframe', async (t) => {
  const a = await box(t, 'a');
  const b = await box(t, 'b');
  const offer = await a.peer.createOffer();
  t.match(offer, /a=rtpmap:\d+ H264\/90000/, 'H.264 offered, written H264');
  t.match(offer, /a=rtpmap:\d+ opus\/48000\/2/, 'Opus offered');
  t.match(offer, /useinbandfec=1/, 'with in-band FEC');
  t.match(offer, /a=rtcp-fb:\d+ nack pli/, 'keyframes on picture loss');
  await a.peer.acceptAnswer(await b.peer.answer(offer));
  await waitUntil('both peers connected', () => a.peer.state === 'connected' && b.peer.state === 'connected', { timeoutMs: 15_000 });

  const aDecoded = a.h.count('playout', 'vdec', 'src');
  const bDecoded = b.h.count('playout', 'vdec', 'src');
  const aPlayed = a.h.count('playout', 'speaker', 'sink');
  await waitUntil(
    'each box decodes 30 frames of the other',
    () => aDecoded.count() > 30 && bDecoded.count() > 30,
    { timeoutMs: 20_000 },
    () => ({ a: aDecoded.count(), b: bDecoded.count(), aBridge: a.peer.videoBridge.counters, bBridge: b.peer.videoBridge.counters }),
  );
  t.ok(aDecoded.count() > 30, `a decoded ${aDecoded.count()} frames from b`);
  t.ok(bDecoded.count() > 30, `b decoded ${bDecoded.count()} frames from a`);
  await waitUntil('audio from b plays at a', () => aPlayed.count() > 50, { timeoutMs: 10_000 });
  t.ok(b.peer.audioBridge.counters.received > 50, `b received ${b.peer.audioBridge.counters.received} audio packets`);

  // b loses a picture: its receiver sends a PLI; a's encoder is asked for a keyframe.
  const keyframe = a.peer.waitFor('keyframe', undefined, 5000);
  const receiver = b.peer.pc.getTransceivers().find((x) => x.kind === 'video')!.receiver;
  const ssrc = receiver.tracks[0]?.ssrc;
  t.ok(ssrc, 'b knows the ssrc of a’s video');
  await receiver.sendRtcpPLI(ssrc!);
  const [reason] = await keyframe;
  t.equal(reason, 'pli', 'the PLI reached a and became a keyframe request');

  // b's link gets worse: a bandwidth estimate (REMB) of 600 kbit/s lowers a's encoder bitrate.
  const before = a.h.engine.status().bitrateKbps;
  const lowered = a.peer.waitFor('bitrate', undefined, 5000);
  await b.peer.pc.getTransceivers()[0]!.sender.dtlsTransport.sendRtcp([remb(ssrc!, 600_000)]);
  const [kbps] = await lowered;
  t.ok(kbps < before, `encoder bitrate ${before} → ${kbps} kbit/s`);
  t.equal(a.h.engine.status().bitrateKbps, kbps, 'the engine runs at the new bitrate');
});

/** A REMB for `ssrc`: bitrate = mantissa (18 bits) × 2^exponent. */
function remb(ssrc: number, bitrate: number): RtcpPayloadSpecificFeedback {
  let exponent = 0;
  let mantissa = bitrate;
  while (mantissa >= 1 << 18) {
    mantissa = Math.floor(mantissa / 2);
    exponent++;
  }
  const feedback = new ReceiverEstimatedMaxBitrate({
    senderSsrc: 1,
    mediaSsrc: 0,
    ssrcNum: 1,
    brExp: exponent,
    brMantissa: mantissa,
    bitrate: BigInt(mantissa) << BigInt(exponent),
    ssrcFeedbacks: [ssrc],
  });
  return new RtcpPayloadSpecificFeedback({ feedback });
}

t.test('an ICE restart keeps the call: new credentials, the same DTLS session, media goes on', async (t) => {
  const a = await box(t, 'a');
  const b = await box(t, 'b');
  const first = await a.peer.createOffer();
  await a.peer.acceptAnswer(await b.peer.answer(first));
  await waitUntil('both peers connected', () => a.peer.state === 'connected' && b.peer.state === 'connected', { timeoutMs: 15_000 });
  const bDecoded = b.h.count('playout', 'vdec', 'src');
  await waitUntil('b decodes a', () => bDecoded.count() > 10, { timeoutMs: 20_000 });

  const restart = await a.peer.createOffer({ iceRestart: true });
  const ufrag = (sdp: string) => /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
  const fingerprint = (sdp: string) => /^a=fingerprint:(.+)$/m.exec(sdp)?.[1];
  t.not(ufrag(restart), ufrag(first), 'the restart offer has new ICE credentials');
  t.equal(fingerprint(restart), fingerprint(first), 'and the same DTLS certificate');
  const answer = await b.peer.answer(restart);
  t.not(ufrag(answer), undefined, 'b answers with its own credentials');
  await a.peer.acceptAnswer(answer);

  const before = bDecoded.count();
  const aSentBefore = a.peer.videoBridge.counters.sent;
  await waitUntil(
    'media flows after the restart',
    () => a.peer.state === 'connected' && b.peer.state === 'connected' && bDecoded.count() > before + 30,
    { timeoutMs: 20_000 },
    () => ({ a: a.peer.state, b: b.peer.state, decoded: bDecoded.count() - before, ice: [a.peer.pc.iceConnectionState, b.peer.pc.iceConnectionState] }),
  );
  t.ok(bDecoded.count() - before > 30, `b decoded ${bDecoded.count() - before} more frames after the restart`);
  t.ok(a.peer.videoBridge.counters.sent > aSentBefore, 'a kept sending');
});
