import { Gst } from './gst.js';
import { LaunchBuilder, rawVideoCaps } from './launch.js';
import { runToEos } from './pipeline.js';
import { MediaError, serializeError, type SerializedError } from '../errors.js';
import type { Logger } from '../log.js';

export type EncoderName = 'v4l2h264enc' | 'x264enc' | 'openh264enc' | 'vp8enc';
export type VideoCodec = 'H264' | 'VP8';

export interface EncoderSettings {
  bitrateKbps: number;
  fps: number;
  keyframeIntervalS: number;
}

/** Everything the pipelines need to know about one encoder, and how to steer it at run time. */
export interface EncoderProfile {
  readonly name: EncoderName;
  readonly codec: VideoCodec;
  /** The encoder element (named `venc`) and what must follow it up to the payloader. */
  fragment(b: LaunchBuilder, s: EncoderSettings): string[];
  setBitrate(encoder: Gst.Element, kbps: number): void;
}

/** H.264 for WebRTC: constrained baseline, byte-stream into rtph264pay (packetization-mode 1). */
const H264_CAPS = 'video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au';

const PROFILES: Record<EncoderName, EncoderProfile> = {
  v4l2h264enc: {
    name: 'v4l2h264enc',
    codec: 'H264',
    // The Pi 4's hardware encoder takes its rate control through V4L2 controls and needs an
    // explicit level in the caps to negotiate.
    fragment: (b, s) => [
      b.el('v4l2h264enc', {
        name: 'venc',
        'extra-controls': `controls,video_bitrate=${s.bitrateKbps * 1000},video_bitrate_mode=1,h264_i_frame_period=${s.fps * s.keyframeIntervalS},repeat_sequence_header=1,h264_profile=1`,
      }),
      `${H264_CAPS},level=(string)4`,
      b.el('h264parse', { 'config-interval': -1 }),
    ],
    setBitrate: (enc, kbps) => {
      // Not exercised here (no V4L2 encoder on this machine): the driver applies controls live.
      (enc as Gst.Element & { extraControls: Gst.Structure }).extraControls = Gst.Structure.newFromString(`controls,video_bitrate=${kbps * 1000}`);
    },
  },
  x264enc: {
    name: 'x264enc',
    codec: 'H264',
    fragment: (b, s) => [
      b.el('x264enc', {
        name: 'venc',
        tune: 'zerolatency',
        'speed-preset': 'ultrafast',
        bitrate: s.bitrateKbps,
        'vbv-buf-capacity': 500,
        'key-int-max': s.fps * s.keyframeIntervalS,
        bframes: 0,
        threads: 2,
      }),
      H264_CAPS,
    ],
    setBitrate: (enc, kbps) => enc.setProperty('bitrate', kbps),
  },
  openh264enc: {
    name: 'openh264enc',
    codec: 'H264',
    fragment: (b, s) => [
      b.el('openh264enc', {
        name: 'venc',
        'usage-type': 'camera',
        'rate-control': 'bitrate',
        complexity: 'low',
        bitrate: s.bitrateKbps * 1000,
        'gop-size': s.fps * s.keyframeIntervalS,
      }),
      H264_CAPS,
    ],
    setBitrate: (enc, kbps) => enc.setProperty('bitrate', kbps * 1000),
  },
  vp8enc: {
    name: 'vp8enc',
    codec: 'VP8',
    fragment: (b, s) => [
      // libvpx budgets bits per frame, not per second: frames dropped before it by the leaky
      // queue (an overloaded machine) made it overshoot by 30-60% (measured). videorate fills
      // the gaps with repeats, which cost almost no bits, and the target holds.
      b.el('videorate'),
      b.el('vp8enc', {
        name: 'venc',
        deadline: 1,
        'cpu-used': 8,
        'end-usage': 'cbr',
        'target-bitrate': s.bitrateKbps * 1000,
        'keyframe-max-dist': s.fps * s.keyframeIntervalS,
        'lag-in-frames': 0,
        'error-resilient': 'partitions',
        threads: 2,
        // Real-time rate control as WebRTC sets libvpx: a 1 s buffer, and frames dropped rather
        // than the rate overshot (without it 720p motion ran at 5x a 500 kbps target).
        'buffer-size': 1000,
        'buffer-initial-size': 500,
        'buffer-optimal-size': 600,
        'max-quantizer': 56,
        'dropframe-threshold': 30,
        undershoot: 95,
        overshoot: 15,
      }),
    ],
    setBitrate: (enc, kbps) => enc.setProperty('target-bitrate', kbps * 1000),
  },
};

export interface EncoderCandidate {
  name: EncoderName;
  codec: VideoCodec;
  ok: boolean;
  error?: SerializedError;
}

export interface EncoderChoice {
  chosen: EncoderProfile;
  candidates: EncoderCandidate[];
}

/**
 * Tries the encoders in the configured order (hardware H.264 first) by really encoding a few
 * frames: an element can exist and still fail (no /dev/video11, no licence, wrong caps).
 */
export async function chooseEncoder(order: readonly EncoderName[], log: Logger): Promise<EncoderChoice> {
  const candidates: EncoderCandidate[] = [];
  for (const name of order) {
    const profile = PROFILES[name];
    try {
      await probeEncoder(profile);
      candidates.push({ name, codec: profile.codec, ok: true });
      log.info({ encoder: name, codec: profile.codec, candidates }, 'video encoder chosen');
      return { chosen: profile, candidates };
    } catch (e) {
      const error = serializeError(e);
      candidates.push({ name, codec: profile.codec, ok: false, error });
      log.info({ encoder: name, reason: error.message }, 'video encoder not usable');
    }
  }
  throw new MediaError('DC_MEDIA_NO_ENCODER', `no usable video encoder among ${order.join(', ')}`, { candidates });
}

/** Encodes five frames; fails with DC_MEDIA_ELEMENT_MISSING (naming the package) when the element is absent. */
export async function probeEncoder(profile: EncoderProfile): Promise<void> {
  const b = new LaunchBuilder();
  b.chain(
    b.el('videotestsrc', { 'num-buffers': 5 }),
    rawVideoCaps(320, 240, 30),
    ...profile.fragment(b, { bitrateKbps: 300, fps: 30, keyframeIntervalS: 1 }),
    b.el('fakesink'),
  );
  await runToEos(b.build(`probe-${profile.name}`), 5000);
}
