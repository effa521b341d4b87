/**
 * The typed messages between the daemon and its media worker (child_process IPC with the
 * "advanced" serialization, so Buffers cross as bytes). Only this file knows their shapes.
 */
import type { SerializedError } from '../errors.js';
import type { ScreenSink, FrameSize } from './pipelines.js';
import type { MicrophoneLevel } from './microphone.js';
import type { MediaSettings, MediaStatus, Recording, ScreenArt, SnapshotOptions, SnapshotSource } from './types.js';

/** What the rest of the daemon may ask of the media engine, wherever it runs. */
export interface MediaControl {
  status(): Promise<MediaStatus>;
  setBitrate(kbps: number): Promise<void>;
  forceKeyframe(): Promise<void>;
  setAudioMuted(muted: boolean): Promise<void>;
  setVideoMuted(muted: boolean): Promise<void>;
  setVolume(percent: number): Promise<void>;
  /** A 1 kHz tone through the speaker for `seconds` (at most 10), the far end's voice's way: volume, echo probe, speaker. */
  playTestTone(seconds: number): Promise<void>;
  /** What the TV shows over the picture: daemon/screen/art.ts draws it. */
  setScreenArt(art: ScreenArt): Promise<void>;
  /** The TV's mode (display hotplug): the screen is rebuilt at a new size, or with `rebuild` at any (a TV plugged back). */
  setOutputSize(size: FrameSize, rebuild?: boolean): Promise<void>;
  setSelfView(visible: boolean): Promise<void>;
  /** A JPEG of the camera (capturing: a call or a preview) or of the screen; `maxWidth` scales it down. */
  snapshot(source: SnapshotSource, options?: SnapshotOptions): Promise<Buffer>;
  /**
   * Opens the camera and the microphone without sending for `seconds` (at most 120; each call
   * sets a new end): the setup page's camera preview, shown on the TV too, and its meter.
   */
  preview(seconds: number): Promise<void>;
  /** The microphone's level over the last 100 ms; null while it is closed. */
  microphoneLevel(): Promise<MicrophoneLevel | null>;
  /** Records `seconds` (1–10) of the microphone (opening it if needed); resolves when done. */
  recordMicrophone(seconds: number): Promise<Recording>;
  /** Plays the last recording through the speaker, the test tone's way; resolves as it starts. */
  playRecording(): Promise<Recording>;
  injectFault(pipeline: string): Promise<void>;
  setSending(on: boolean): Promise<void>;
  /**
   * The size the encoder is given, at most the capture size (scaled live, no restart), or null:
   * video paused, audio only; the next size resumes it with a keyframe. Stopping sending goes
   * back to the capture size.
   */
  setSendSize(size: FrameSize | null): Promise<void>;
}

export type MediaMethod = keyof MediaControl;
export const MEDIA_METHODS: readonly MediaMethod[] = [
  'status',
  'setBitrate',
  'forceKeyframe',
  'setAudioMuted',
  'setVideoMuted',
  'setVolume',
  'playTestTone',
  'setScreenArt',
  'setOutputSize',
  'setSelfView',
  'snapshot',
  'preview',
  'microphoneLevel',
  'recordMicrophone',
  'playRecording',
  'injectFault',
  'setSending',
  'setSendSize',
];

export interface WorkerInit {
  settings: MediaSettings;
  /** Simulated devices (test sources) instead of GStreamer's device monitor. */
  simDevices: boolean;
  screen: ScreenSink;
  outputSize: FrameSize;
  /** Capture and send from the start (loopback); otherwise the camera stays closed until asked. */
  send: boolean;
  logLevel: string;
}

export type ToWorker =
  | { type: 'init'; init: WorkerInit }
  | { type: 'request'; id: number; method: MediaMethod; args: unknown[] }
  | { type: 'shutdown' };

export type FromWorker =
  | { type: 'ready'; status: MediaStatus }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: SerializedError }
  | { type: 'status'; status: MediaStatus }
  | { type: 'event'; name: 'camera-lost' | 'camera-found'; device: { id: string; name: string } }
  | { type: 'fatal'; error: SerializedError };
