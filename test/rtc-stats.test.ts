/**
 * Call statistics from a real call: the box (media engine + werift) against GStreamer's webrtcbin
 * in its own process. Each direction's codec, picture, frame rate, bitrate, loss, jitter and
 * round-trip time come from the sampler and are checked against what the other side sent or
 * saw; then the far end's video stops reaching the box for ~1.5 s and a freeze of about that
 * length is counted. The arithmetic of freezes and frame rate is tested on its own first.
 */
import type dgram from 'node:dgram';
import t, { type Test } from 'tap';
import { FrameTimeline, freezeThresholdMs, ptsOfMessage } from '../daemon/media/engine.js';
import { rtpPayloadLength } from '../daemon/rtc/rtp-bridge.js';
import { CallStatsSampler, codecName, median, roundTripMs, signed24, type CallStats, type StreamStats } from '../daemon/rtc/stats.js';
import { boxPeerOn, control } from './helpers/calls.js';
import { startEngine } from './helpers/engine.js';
import { bindUdp, closeUdp } from './helpers/ports.js';
import { startWebrtcbinPeer, type WebrtcbinPeer } from './helpers/webrtcbin-peer.js';
import { delay, waitUntil } from './helpers/wait.js';

/** Feeds a timeline frames every `intervalMs` (pts exact) while polling every `pollMs`, from `fromMs` to `toMs`. */
function feed(timeline: FrameTimeline, o: { fromMs: number; toMs: number; intervalMs: number; pollMs: number; firstFrame: number; firstPts: number }) {
  let frames = o.firstFrame;
  let pts = o.firstPts;
  let nextFrameAt = o.fromMs;
  for (let now = o.fromMs; now <= o.toMs; now += o.pollMs) {
    while (nextFrameAt <= now) {
      frames++;
      pts = o.firstPts + (frames - o.firstFrame - 1) * o.intervalMs;
      nextFrameAt += o.intervalMs;
    }
    timeline.observe(frames, pts, now);
  }
  return { frames, pts };
}

t.test('freeze and frame-rate arithmetic', async (t) => {
  t.equal(freezeThresholdMs(1000 / 30), 200, '30 fps: 200 ms (3 intervals would be 100)');
  t.equal(freezeThresholdMs(250), 750, '4 fps: 3 intervals');
  t.equal(
    ptsOfMessage('chain   ******* (vframes:sink) (1843200 bytes, dts: none, pts: 0:01:02.503356483, duration: 0:00:00.033333334, offset: 14, offset_end:  15, flags: 00000000 , meta: none) 0x4128e5a0'),
    62_503.356483,
    'pts read from a buffer message',
  );
  t.equal(ptsOfMessage('event   ******* (vframes:sink) E (type: eos (28174), ) 0x2445e6e0'), null, 'an event has none');
  t.equal(ptsOfMessage(null), null);

  // 30 fps polled every 25 ms for 3 s: about 30 fps, no freeze.
  const steady = new FrameTimeline();
  const end = feed(steady, { fromMs: 0, toMs: 3000, intervalMs: 1000 / 30, pollMs: 25, firstFrame: 0, firstPts: 0 });
  t.equal(steady.freezes, 0, 'steady 30 fps: no freeze');
  t.ok(Math.abs(steady.fps()! - 30) < 1, `fps ${steady.fps()?.toFixed(2)} ≈ 30`);

  // The frames stop for 1.5 s, then come again.
  feed(steady, { fromMs: 4500, toMs: 6000, intervalMs: 1000 / 30, pollMs: 25, firstFrame: end.frames, firstPts: end.pts + 1500 });
  t.equal(steady.freezes, 1, 'a 1.5 s stop is one freeze');
  t.ok(Math.abs(steady.freezeMs - 1500) < 1, `of ${steady.freezeMs.toFixed(1)} ms`);

  // The far end stalls 1.5 s and then catches up: its frames' timestamps run on (only 430 ms
  // ahead), and they come at once. Polls on time see no frame for 1.5 s: a freeze of that.
  const burst = new FrameTimeline();
  const atBurst = feed(burst, { fromMs: 0, toMs: 1000, intervalMs: 1000 / 30, pollMs: 25, firstFrame: 0, firstPts: 0 });
  for (let now = 1025; now < 2500; now += 25) burst.observe(atBurst.frames, atBurst.pts, now);
  burst.observe(atBurst.frames + 13, atBurst.pts + 430, 2500);
  t.equal(burst.freezes, 1, 'a stop followed by a burst is a freeze');
  t.ok(burst.freezeMs >= 1475 && burst.freezeMs <= 1500, `of ${burst.freezeMs.toFixed(1)} ms (the frames' timestamps say 430)`);

  // The poller itself is late by 400 ms while frames keep coming: not a freeze.
  const late = new FrameTimeline();
  let frames = 0;
  for (let now = 0; now <= 1000; now += 25) late.observe((frames = Math.floor(now / 33.3) + 1), (frames - 1) * 33.3, now);
  late.observe(frames + 12, (frames + 11) * 33.3, 1400);
  t.equal(late.freezes, 0, 'a late poll that finds 12 frames is no freeze');

  // Timestamps jump (a new RTP timestamp base) while frames keep coming every 33 ms: the wall clock bounds the gap.
  const jump = new FrameTimeline();
  for (let i = 1; i <= 30; i++) jump.observe(i, i * 33.3 + (i > 15 ? 5000 : 0), i * 33.3);
  t.equal(jump.freezes, 0, 'a timestamp jump without a pause is no freeze');

  // No timestamps (the meter's last message was an event): the wall clock times the gap.
  const blind = new FrameTimeline();
  for (let i = 1; i <= 10; i++) blind.observe(i, null, i * 33);
  blind.observe(11, null, 330 + 600);
  t.equal(blind.freezes, 1, 'without timestamps a 600 ms stop is still a freeze');
  t.ok(Math.abs(blind.freezeMs - 600) < 1, `of ${blind.freezeMs} ms`);

  // 4 fps: gaps of 300 ms are its normal pace; 1 s is a freeze.
  const slow = new FrameTimeline();
  for (let i = 1; i <= 8; i++) slow.observe(i, i * 250 + (i === 5 ? 50 : 0), i * 250 + (i === 5 ? 50 : 0));
  slow.observe(9, 2000 + 1000, 3000);
  t.equal(slow.freezes, 1, '4 fps: only the 1 s gap is a freeze');
  t.equal(slow.fps(), 2.5, 'fps over the last 2 s: 5 frames (one after the freeze)');

  t.equal(rtpPayloadLength(Buffer.alloc(12 + 100)), 100, 'RTP payload: plain header');
  const withCsrcExtPadding = Buffer.alloc(12 + 8 + 4 + 8 + 50 + 3);
  withCsrcExtPadding[0] = 0x80 | 0x20 | 0x10 | 2;
  withCsrcExtPadding.writeUInt16BE(2, 12 + 8 + 2);
  withCsrcExtPadding[withCsrcExtPadding.length - 1] = 3;
  t.equal(rtpPayloadLength(withCsrcExtPadding), 50, 'RTP payload: CSRCs, extension and padding left out');
  t.equal(codecName('video/H264'), 'H264');
  t.equal(codecName('audio/opus'), 'opus');
  t.equal(codecName('audio/OPUS'), 'opus', 'webrtcbin writes OPUS');
  t.equal(signed24(0xffffff), -1, 'a report block loss of -1 (a duplicate)');
  t.equal(signed24(5), 5);
  // An SR left at t = 100 s, the far end held it 0.25 s (16384/65536), the report came at 100.262 s.
  t.ok(Math.abs(roundTripMs(100.262, 100, 16384) - 12) < 1e-6, 'RTT = arrival − SR sent − DLSR');
  t.equal(median([30, 1, 2]), 2);
  t.equal(median([4, 1, 2, 3]), 2.5);
  t.equal(median([]), null);
  t.equal(codecName(undefined), null);
});

/** A UDP forwarder between the box's bridge and its playout that can stop forwarding: the link going dead for a while. */
async function gate(toPort: number): Promise<{ port: number; close(): Promise<void>; drop(ms: number): Promise<{ dropped: number; gapMs: number }> }> {
  const socket: dgram.Socket = await bindUdp(0);
  let dropping = false;
  let dropped = 0;
  let lastForwardAt = 0;
  let firstAfter: (() => void) | undefined;
  socket.on('message', (datagram) => {
    if (dropping) {
      dropped++;
      return;
    }
    lastForwardAt = performance.now();
    socket.send(datagram, toPort, '127.0.0.1');
    firstAfter?.();
    firstAfter = undefined;
  });
  return {
    port: socket.address().port,
    close: () => closeUdp(socket),
    async drop(ms) {
      dropping = true;
      const before = lastForwardAt;
      dropped = 0;
      await delay(ms);
      let timer: NodeJS.Timeout | undefined;
      const resumed = new Promise<void>((resolve, reject) => {
        firstAfter = resolve;
        timer = setTimeout(() => reject(new Error('no packet came through the gate within 10 s of reopening')), 10_000);
      });
      dropping = false;
      await resumed.finally(() => clearTimeout(timer));
      return { dropped, gapMs: lastForwardAt - before };
    },
  };
}

const describe = (s: StreamStats | null | undefined) => JSON.stringify(s);

/** webrtcbin's own counts (every 500 ms), timed on arrival, for rates over the same seconds as a sample. */
function farCounts(far: WebrtcbinPeer) {
  const seen: Array<{ at: number; decoded: number; encoded: number }> = [];
  const off = far.on('stats', (m) => seen.push({ at: Date.now(), decoded: m.video.frames, encoded: m.sent.videoFrames }));
  return {
    off,
    /** Frames a second webrtcbin decoded (of the box's video) and encoded (its own) over [from, to]. */
    fps(from: number, to: number): { decoded: number; encoded: number } {
      const inside = seen.filter((s) => s.at >= from && s.at <= to);
      const first = inside[0];
      const last = inside[inside.length - 1];
      if (!first || !last || last.at - first.at < 1000) throw new Error(`too few webrtcbin reports in [${from}, ${to}]`);
      const seconds = (last.at - first.at) / 1000;
      return { decoded: (last.decoded - first.decoded) / seconds, encoded: (last.encoded - first.encoded) / seconds };
    },
  };
}

/**
 * Within 35% (or 3) of `reference`: both ends share 2 busy cores, and webrtcbin's counts are
 * timed when this process gets round to reading them.
 */
const near = (value: number | null, reference: number) => value !== null && Math.abs(value - reference) <= Math.max(3, 0.35 * reference);

t.test('a call with webrtcbin: every figure of both directions, then a freeze', async (t: Test) => {
  const started = performance.now();
  const h = await startEngine(t, { video: { encoders: ['x264enc'], bitrateKbps: 600 }, rtp: {} });
  // The far end's video reaches the playout through the gate; audio goes straight.
  const videoGate = await gate(h.ports.receiveVideoPort);
  t.teardown(() => videoGate.close());
  const peer = await boxPeerOn(t, { ...h, ports: { ...h.ports, receiveVideoPort: videoGate.port } }, 'box');
  const far: WebrtcbinPeer = await startWebrtcbinPeer(t, { name: 'webrtcbin', loopbackOnly: true, keyframeIntervalS: 1 });
  await far.answer(await peer.createOffer());
  await peer.acceptAnswer((await far.waitFor('local-description', undefined, 15_000)).sdp);

  const counts = farCounts(far);
  t.teardown(counts.off);
  const sampler = new CallStatsSampler({ peers: () => [peer], media: control(h) });
  sampler.start();
  t.teardown(() => sampler.stop());

  await waitUntil('the box is connected', () => peer.state === 'connected', { timeoutMs: 20_000 });
  await waitUntil(
    'media flows both ways',
    () => (far.lastStats()?.video.frames ?? 0) > 30 && h.engine.status().received.video.frames > 30,
    { timeoutMs: 20_000 },
    () => ({ far: far.lastStats()?.video, box: h.engine.status().received.video }),
  );
  // A sample of a whole interval of media, and webrtcbin's receiver reports in (its RTCP
  // comes every ~5 s, the first before it has received anything).
  const flowingAt = Date.now();
  await waitUntil(
    'a sample of a whole interval of media, with the far end’s reports',
    () => {
      const s = sampler.latest();
      return !!s && s.at - s.intervalMs > flowingAt && s.video.sent?.packetsLost !== null && s.audio.sent?.packetsLost !== null;
    },
    { timeoutMs: 30_000 },
    () => sampler.latest(),
  );
  const farBefore = far.lastStats()!;
  const s: CallStats = sampler.latest()!;
  const status = h.engine.status();
  t.comment(`sample: ${JSON.stringify(s)}`);
  const farFps = counts.fps(s.at - s.intervalMs, s.at);

  // --- what the box sends, against what webrtcbin decoded and the engine was told -----------
  const vs = s.video.sent!;
  t.equal(vs.codec, 'H264', 'sent video codec');
  t.match(vs, { width: 640, height: 360 }, `sent video ${vs.width}×${vs.height}: the engine's configured size`);
  t.match(farBefore.video, { width: 640, height: 360, codec: 'H264' }, 'and what webrtcbin decodes');
  // A loaded machine makes fewer than the configured 30: compare with what arrived.
  t.ok(vs.fps! > 0 && vs.fps! <= 31, `sent ${vs.fps} fps (configured 30)`);
  t.ok(near(vs.fps, farFps.decoded), `webrtcbin decoded ${farFps.decoded.toFixed(1)} fps of it over the same seconds`);
  const target = status.bitrateKbps;
  t.ok(vs.bitrateKbps! >= 0.4 * target && vs.bitrateKbps! <= 1.4 * target, `sent video ${vs.bitrateKbps} kbit/s, encoder target ${target}`);
  // Loopback: a few ms, but both ends share 2 busy cores and a report waits for the event loop.
  t.ok(vs.rttMs! > 0 && vs.rttMs! < 300, `RTT ${vs.rttMs} ms on loopback (RTCP)`);
  t.equal(vs.packetsLost, 0, `webrtcbin reports no sent video lost (${describe(vs)})`);
  t.equal(vs.lossPercent, 0, 'its last report: 0% lost');
  t.ok(vs.jitterMs !== null && vs.jitterMs >= 0 && vs.jitterMs < 100, `webrtcbin's jitter on our video ${vs.jitterMs} ms`);
  t.equal(vs.freezes, null, 'freezes are a receive-side figure');

  const as = s.audio.sent!;
  t.equal(as.codec, 'opus', 'sent audio codec');
  // A stalled event loop moves packets across the 2 s boundary: loose bounds.
  t.ok(as.bitrateKbps! >= 10 && as.bitrateKbps! <= 60, `sent audio ${as.bitrateKbps} kbit/s (opusenc at 32)`);
  t.equal(as.width, null, 'audio has no picture');
  t.equal(as.packetsLost, 0, `webrtcbin reports no sent audio lost (${describe(as)})`);

  // --- what the box receives, against what webrtcbin was told to send -----------------------
  const vr = s.video.received!;
  t.equal(vr.codec, 'H264', 'received video codec');
  t.match(vr, { width: 640, height: 360 }, `received video ${vr.width}×${vr.height}: webrtcbin's test picture`);
  t.ok(vr.fps! > 0 && vr.fps! <= 31, `received ${vr.fps} fps decoded (webrtcbin is told 30)`);
  t.ok(near(vr.fps, farFps.encoded), `webrtcbin encoded ${farFps.encoded.toFixed(1)} fps over the same seconds`);
  t.ok(vr.bitrateKbps! > 20 && vr.bitrateKbps! <= 1000 * 1.3, `received video ${vr.bitrateKbps} kbit/s (webrtcbin's x264 at up to 1000)`);
  t.equal(vr.packetsLost, 0, `no received video packet lost on a clean loopback (${vr.packetsLate} late: the box's CPU)`);
  t.equal(vr.lossPercent, 0, '0% over the interval');
  t.ok(vr.jitterMs !== null && vr.jitterMs >= 0 && vr.jitterMs < 100, `received video jitter ${vr.jitterMs} ms`);
  t.equal(vr.rttMs, vs.rttMs, 'one connection, one RTT');
  t.ok(vr.freezes !== null, 'freezes counted');

  const ar = s.audio.received!;
  t.equal(ar.codec, 'opus', 'received audio codec');
  t.ok(ar.bitrateKbps! >= 20 && ar.bitrateKbps! <= 120, `received audio ${ar.bitrateKbps} kbit/s (webrtcbin's opusenc at its default 64)`);
  t.equal(ar.packetsLost, 0, `no received audio packet lost (${ar.packetsLate} late)`);
  t.ok(ar.jitterMs !== null && ar.jitterMs >= 0 && ar.jitterMs < 100, `received audio jitter ${ar.jitterMs} ms`);

  // --- the far end's video stops reaching the box for 1.5 s ---------------------------------
  const before = h.engine.status().received.video;
  const { dropped, gapMs } = await videoGate.drop(1500);
  t.ok(dropped > 30, `the gate dropped ${dropped} packets in a ${gapMs.toFixed(0)} ms gap`);
  await waitUntil('the freeze is counted', () => h.engine.status().received.video.freezes.count > before.freezes.count, { timeoutMs: 10_000 }, () =>
    h.engine.status().received.video,
  );
  const after = h.engine.status().received.video;
  const count = after.freezes.count - before.freezes.count;
  const totalMs = after.freezes.totalMs - before.freezes.totalMs;
  // A stall of this busy machine may add a freeze of its own; the gap's is at least the gap.
  t.ok(count >= 1, `a freeze counted (${before.freezes.count} → ${after.freezes.count})`);
  t.ok(totalMs >= gapMs - 100 && totalMs <= gapMs + 400 * count, `of ${totalMs} ms in all, for a ${gapMs.toFixed(0)} ms gap in the packets`);
  const missing = (v: typeof before) => v.packetsLost - v.packetsLate;
  const lost = missing(after) - missing(before);
  t.ok(lost >= dropped * 0.9 && lost <= dropped + 2, `the jitter buffer missed ${lost} packets for ${dropped} dropped`);

  // The sampler reports it in its next interval.
  const freezeAt = Date.now();
  await waitUntil('the sampler sees the freeze', () => (sampler.latest()?.at ?? 0) > freezeAt, { timeoutMs: 10_000 });
  const later = sampler.latest()!.video.received!;
  t.same(later.freezes, after.freezes, `the sampler: ${describe(later)}`);

  // The next call (sending switched off and on) starts the receive figures again.
  h.engine.setSending(false);
  h.engine.setSending(true);
  const next = h.engine.status().received;
  t.match(next.video, { frames: 0, packets: 0, packetsLost: 0, freezes: { count: 0, totalMs: 0 } }, 'a new call starts from zero');
  t.match(next.audio, { packets: 0, packetsLost: 0 });
  t.comment(`duration ${((performance.now() - started) / 1000).toFixed(1)} s`);
});
