/**
 * The descriptions of every long-running pipeline. Sources (camera, slate, microphone) are
 * separate pipelines that hand frames to the send and playout pipelines through inter
 * elements, so a camera pulled out mid-meeting fails only its own pipeline: the encoder keeps
 * running, the far end sees the slate, and RTP timestamps never jump.
 *
 *   camera ─▶ scale ─▶ tee ─▶ intervideosink "<ch>-send"      ┐
 *   (or slate)            └─▶ scale ¼ ─▶ intervideosink "<ch>-self" │
 *   intervideosrc "<ch>-send" ─▶ encoder ─▶ payloader ─▶ udpsink  ◀┘
 *   mic ─▶ interaudiosink "mic";  interaudiosrc "mic" ─▶ webrtcdsp ─▶ opusenc ─▶ rtpopuspay ─▶ udpsink
 *   udpsrc ─▶ jitterbuffer ─▶ depay ─▶ decode ─▶ compositor(+ self-view) ─▶ screen art ─▶ screen
 *   udpsrc ─▶ jitterbuffer ─▶ opusdepay ─▶ opusdec ─▶ audiomixer ─▶ volume ─▶ webrtcechoprobe ─▶ speaker
 *   audiotestsrc ─▶ interaudiosink "tone"  (test tone, seconds)  interaudiosrc "tone" ─▶ ┘
 */
import { LaunchBuilder, rawVideoCaps, RAW_AUDIO_CAPS, type PipelineDescription } from './launch.js';
import type { EncoderProfile, EncoderSettings, VideoCodec } from './encoders.js';
import { hasElement } from './elements.js';
import { SCREEN_LAYERS } from './types.js';
import { cameraSourceChain, type MediaDevice, type VideoMode } from './devices/model.js';

export interface FrameSize {
  width: number;
  height: number;
}

export const VIDEO_PAYLOAD_TYPE = 96;
export const AUDIO_PAYLOAD_TYPE = 111;
/** Leaves room for SRTP and TURN headers inside a 1280-byte path MTU. */
const RTP_MTU = 1200;
const ECHO_PROBE = 'echoprobe';
/** The self-view picture is a quarter of the capture size, scaled once at the source. */
export const selfViewSize = (s: FrameSize): FrameSize => ({ width: even(s.width / 4), height: even(s.height / 4) });
const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);

/**
 * Both outputs of a video source: full size for the encoder, quarter size for the self-view.
 * `sendOnly` goes into the encoder's branch alone (the frame stamp: the self-view stays clean).
 */
function interVideoOutputs(b: LaunchBuilder, channel: string, size: FrameSize, sendOnly: string[] = []): void {
  const self = selfViewSize(size);
  // Elements that own a streaming thread are named: the thread takes the name, and the
  // benchmark reads CPU per stage from /proc by thread name.
  // The sinks hand each frame on at once (sync=false): the source already paced it, and the
  // receiving intervideosrc paces again; syncing here only added up to a frame of delay.
  b.chain(
    'srctee.',
    b.el('queue', { name: 'sendq', leaky: 'downstream', 'max-size-buffers': 2 }),
    ...sendOnly,
    b.el('intervideosink', { name: 'sendsink', channel: `${channel}-send`, sync: false }),
  );
  b.chain(
    'srctee.',
    b.el('queue', { name: 'selfq', leaky: 'downstream', 'max-size-buffers': 2 }),
    b.el('videoscale'),
    `video/x-raw,width=${self.width},height=${self.height}`,
    b.el('intervideosink', { name: 'selfsink', channel: `${channel}-self`, sync: false }),
  );
}

export interface CameraSourceOptions {
  device: MediaDevice;
  mode: VideoMode | null;
  size: FrameSize;
  fps: number;
  channel: string;
  /** media.frameStamps: a QR time code in the sent picture (the simulated camera only). */
  frameStamps?: boolean;
}

/** The element that draws the frame stamp; the worker gives it the pipeline's base time (frame-stamps.ts). */
export const FRAME_STAMP = 'stamp';
/** The JSON key (upper case: debugqroverlay upper-cases its text) that carries that base time. */
export const FRAME_STAMP_BASE_KEY = 'BASE';

/**
 * debugqroverlay writes {"TIMESTAMP": pts, "BUFFERCOUNT": n, …} into each frame; with the
 * camera pipeline's base time (added as extra data) the far end gets the capture time on the
 * monotonic clock both workers share. Bottom left, where neither the self-view (bottom right)
 * nor the overlay text (top) covers it on the far end's screen. 4-pixel modules line up with
 * H.264's 4×4 transform blocks; they survived x264 at 500–1500 kbit/s (3- and 5-pixel ones
 * mostly did not), ~200 px square at level M. GStreamer 1.22's debugqroverlay leaks the picture
 * it draws, ~130 KB a frame: a stamping worker grows ~4 MB/s while it sends (bench/call.ts
 * accounts for it).
 */
function frameStamp(b: LaunchBuilder): string {
  return b.el('debugqroverlay', {
    name: FRAME_STAMP,
    x: 0,
    y: 100,
    'pixel-size': 4,
    'qrcode-error-correction': 1,
    'extra-data-name': FRAME_STAMP_BASE_KEY,
    // The extra data goes into every frame: the first and then `span` frames after it.
    'extra-data-span-buffers': 1_000_000_000_000,
  });
}

export function describeCamera(o: CameraSourceOptions): PipelineDescription {
  const b = new LaunchBuilder();
  const [source = o.device.element, ...rest] = cameraSourceChain(o.device, o.mode, hasElement('v4l2jpegdec') ? 'v4l2jpegdec' : 'jpegdec');
  b.chain(
    b.fragment(source, { name: 'camsrc' }),
    ...rest.map((link) => (link.includes('/') ? link : b.el(link))),
    b.el('videoconvert'),
    b.el('videoscale'),
    b.el('videorate', { 'drop-only': true }),
    rawVideoCaps(o.size.width, o.size.height, o.fps),
    b.el('tee', { name: 'srctee' }),
  );
  // A measurement aid for test pictures only: never on a real camera's picture.
  interVideoOutputs(b, o.channel, o.size, o.frameStamps && o.device.api === 'sim' ? [frameStamp(b)] : []);
  return b.build('camera');
}

export interface SlateOptions {
  /** The slate's picture, an SVG file at `size` (daemon/screen/art.ts renderSlate). */
  picture: string;
  size: FrameSize;
  fps: number;
  channel: string;
}

/**
 * What the far end and the self-view show when there is no camera picture. Drawn twice a second
 * and repeated by videorate (a repeat is a reference, not a copy), so it costs almost nothing.
 */
export function describeSlate(o: SlateOptions): PipelineDescription {
  const b = new LaunchBuilder();
  b.chain(
    b.el('videotestsrc', { 'is-live': true, pattern: 'solid-color', 'foreground-color': 0xff1d3557 }),
    `video/x-raw,format=I420,width=${o.size.width},height=${o.size.height},framerate=2/1,pixel-aspect-ratio=1/1`,
    b.el('gdkpixbufoverlay', { name: 'slateart', location: o.picture }),
    b.el('videorate'),
    rawVideoCaps(o.size.width, o.size.height, o.fps),
    b.el('tee', { name: 'srctee' }),
  );
  interVideoOutputs(b, o.channel, o.size);
  return b.build('slate');
}

/** The microphone's level is posted this often (ns): a meter on a phone moves smoothly at 10 Hz. */
export const MIC_LEVEL_INTERVAL_NS = 100_000_000;

/**
 * The microphone into its inter channel for the audio sender, measured on the way (`level`,
 * RMS and peak every 100 ms), and a second channel that a recording reads (the setup page's
 * record-and-play-back test), so a recording never takes the sender's audio. The level is
 * the raw microphone, before the sender's echo canceller and gain control: it says whether the
 * hall is heard at all and how loud, with or without a call.
 */
export function describeMicrophone(device: MediaDevice, channel: string, recordChannel: string): PipelineDescription {
  const b = new LaunchBuilder();
  b.chain(
    b.fragment(device.element, { name: 'micsrc' }),
    b.el('audioconvert'),
    b.el('audioresample'),
    RAW_AUDIO_CAPS,
    b.el('level', { name: 'miclevel', interval: MIC_LEVEL_INTERVAL_NS, 'post-messages': true }),
    b.el('tee', { name: 'mictee' }),
    b.el('queue', { name: 'micq', leaky: 'downstream', 'max-size-time': 200_000_000 }),
    b.el('interaudiosink', { name: 'micsink', channel }),
  );
  b.chain('mictee.', b.el('queue', { name: 'recq', leaky: 'downstream', 'max-size-time': 200_000_000 }), b.el('interaudiosink', { name: 'recsink', channel: recordChannel }));
  return b.build('microphone');
}

/** `seconds` of the microphone's recording channel into a WAV file; ends by itself (EOS). */
export function describeRecording(o: { channel: string; seconds: number; path: string }): PipelineDescription {
  const b = new LaunchBuilder();
  b.chain(
    // 10 ms buffers: num-buffers is then the length. A short buffer-time keeps what the
    // channel held before the recording (a surface keeps up to 1 s) out of it.
    b.el('interaudiosrc', { name: 'recsrc', channel: o.channel, 'period-time': 10_000_000, 'buffer-time': 200_000_000, 'num-buffers': Math.round(o.seconds * 100) }),
    RAW_AUDIO_CAPS,
    b.el('wavenc'),
    b.el('filesink', { name: 'recfile', location: o.path }),
  );
  return b.build('recording');
}

/** A WAV file into the playout's tone channel: the recording played back the far end's voice's way. */
export function describePlayback(o: { path: string; channel: string }): PipelineDescription {
  const b = new LaunchBuilder();
  b.chain(
    b.el('filesrc', { location: o.path }),
    b.el('wavparse'),
    b.el('audioconvert'),
    b.el('audioresample'),
    RAW_AUDIO_CAPS,
    // Paced by the sink's clock, as the tone is.
    b.el('interaudiosink', { name: 'playsink', channel: o.channel, 'ts-offset': -40_000_000 }),
  );
  return b.build('playback');
}

export interface VideoSendOptions {
  channel: string;
  size: FrameSize;
  fps: number;
  encoder: EncoderProfile;
  settings: EncoderSettings;
  host: string;
  port: number;
  /** The size the encoder is given (a poor link); left out: the capture size. */
  sendSize?: FrameSize;
  /** Video paused (audio only): nothing reaches the encoder, no video RTP leaves. */
  videoPaused?: boolean;
}

/** The caps of the `sendcaps` filter for a send size; the engine sets them live. */
export function sendSizeCaps(size: FrameSize): string {
  return `video/x-raw,width=${size.width},height=${size.height},pixel-aspect-ratio=1/1`;
}

export function describeVideoSend(o: VideoSendOptions): PipelineDescription {
  const b = new LaunchBuilder();
  const payloader =
    o.encoder.codec === 'H264'
      ? b.el('rtph264pay', { name: 'vpay', pt: VIDEO_PAYLOAD_TYPE, mtu: RTP_MTU, 'config-interval': -1, 'aggregate-mode': 'zero-latency' })
      : b.el('rtpvp8pay', { name: 'vpay', pt: VIDEO_PAYLOAD_TYPE, mtu: RTP_MTU, 'picture-id-mode': '15-bit' });
  const encoder = o.encoder.fragment(b, o.settings);
  // The valve goes right before the encoder element, after VP8's videorate: placed before it, a
  // pause is a gap in time that videorate fills with a burst of repeats on resume (measured:
  // 90 extra frames in the first second after a 3 s pause).
  const at = Math.max(0, encoder.findIndex((link) => link.split(' ')[0] === o.encoder.name));
  // Dropping, it still passes caps on: a size set while paused reaches the encoder at once.
  encoder.splice(at, 0, b.el('valve', { name: 'vvalve', drop: o.videoPaused ?? false, 'drop-mode': 'forward-sticky-events' }));
  b.chain(
    // Repeats the last frame for up to a second if the source stalls, then sends black.
    b.el('intervideosrc', { name: 'vsendsrc', channel: `${o.channel}-send`, timeout: 1_000_000_000 }),
    rawVideoCaps(o.size.width, o.size.height, o.fps),
    // Leaky: an encoder that cannot keep up drops frames here instead of adding latency. (libvpx
    // then overshoots its target by ~30%, measured; x264 holds it. Capture size adaptation is
    // the real cure for an overloaded encoder.)
    b.el('queue', { name: 'encq', 'max-size-buffers': 1, leaky: 'downstream' }),
    // The send size follows the link: the engine changes `sendcaps` live and the encoders
    // renegotiate (a new IDR or VP8 keyframe at the new size). At the capture size videoscale
    // passes frames through untouched. No borders: 848×480 is 0.6% off 16:9, not worth bars.
    b.el('videoscale', { name: 'sendscale', 'add-borders': false }),
    // Delayed: a frame already on its way with the old size is let through while the new caps
    // settle; "immediate" (the default) refused it as not-negotiated and the sender restarted.
    b.el('capsfilter', { name: 'sendcaps', caps: sendSizeCaps(o.sendSize ?? o.size), 'caps-change-mode': 'delayed' }),
    ...encoder,
    payloader,
    b.el('udpsink', { name: 'vudp', host: o.host, port: o.port, sync: false, async: false }),
  );
  return b.build('video-send');
}

export interface AudioSendOptions {
  channel: string;
  echoCancel: boolean;
  noiseSuppression: boolean;
  gainControl: boolean;
  bitrateKbps: number;
  fec: boolean;
  dtx: boolean;
  muted: boolean;
  host: string;
  port: number;
}

export function describeAudioSend(o: AudioSendOptions): PipelineDescription {
  const b = new LaunchBuilder();
  const dsp = o.echoCancel || o.noiseSuppression || o.gainControl;
  b.chain(
    // Silence when no microphone is plugged in, so the far end still gets a steady stream.
    b.el('interaudiosrc', { name: 'asendsrc', channel: o.channel, 'period-time': 10_000_000 }),
    RAW_AUDIO_CAPS,
    ...(dsp
      ? [
          b.el('webrtcdsp', {
            name: 'dsp',
            probe: ECHO_PROBE,
            'echo-cancel': o.echoCancel,
            'noise-suppression': o.noiseSuppression,
            'gain-control': o.gainControl,
          }),
          b.el('audioconvert'),
        ]
      : []),
    b.el('volume', { name: 'micmute', mute: o.muted }),
    b.el('opusenc', {
      name: 'aenc',
      bitrate: o.bitrateKbps * 1000,
      'inband-fec': o.fec,
      dtx: o.dtx,
      'packet-loss-percentage': o.fec ? 10 : 0,
      'audio-type': 'voice',
      'frame-size': 20,
    }),
    b.el('rtpopuspay', { pt: AUDIO_PAYLOAD_TYPE, mtu: RTP_MTU, dtx: o.dtx }),
    b.el('udpsink', { name: 'audp', host: o.host, port: o.port, sync: false, async: false }),
  );
  return b.build('audio-send');
}

export type ScreenSink = 'kms' | 'window' | 'fake';

/** A screen layer written to a file for gdkpixbufoverlay, and where it goes on the screen. */
export interface ScreenLayerFile {
  path: string;
  x: number;
  y: number;
}

/** The overlay element that draws screen layer `i`. */
export const screenLayerElement = (i: number) => `art${i}`;

/**
 * One screen layer: an SVG rendered once (librsvg, through gdk-pixbuf) when it changes, then
 * blended over each frame, over its own rectangle only. Empty (alpha 0), it passes frames through.
 */
function screenLayer(b: LaunchBuilder, i: number, layer: ScreenLayerFile | null): string {
  return b.el('gdkpixbufoverlay', {
    name: screenLayerElement(i),
    'positioning-mode': 'pixels-absolute',
    ...(layer ? { location: layer.path, 'offset-x': layer.x, 'offset-y': layer.y, alpha: 1 } : { alpha: 0 }),
  });
}

export interface PlayoutOptions {
  codec: VideoCodec;
  host: string;
  videoPort: number;
  audioPort: number;
  jitterLatencyMs: number;
  output: FrameSize;
  fps: number;
  selfView: { channel: string; size: FrameSize; visible: boolean };
  screen: ScreenSink;
  speaker: MediaDevice | undefined;
  /** The inter channel whose sound (the test tone) is mixed with the far end's before the volume. */
  toneChannel: string;
  volumePercent: number;
  /** The screen's layers as SVG files, one per overlay element (null: that one draws nothing). */
  screenLayers: Array<ScreenLayerFile | null>;
  /**
   * Use the far end's Opus in-band FEC to rebuild lost packets. It costs latency: opusdec then
   * holds 120 ms of audio, and video waits as long for lip sync (measured in bench/).
   */
  fec: boolean;
  /** media.frameStamps: read the far end's frame stamps at the screen (bench/call.ts). */
  frameStamps?: boolean;
}

/** The zbar element that reads frame stamps; the worker turns its "barcode" messages into samples. */
export const FRAME_STAMP_READER = 'stampread';

/**
 * The frame-stamp reader: a branch off the frames the screen sink gets, cropped to the bottom
 * left corner where the far end's stamp is (~200 px square from a sender capturing at the
 * screen's size, 720p; whatever size the link makes it send, the screen scales it back). zbar
 * scans every line it is given: the whole 720p screen cost ~40 ms of CPU a frame here, more
 * than a frame's time, and inline before the sink it halved the screen's frame rate and its
 * backlog broke the decoded picture. The 256×260 corner costs ~3 ms a frame (~9% of a core at
 * 30 fps); the leaky queue keeps even a starved reader off the screen's path.
 */
function frameStampReader(b: LaunchBuilder, tee: string, output: FrameSize): void {
  const keep = { width: even(output.width / 5), height: even(output.height * 0.36) };
  b.chain(
    `${tee}.`,
    b.el('queue', { name: 'stampq', leaky: 'downstream', 'max-size-buffers': 1 }),
    b.el('videocrop', { right: output.width - keep.width, top: output.height - keep.height }),
    // zbar takes YUV only; a window sink's frames are RGB.
    b.el('videoconvert'),
    b.el('zbar', { name: FRAME_STAMP_READER }),
    b.el('fakesink', { name: 'stampsink', sync: false, async: false }),
  );
}

// Sinks do not wait for a first buffer (async=false): with no call, no RTP arrives, and a sink
// waiting to preroll would hold the whole playout pipeline out of PLAYING, the screen included.
function screenSink(b: LaunchBuilder, kind: ScreenSink): string {
  if (kind === 'kms') return b.el('kmssink', { name: 'screen', 'force-modesetting': true, sync: true, async: false });
  if (kind === 'window') {
    return b.el(process.env.WAYLAND_DISPLAY ? 'waylandsink' : 'ximagesink', { name: 'screen', async: false });
  }
  return b.el('fakesink', { name: 'screen', sync: true, async: false });
}

function videoDecodeChain(b: LaunchBuilder, codec: VideoCodec): string[] {
  if (codec === 'VP8') return [b.el('rtpvp8depay'), b.el('vp8dec', { name: 'vdec' })];
  // Hardware decode where the Pi has it; libav is faster than openh264 on the CPU.
  const decoder = ['v4l2h264dec', 'avdec_h264', 'openh264dec'].find(hasElement) ?? 'avdec_h264';
  // libav's frame threading holds one frame per thread (~100 ms on 4 cores); slice threading
  // adds none, and the encoders here write several slices per frame when they thread.
  const props = decoder === 'avdec_h264' ? { name: 'vdec', 'thread-type': 'slice' } : { name: 'vdec' };
  return [b.el('rtph264depay'), b.el('h264parse'), b.el(decoder, props)];
}

export function rtpCaps(kind: 'video' | 'audio', codec: VideoCodec | 'OPUS'): string {
  return kind === 'video'
    ? `application/x-rtp,media=video,clock-rate=90000,encoding-name=${codec},payload=${VIDEO_PAYLOAD_TYPE}`
    : `application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=${AUDIO_PAYLOAD_TYPE}`;
}

/** Self-view in the bottom-right corner, a margin of 1/40 of the screen from the edges. */
export function selfViewPlacement(output: FrameSize, self: FrameSize): { x: number; y: number } {
  const margin = Math.round(output.height / 40);
  return { x: output.width - self.width - margin, y: output.height - self.height - margin };
}

/** The element after the video decoder whose counters the engine reads (see decodedFrameMeter). */
export const DECODED_FRAMES = 'vframes';

/**
 * Counts decoded frames and keeps the newest one's timestamp without any per-frame call into
 * JS: identity's `stats` (num-buffers) and, with silent=false, its `last-message` (which names
 * the buffer's pts) are polled by the engine. A pad probe would block the decoder's thread on
 * the JS thread every frame, and could deadlock a state change to NULL.
 */
function decodedFrameMeter(b: LaunchBuilder): string {
  return b.el('identity', { name: DECODED_FRAMES, silent: false, 'signal-handoffs': false });
}

export function describePlayout(o: PlayoutOptions): PipelineDescription {
  const b = new LaunchBuilder();
  const { output } = o;
  const pip = selfViewPlacement(output, o.selfView.size);
  // A black background keeps the screen alive (and the compositor producing) before any
  // remote picture arrives.
  b.chain(
    b.el('videotestsrc', { name: 'bgsrc', 'is-live': true, pattern: 'black' }),
    rawVideoCaps(output.width, output.height, o.fps),
    'comp.sink_0',
  );
  b.chain(
    b.el('udpsrc', { name: 'vrtp', address: o.host, port: o.videoPort, caps: rtpCaps('video', o.codec) }),
    b.el('rtpjitterbuffer', { name: 'vjitter', latency: o.jitterLatencyMs, 'do-lost': true, 'drop-on-latency': true }),
    ...videoDecodeChain(b, o.codec),
    decodedFrameMeter(b),
    b.el('videoconvert'),
    b.el('videoscale'),
    `video/x-raw,width=${output.width},height=${output.height},pixel-aspect-ratio=1/1`,
    b.el('queue', { name: 'remoteq' }),
    'comp.sink_1',
  );
  b.chain(
    b.el('intervideosrc', { name: 'selfsrc', channel: `${o.selfView.channel}-self`, timeout: 1_000_000_000 }),
    `video/x-raw,format=I420,width=${o.selfView.size.width},height=${o.selfView.size.height},framerate=${o.fps}/1`,
    b.el('queue', { name: 'pipq', 'max-size-buffers': 2, leaky: 'downstream' }),
    'comp.sink_2',
  );
  b.chain(
    [
      b.el('compositor', { name: 'comp', background: 'black', 'ignore-inactive-pads': true, 'force-live': true }),
      `sink_1::zorder=1 sink_2::zorder=2 sink_2::xpos=${pip.x} sink_2::ypos=${pip.y} sink_2::alpha=${o.selfView.visible ? 1 : 0}`,
    ].join(' '),
    rawVideoCaps(output.width, output.height, o.fps),
    ...Array.from({ length: SCREEN_LAYERS }, (_, i) => screenLayer(b, i, o.screenLayers[i] ?? null)),
    b.el('videoconvert'),
    // Not leaky: frames wait here for their display time (the pipeline latency, several frames).
    b.el('queue', { name: 'screenq' }),
    // Frame stamps are read from exactly the frames the sink gets, as close to it as can be.
    ...(o.frameStamps ? [b.el('tee', { name: 'stamptee' })] : []),
    screenSink(b, o.screen),
  );
  if (o.frameStamps) frameStampReader(b, 'stamptee', output);
  b.chain(
    b.el('udpsrc', { name: 'artp', address: o.host, port: o.audioPort, caps: rtpCaps('audio', 'OPUS') }),
    b.el('rtpjitterbuffer', { name: 'ajitter', latency: o.jitterLatencyMs, 'do-lost': true }),
    b.el('rtpopusdepay', { name: 'adepay' }),
    b.el('opusdec', { name: 'adec', plc: true, 'use-inband-fec': o.fec }),
    b.el('audioconvert', { name: 'aconv' }),
    b.el('audioresample', { name: 'aresample' }),
    RAW_AUDIO_CAPS,
    'amix.sink_0',
  );
  // Silence unless the tone pipeline feeds the channel. 10 ms periods, as the microphone's.
  b.chain(
    b.el('interaudiosrc', { name: 'tonesrc', channel: o.toneChannel, 'period-time': 10_000_000, 'latency-time': 10_000_000 }),
    RAW_AUDIO_CAPS,
    'amix.sink_1',
  );
  // The tone goes the far end's voice's way: the volume, the echo probe, the speaker. The mixer
  // costs its output block in latency (it must wait for a whole block): the playout reported
  // 220 ms with FEC before it, 225 ms with these 5 ms blocks, 230 ms with the default 10 ms
  // (test/media-sound.test.ts); without FEC the video path's 133 ms rules either way. The tone
  // source reports 10 ms, below the far end's path, so it adds nothing. The mixer aggregates on
  // a timeout (force-live) and ignores pads that never had data: an idle box with no RTP
  // still plays (silence) and holds nothing back.
  b.chain(
    b.el('audiomixer', { name: 'amix', 'force-live': true, 'ignore-inactive-pads': true, 'output-buffer-duration': 5_000_000 }),
    RAW_AUDIO_CAPS,
    b.el('volume', { name: 'volume', volume: o.volumePercent / 100 }),
    // Sees exactly what goes to the speaker, so webrtcdsp can cancel it from the microphone.
    b.el('webrtcechoprobe', { name: ECHO_PROBE }),
    b.el('audioconvert'),
    b.el('audioresample'),
    o.speaker ? b.fragment(o.speaker.element, { name: 'speaker', async: false }) : b.el('fakesink', { name: 'speaker', sync: true, async: false }),
  );
  return b.build('playout');
}

export interface ToneOptions {
  channel: string;
  hz: number;
  /** Amplitude, 0 to 1 of full scale, before the playout's volume. */
  level: number;
}

/**
 * A sine into the playout's tone channel, for as long as it runs (the engine stops it). The
 * sink runs 40 ms ahead of the clock (a source that is not live can): the playout's
 * interaudiosrc then always finds a whole period waiting, and a tone thread that stalls a
 * moment is no gap in the tone.
 */
export function describeTone(o: ToneOptions): PipelineDescription {
  const b = new LaunchBuilder();
  b.chain(
    b.el('audiotestsrc', { name: 'tonegen', wave: 'sine', freq: o.hz, volume: o.level, samplesperbuffer: 480 }),
    RAW_AUDIO_CAPS,
    b.el('interaudiosink', { name: 'tonesink', channel: o.channel, 'ts-offset': -40_000_000 }),
  );
  return b.build('tone');
}
