/** Media types shared by the worker (which runs GStreamer) and the main process (which does not). */
import type { Config } from '../config/schema.js';
import type { SerializedError } from '../errors.js';

export type MediaSettings = Config['media'];
export type SnapshotSource = 'camera' | 'screen';
/** What the far end is shown: the camera, the "no camera" slate, or the "camera off" slate. */
export type VideoSourceState = 'camera' | 'no-camera' | 'muted';

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
  videoSource: VideoSourceState;
  camera: { id: string; name: string } | null;
  microphone: { id: string; name: string } | null;
  audioMuted: boolean;
  videoMuted: boolean;
  volume: number;
  bitrateKbps: number;
  selfView: boolean;
  overlayText: string;
  pipelines: PipelineStatus[];
  /** Counted by the sinks themselves: frames shown on the screen, audio buffers played. */
  rendered: { videoFrames: number; audioBuffers: number };
}
