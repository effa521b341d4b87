/**
 * The controls a call or the fleet console uses, checked on what they really change: the bytes
 * on the wire, the keyframes in the RTP stream, the element properties, the pictures.
 */
import t, { type Test } from 'tap';
import { DcError } from '../daemon/errors.js';
import type { Gst } from '../daemon/media/gst.js';
import { pipelineState, startEngine, type EngineOptions } from './helpers/engine.js';
import { udpCollector, type UdpCollector } from './helpers/ports.js';
import { parseJpeg } from './helpers/jpeg.js';
import { changedShare, grayFrame, lastSample, savePng, type GrayFrame } from './helpers/pictures.js';
import { H264FrameTracker, parseRtp } from './helpers/rtp.js';
import { caught, delay, waitUntil } from './helpers/wait.js';
import { renderScreen } from '../daemon/screen/art.js';

/** An engine that sends its video RTP to a socket of ours (the "far end"); nothing comes back. */
async function sendingTo(t: Test, o: EngineOptions, keepData = false): Promise<{ far: UdpCollector } & Awaited<ReturnType<typeof startEngine>>> {
  const far = await udpCollector(keepData);
  t.teardown(() => far.close());
  const h = await startEngine(t, { ...o, rtp: { sendVideoPort: far.port } });
  await waitUntil('RTP video arrives', () => far.packets.length > 0, { timeoutMs: 10_000 });
  return { far, ...h };
}

/** Bits per second of what arrives at `far` over `ms`. */
async function measureKbps(far: UdpCollector, ms: number): Promise<number> {
  const before = far.bytes();
  const start = performance.now();
  await delay(ms);
  return ((far.bytes() - before) * 8) / (performance.now() - start);
}

const prop = <T>(object: Gst.Object | Gst.Element | Gst.Pad | null | undefined, name: string): T => (object as unknown as Record<string, T>)[name]!;

/**
 * Snow does not compress: the encoder spends all it is allowed, so the wire shows its target.
 * Keyframes every 10 s keep IDRs out of the measurement: an IDR of snow empties x264's 500 ms
 * rate buffer, and with the default 2 s interval x264 then averages ~30% under a 500 kbit/s
 * target (measured 330-360 kbit/s) — rate control is what is tested here, not keyframe cost.
 * Timeline from the first packet: 1.5 s settle, 3 s measured, change, 1.5 s settle, 3 s
 * measured: done by 9 s, before the next keyframe at 10 s.
 */
async function bitrateFollows(t: Test, encoder: 'x264enc' | 'vp8enc', pattern: string, size: '1280x720' | '640x360'): Promise<void> {
  const h = await sendingTo(t, { pattern, video: { size, encoders: [encoder], bitrateKbps: 2000, keyframeIntervalS: 10 } });
  await delay(1500); // rate control settles after the first keyframe
  const before = await measureKbps(h.far, 3000);
  h.engine.setBitrate(500);
  t.equal(h.engine.status().bitrateKbps, 500, 'status reports the new bitrate');
  await delay(1500); // the encoder's rate buffer drains at the new rate
  const after = await measureKbps(h.far, 3000);
  t.comment(`${encoder}: ${before.toFixed(0)} kbit/s at 2000, ${after.toFixed(0)} kbit/s at 500`);
  t.ok(Math.abs(before - 2000) <= 0.35 * 2000, `at 2000 kbit/s the wire carries ${before.toFixed(0)} kbit/s (±35%)`);
  t.ok(Math.abs(after - 500) <= 0.35 * 500, `at 500 kbit/s the wire carries ${after.toFixed(0)} kbit/s (±35%)`);
}

t.test('setBitrate takes effect on the wire (x264enc)', (t) => bitrateFollows(t, 'x264enc', 'snow', '1280x720'));
// vp8enc follows only because it may drop frames (dropframe-threshold): without that it sent
// 2.4 Mbit/s of moving 720p bars for a 500 kbit/s target. Regression test for that. Moving bars
// at 360p, not 720p snow: libvpx at its real-time speed cannot hold 720p snow to any target when
// the 2 cores are shared with the rest of the suite (1.4 to 3.5 Mbit/s for 2000), which says
// nothing of its rate control on a camera picture.
t.test('setBitrate takes effect on the wire (vp8enc)', (t) => bitrateFollows(t, 'vp8enc', 'smpte', '640x360'));

t.test('forceKeyframe: an IDR arrives within 3 frames', async (t) => {
  const h = await sendingTo(t, { video: { encoders: ['x264enc'], keyframeIntervalS: 10 } }, true);
  let lastIdrAt = -Infinity;
  let lastIdrFrame = 0;
  const tracker = new H264FrameTracker((frame, idr) => {
    if (idr) {
      lastIdrAt = performance.now();
      lastIdrFrame = frame;
    }
  });
  h.far.socket.on('message', (data) => tracker.push(parseRtp(data)));
  await waitUntil('the first (natural) keyframe arrives', () => lastIdrFrame > 0, { timeoutMs: 10_000 });
  const counts: number[] = [];
  for (let i = 0; i < 3; i++) {
    // Far from the last keyframe, so the next one can only be the forced one.
    await waitUntil('1 s has passed since the last keyframe', () => performance.now() - lastIdrAt >= 1000, { timeoutMs: 5000 });
    t.ok(tracker.frames - lastIdrFrame >= 25, `${tracker.frames - lastIdrFrame} frames since the last keyframe`);
    const framesAtRequest = tracker.frames;
    h.engine.forceKeyframe();
    await waitUntil('a keyframe after the request', () => lastIdrFrame > framesAtRequest, { timeoutMs: 3000 }, () => tracker.frames - framesAtRequest);
    const n = lastIdrFrame - framesAtRequest;
    counts.push(n);
    t.ok(n <= 3, `request ${i + 1}: the IDR is frame ${n} after the request`);
  }
  t.comment(`frames from forceKeyframe() to the IDR: ${counts.join(', ')}`);
});

t.test('volume, microphone mute, self-view and bitrate change the elements', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['x264enc'] } });
  const volume = () => h.pipeline('playout').getByName('volume');
  const micmute = () => h.pipeline('audio-send').getByName('micmute');
  const pip = () => h.pipeline('playout').getByName('comp')?.getStaticPad('sink_2');

  t.equal(prop<number>(volume(), 'volume'), 1, 'volume starts at the configured 100%');
  h.engine.setVolume(40);
  // volume is a double but the value may come back through a float: compare to 1e-6.
  t.ok(Math.abs(prop<number>(volume(), 'volume') - 0.4) < 1e-6, 'setVolume(40) sets the volume element to 0.4');
  h.engine.setVolume(150);
  t.ok(Math.abs(prop<number>(volume(), 'volume') - 1.5) < 1e-6, 'setVolume(150) sets 1.5');
  t.equal(h.engine.status().volume, 150, 'status reports the volume');

  t.equal(prop<boolean>(micmute(), 'mute'), false, 'the microphone is not muted at first');
  h.engine.setAudioMuted(true);
  t.equal(prop<boolean>(micmute(), 'mute'), true, 'setAudioMuted(true) mutes the send volume element');
  t.equal(h.engine.status().audioMuted, true, 'status reports it');
  h.engine.setAudioMuted(false);
  t.equal(prop<boolean>(micmute(), 'mute'), false, 'setAudioMuted(false) unmutes');

  t.equal(prop<number>(pip(), 'alpha'), 1, 'the self-view is visible at first');
  h.engine.setSelfView(false);
  t.equal(prop<number>(pip(), 'alpha'), 0, 'setSelfView(false) makes the self-view pad transparent');
  t.equal(h.engine.status().selfView, false, 'status reports it');
  h.engine.setSelfView(true);
  t.equal(prop<number>(pip(), 'alpha'), 1, 'setSelfView(true) shows it again');

  h.engine.setBitrate(800);
  t.equal(prop<number>(h.pipeline('video-send').getByName('venc'), 'bitrate'), 800, 'setBitrate(800) sets x264enc bitrate=800');

  for (const [what, fn] of [
    ['setBitrate(10)', () => h.engine.setBitrate(10)],
    ['setBitrate(1.5)', () => h.engine.setBitrate(1.5)],
    ['setVolume(500)', () => h.engine.setVolume(500)],
    ['setVolume(-1)', () => h.engine.setVolume(-1)],
  ] as const) {
    const e = await caught(fn);
    t.type(e, DcError, `${what} throws a DcError`);
    t.equal((e as DcError).code, 'DC_MEDIA_BAD_REQUEST', `${what} is DC_MEDIA_BAD_REQUEST`);
  }
  t.equal(prop<number>(h.pipeline('video-send').getByName('venc'), 'bitrate'), 800, 'a refused bitrate leaves the encoder alone');
  t.ok(Math.abs(prop<number>(volume(), 'volume') - 1.5) < 1e-6, 'a refused volume leaves the element alone');
});

t.test('muting video stops the camera and sends the slate; RTP keeps flowing', async (t) => {
  const h = await sendingTo(t, { video: { encoders: ['x264enc'] } });
  await waitUntil('the camera is the source', () => h.engine.status().videoSource === 'camera', { timeoutMs: 5000 });

  h.engine.setVideoMuted(true);
  t.equal(h.engine.status().videoSource, 'muted', 'videoSource is "muted"');
  t.equal(pipelineState(h.engine, 'camera'), 'stopped', 'the camera pipeline is stopped (its light goes off)');
  t.equal(h.engine.pipelineObject('camera'), null, 'no camera pipeline object remains');
  await waitUntil('the slate runs', () => pipelineState(h.engine, 'slate') === 'running', { timeoutMs: 5000 });
  t.equal(pipelineState(h.engine, 'slate'), 'running', 'the slate pipeline is running');
  t.equal(h.engine.status().videoMuted, true, 'status reports videoMuted');

  const atMute = h.far.packets.length;
  await waitUntil('RTP arrives during the slate', () => h.far.packets.length > atMute + 30, { timeoutMs: 5000 });
  t.ok(h.far.packets.length > atMute + 30, `${h.far.packets.length - atMute} RTP packets arrived while muted`);
  t.equal(pipelineState(h.engine, 'video-send'), 'running', 'the sender was never restarted');

  h.engine.setVideoMuted(false);
  await waitUntil('the camera is back', () => h.engine.status().videoSource === 'camera', { timeoutMs: 5000 });
  t.equal(h.engine.status().videoSource, 'camera', 'unmuting brings back "camera"');
  t.equal(pipelineState(h.engine, 'slate'), 'stopped', 'the slate stops again');
  const atUnmute = h.far.packets.length;
  await waitUntil('RTP arrives from the camera', () => h.far.packets.length > atUnmute + 30, { timeoutMs: 5000 });
  t.ok(h.far.packets.length > atUnmute + 30, 'RTP keeps flowing after unmuting');
  // No hole in the stream across both switches (intervideosrc repeats the last frame meanwhile).
  const arrivals = h.far.packets.slice(Math.max(0, atMute - 1)).map((p) => p.at);
  const gap = Math.max(...arrivals.slice(1).map((at, i) => at - arrivals[i]!));
  t.comment(`largest gap between RTP packets across mute and unmute: ${gap.toFixed(0)} ms`);
  t.ok(gap < 500, `no gap in the RTP stream over 500 ms (largest ${gap.toFixed(0)} ms)`);
  t.same(
    h.engine.status().pipelines.filter((p) => p.name === 'video-send').map((p) => p.restarts),
    [0],
    'the encoder pipeline ran throughout',
  );
});

/** A snapshot once the source has a frame (snapshot throws DC_MEDIA_NOT_RUNNING before). */
async function snapshotWhenReady(engine: { snapshot(s: 'camera' | 'screen'): Buffer }, source: 'camera' | 'screen'): Promise<Buffer> {
  let jpeg: Buffer | undefined;
  await waitUntil(`a ${source} snapshot can be taken`, () => {
    try {
      jpeg = engine.snapshot(source);
      return true;
    } catch {
      return false;
    }
  });
  return jpeg!;
}

t.test('snapshots are JPEGs at the capture and the output size', async (t) => {
  const h = await startEngine(t, { video: { encoders: ['x264enc'], size: '640x360' } });
  await waitUntil('the camera is the source', () => h.engine.status().videoSource === 'camera', { timeoutMs: 5000 });
  for (const [source, width, height] of [
    ['camera', 640, 360],
    ['screen', 1280, 720],
  ] as const) {
    const jpeg = await snapshotWhenReady(h.engine, source);
    t.ok(Buffer.isBuffer(jpeg), `${source}: a Buffer`);
    t.same([jpeg[0], jpeg[1]], [0xff, 0xd8], `${source}: starts with SOI`);
    t.same([jpeg[jpeg.length - 2], jpeg[jpeg.length - 1]], [0xff, 0xd9], `${source}: ends with EOI`);
    const info = parseJpeg(jpeg);
    t.ok(info.sof === 0xc0 || info.sof === 0xc2, `${source}: baseline or progressive SOF (0x${info.sof.toString(16)})`);
    t.same([info.width, info.height], [width, height], `${source}: ${width}×${height}`);
    t.ok(jpeg.length > 2000, `${source}: a real picture (${jpeg.length} bytes)`);
  }
});

t.test('a message band of the screen art is drawn at the top of the screen, and taken off', async (t) => {
  // A black camera looped back: the screen is black but for what the overlay draws.
  const h = await startEngine(t, { pattern: 'black', video: { encoders: ['x264enc'] } });
  const screen = () => lastSample(h.pipeline('playout').getByName('screen'));
  const W = 1280;
  const H = 720;
  const band = { x: 0, y: 0, width: W, height: Math.round(H * 0.15) };
  await waitUntil('the screen has a frame', () => screen() !== null, { timeoutMs: 10_000 });
  // Let the decoded (black) picture reach the screen so "before" is the steady picture.
  const decoded = h.count('playout', 'vdec', 'src');
  await waitUntil('frames are decoded', () => decoded.count() > 10, { timeoutMs: 10_000 });
  const beforeSample = screen()!;
  const before = grayFrame(beforeSample, W, H);

  const art = renderScreen({ kind: 'call', speaker: null, micMuted: false, quality: 'good', notice: 'Họp lúc 8 giờ sáng mai' }, { width: W, height: H });
  h.engine.setScreenArt(art);
  t.same(h.engine.status().screen, { name: 'call', layers: 1 }, 'status reports the screen');
  t.match(prop<string>(h.pipeline('playout').getByName('art0'), 'location'), /screen-0\.svg$/, 'the first overlay draws the band');
  t.equal(prop<number>(h.pipeline('playout').getByName('art1'), 'alpha'), 0, 'the second draws nothing');

  let after: GrayFrame = before;
  let afterSample: Gst.Sample = beforeSample;
  let share = 0;
  await waitUntil(
    'the top band changes',
    () => {
      afterSample = screen()!;
      after = grayFrame(afterSample, W, H);
      share = changedShare(before, after, band, 40);
      return share > 0.01;
    },
    { timeoutMs: 5000 },
    () => share,
  );
  const rest = changedShare(before, after, { x: 0, y: Math.round(H * 0.3), width: Math.round(W * 0.6), height: Math.round(H * 0.6) }, 40);
  t.comment(`pixels changed by > 40 levels: ${(share * 100).toFixed(1)}% of the top band, ${(rest * 100).toFixed(2)}% of the middle`);
  t.ok(share > 0.01, `the top band changed (${(share * 100).toFixed(1)}% of its pixels)`);
  t.ok(rest < 0.001, 'the rest of the picture did not');
  const paths = [await savePng(beforeSample, W, H, 'overlay-before.png'), await savePng(afterSample, W, H, 'overlay-after.png')];
  t.comment(`pictures for a person to look at: ${paths.join(', ')}`);

  h.engine.setScreenArt({ name: 'call', layers: [] });
  let left = 1;
  await waitUntil('the overlay disappears', () => (left = changedShare(before, grayFrame(screen()!, W, H), band, 40)) < 0.001, { timeoutMs: 5000 });
  t.ok(left < 0.001, `an empty text hides the overlay (${(left * 100).toFixed(2)}% of the band still differs)`);
});
