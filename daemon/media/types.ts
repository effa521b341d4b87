/** Media types shared by the worker (which runs GStreamer) and the main process (which does not). */
import type { Config } from '../config/schema.js';
import type { SerializedError } from '../errors.js';
import type { Connection } from './devices/model.js';

export type MediaSettings = Config['media'];
export type SnapshotSource = 'camera' | 'screen';
export interface SnapshotOptions {
  /** Scaled down to this width at most (the aspect kept): a phone's preview needs no 720p. */
  maxWidth?: number;
}
/** A microphone recording: its length and its loudest sample (dBFS). */
export interface Recording {
  seconds: number;
  peakDb: number;
}
/** What the far end is shown: the camera, the "no camera" slate, or the "camera off" slate. */
export type VideoSourceState = 'camera' | 'no-camera' | 'muted';

/** One picture drawn over the screen: an SVG document, placed with its top left at (x, y). */
export interface ScreenLayer {
  svg: string;
  x: number;
  y: number;
}

/** What the TV shows over the compositor's picture (daemon/screen/art.ts): at most SCREEN_LAYERS layers. */
export interface ScreenArt {
  /** Which screen, for the status and the logs ("idle", "call", "error:no-network"). */
  name: string;
  layers: ScreenLayer[];
}

/** Overlay elements in the playout: a full screen or the in-call band, and the message band. */
export const SCREEN_LAYERS = 2;

export type PipelineState = 'stopped' | 'starting' | 'running' | 'restarting' | 'failed';

export interface PipelineStatus {
  name: string;
  state: PipelineState;
  restarts: number;
  lastError: SerializedError | null;
}

export interface MediaStatus {
  encoder: { name: string; codec: 'H264' | 'VP8' } | null;
  encoderCandidates: Array<{ name: string; codec: string; ok: boolean; error?: SerializedError }>;
  /** Capturing and sending (in a call or a loopback); the camera is closed otherwise. */
  sending: boolean;
  /** The camera and microphone are open for a preview (the setup page), sending or not. */
  previewing: boolean;
  videoSource: VideoSourceState;
  camera: { id: string; name: string } | null;
  microphone: { id: string; name: string } | null;
  /** The speaker the playout plays through and how it is attached (media.audio.output); null: none, sound goes nowhere. */
  speaker: { id: string; name: string; connection: Connection } | null;
  audioMuted: boolean;
  videoMuted: boolean;
  volume: number;
  bitrateKbps: number;
  selfView: boolean;
  /** The screen drawn over the picture: its name and how many layers it has (none: the picture alone). */
  screen: { name: string; layers: number };
  /** The size the screen is drawn at: the TV's mode. */
  output: { width: number; height: number };
  pipelines: PipelineStatus[];
  /** Counted by the sinks themselves: frames shown on the screen, audio buffers played. */
  rendered: { videoFrames: number; audioBuffers: number };
  /**
   * The size asked for with setSendSize (the capture size unless a poor link asked for less);
   * null: video paused, audio only.
   */
  sendSize: { width: number; height: number } | null;
  /** The size the encoder is given (its input caps); null while nothing is sent. */
  sentVideo: { width: number; height: number } | null;
  /** What the playout received from the far end since the current call started (`setSending(true)`). */
  received: ReceivedMedia;
}

/** One received RTP stream, from its jitter buffer (summed over playout restarts). */
export interface ReceivedStream {
  /** Packets the jitter buffer passed on. */
  packets: number;
  /** Packets it gave up on: missing when their play time came (those that came later are in packetsLate too). */
  packetsLost: number;
  /** Packets that arrived after their play time (or again), dropped. */
  packetsLate: number;
  /** Interarrival jitter (RFC 3550 style, 1/16 smoothing), ms; null before any packet. */
  jitterMs: number | null;
}

export interface ReceivedVideo extends ReceivedStream {
  /** Frames out of the decoder. */
  frames: number;
  /** The decoder's output size; null before the first decoded frame. */
  width: number | null;
  height: number | null;
  /** Decoded frames a second over the last ~2 s; null before the first decoded frame. */
  fps: number | null;
  /** Gaps between decoded frames longer than max(3 × the average frame interval, 200 ms). */
  freezes: { count: number; totalMs: number };
}

export interface ReceivedMedia {
  video: ReceivedVideo;
  audio: ReceivedStream;
}
