/**
 * The box against a WebRTC stack that is not werift: GStreamer's webrtcbin in its own process
 * (test/peers/webrtcbin-peer.py). webrtcbin decodes the box's video and audio, the box decodes
 * webrtcbin's, and a keyframe request from webrtcbin reaches the box's encoder.
 */
import t, { type Test } from 'tap';
import type { BoxPeer } from '../daemon/rtc/peer.js';
import { boxPeerOn } from './helpers/calls.js';
import { startEngine, type EngineHarness } from './helpers/engine.js';
import { startWebrtcbinPeer, type WebrtcbinPeer } from './helpers/webrtcbin-peer.js';
import { waitUntil } from './helpers/wait.js';

async function theBox(t: Test): Promise<{ h: EngineHarness; peer: BoxPeer }> {
  const h = await startEngine(t, { video: { encoders: ['x264enc'] }, rtp: {} });
  const peer = await boxPeerOn(t, h, 'box');
  return { h, peer };
}

/** webrtcbin's full local description (candidates included) once it has gathered. */
async function fullDescription(peer: WebrtcbinPeer): Promise<string> {
  return (await peer.waitFor('local-description', undefined, 15_000)).sdp;
}

async function bothWaysAndKeyframe(t: Test, box: { h: EngineHarness; peer: BoxPeer }, far: WebrtcbinPeer): Promise<void> {
  await waitUntil('the box is connected', () => box.peer.state === 'connected', { timeoutMs: 20_000 }, () => far.lastStats());
  // webrtcbin decodes the box's picture at its size and hears its tone.
  await waitUntil(
    'webrtcbin decodes the box',
    () => {
      const s = far.lastStats();
      return (s?.video.frames ?? 0) > 30 && (s?.audio.buffers ?? 0) > 50;
    },
    { timeoutMs: 20_000 },
    () => far.lastStats(),
  );
  const seen = far.lastStats()!;
  t.match(seen.video, { width: 640, height: 360 }, `webrtcbin decoded ${seen.video.frames} frames of 640×360 from the box`);
  t.ok((seen.audio.rmsDb ?? -100) > -40, `and its audio, at ${seen.audio.rmsDb} dBFS`);

  // The box decodes webrtcbin's picture and plays its audio.
  const decoded = box.h.count('playout', 'vdec', 'src');
  const played = box.h.count('playout', 'speaker', 'sink');
  await waitUntil('the box decodes webrtcbin', () => decoded.count() > 30 && played.count() > 50, { timeoutMs: 20_000 }, () => ({
    decoded: decoded.count(),
    played: played.count(),
    bridge: box.peer.videoBridge.counters,
  }));
  t.ok(decoded.count() > 30, `the box decoded ${decoded.count()} frames from webrtcbin`);
  t.ok(played.count() > 50, `and played ${played.count()} of its audio buffers`);

  // webrtcbin loses a picture: its PLI becomes a keyframe of the box's encoder.
  const keyframe = box.peer.waitFor('keyframe', undefined, 10_000);
  const before = far.lastStats()!.video.keyframes;
  far.send({ type: 'request-keyframe' });
  const [reason] = await keyframe;
  t.ok(reason === 'pli' || reason === 'fir', `the request reached the box as ${reason}`);
  await waitUntil('webrtcbin receives the new keyframe', () => (far.lastStats()?.video.keyframes ?? 0) > before, { timeoutMs: 10_000 });
  const after = far.lastStats()!.video.keyframes;
  t.ok(after > before, `a new keyframe arrived at webrtcbin (keyframes ${before} → ${after})`);
}

t.test('the box offers, webrtcbin answers: media both ways, keyframe on request', async (t) => {
  const box = await theBox(t);
  const far = await startWebrtcbinPeer(t, { name: 'webrtcbin', loopbackOnly: true });
  const offer = await box.peer.createOffer();
  await far.answer(offer);
  await box.peer.acceptAnswer(await fullDescription(far));
  await bothWaysAndKeyframe(t, box, far);
});

t.test('webrtcbin offers, the box answers', async (t) => {
  const box = await theBox(t);
  // max-compat: webrtcbin's max-bundle marks the second m-line bundle-only (port 0).
  const far = await startWebrtcbinPeer(t, { name: 'webrtcbin', loopbackOnly: true, bundle: 'max-compat' });
  await far.makeOffer();
  const answer = await box.peer.answer(await fullDescription(far));
  far.send({ type: 'answer', sdp: answer });
  await bothWaysAndKeyframe(t, box, far);
});
