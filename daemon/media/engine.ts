import { Gst, GstVideo, startGLibPump, stopGLibPump } from './gst.js';
import { chooseEncoder, type EncoderCandidate, type EncoderName, type EncoderProfile } from './encoders.js';
import { createPipeline, SupervisedPipeline } from './pipeline.js';
import {
  DECODED_FRAMES,
  describeAudioSend,
  describeCamera,
  describeMicrophone,
  describePlayback,
  describePlayout,
  describeRecording,
  describeSlate,
  describeTone,
  describeVideoSend,
  selfViewPlacement,
  selfViewSize,
  screenLayerElement,
  sendSizeCaps,
  type FrameSize,
  type ScreenLayerFile,
  type ScreenSink,
} from './pipelines.js';
import { ScreenFiles } from './screen-files.js';
import { renderSlate } from '../screen/art.js';
import { chooseCameraMode, type MediaDevice } from './devices/model.js';
import type { DeviceWatcher } from './devices/watcher.js';
import { chooseSpeaker, type SpeakerChoice } from './devices/speaker.js';
import type { PipelineDescription } from './launch.js';
import { MediaError } from '../errors.js';
import { parseLevelMessage, wavPeakDb, type MicrophoneLevel } from './microphone.js';
import { readFileSync } from 'node:fs';
import { runToEos } from './pipeline.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type { Logger } from '../log.js';
import type {
  MediaSettings,
  MediaStatus,
  PipelineStatus,
  ReceivedMedia,
  ScreenArt,
  ReceivedStream,
  Recording,
  SnapshotOptions,
  SnapshotSource,
  VideoSourceState,
} from './types.js';

export interface MediaEngineOptions {
  settings: MediaSettings;
  devices: DeviceWatcher;
  log: Logger;
  /** Where the picture goes: the TV (kms), a desktop window, or nowhere (headless, tests). */
  screen: ScreenSink;
  /** The TV's mode; the compositor draws at this size. */
  outputSize: FrameSize;
  /**
   * Capture and send from the start (a call, a loopback). Otherwise only the screen runs and the
   * camera stays off (its light too) until `setSending(true)`.
   */
  send: boolean;
}

export interface MediaEngineEvents extends Record<string, unknown[]> {
  status: [MediaStatus];
  'camera-lost': [MediaDevice];
  'camera-found': [MediaDevice];
}

const CHANNEL = 'cam';
/** What sends; closed while there is no call. */
const SENDERS = ['video-send', 'audio-send'] as const;
/** What captures; closed while there is neither a call nor a preview. */
const CAPTURE = ['camera', 'slate', 'microphone'] as const;
const SEND_SIDE = [...SENDERS, ...CAPTURE] as const;
/** The longest preview one request opens, s: a page left open renews it, a closed one lets it end. */
const MAX_PREVIEW_S = 120;
const MAX_RECORDING_S = 10;
/** The channel a recording reads the microphone from (not the sender's). */
const RECORD_CHANNEL = 'mic-rec';
/** A level older than this is a microphone that stopped (ms). */
const LEVEL_STALE_MS = 1000;
/** The idle screen changes once a second at most: drawing it at 30 fps cost 15% of a core here. */
const IDLE_SCREEN_FPS = 5;
const MIC_CHANNEL = 'mic';
/** The inter channel the test tone reaches the playout's mixer by. */
const TONE_CHANNEL = 'tone';
/** The test tone: 1 kHz (the usual test tone, clear of the voice's fundamentals) at half scale, before the volume. */
const TONE = { hz: 1000, level: 0.5 };
/** The longest test tone, s (a tone nobody stops must not go on). */
const MAX_TONE_S = 10;
/**
 * How often the decoded-frame counter is read during a call (ms): the resolution of freeze
 * timing when frame timestamps are not at hand. One read costs ~20 µs here.
 */
const FRAME_POLL_MS = 25;
/** Jitter buffers and decoder caps change slowly: read every this many frame polls (0.5 s). */
const SLOW_POLL_EVERY = 20;

/**
 * The media side of the box: sources, encoder, RTP send, playout to the screen and speaker, and
 * the controls a call or the fleet console uses. Every pipeline is supervised; a fault restarts
 * that pipeline alone and never throws out of here.
 */
export class MediaEngine extends TypedEmitter<MediaEngineEvents> {
  private encoder: EncoderProfile | null = null;
  private candidates: EncoderCandidate[] = [];
  private camera: MediaDevice | undefined;
  private microphone: MediaDevice | undefined;
  /** The speaker the running playout was built with. */
  private speaker: MediaDevice | undefined;
  /** The last speaker fallback warned about, so a playout restarting does not repeat it. */
  private speakerWarning = '';
  private tone: Gst.Pipeline | null = null;
  private toneTimer: NodeJS.Timeout | undefined;
  private previewing = false;
  private previewTimer: NodeJS.Timeout | undefined;
  private micLevel: (MicrophoneLevel & { at: number }) | null = null;
  private recording: (Recording & { path: string }) | null = null;
  private recordingUnderWay = false;
  private videoMuted = false;
  private audioMuted = false;
  private volumePercent: number;
  private bitrateKbps: number;
  /** What the encoder is given (setSendSize): the capture size unless a poor link asked for less. */
  private sendSize: FrameSize;
  /** Audio only: the valve before the encoder drops every frame. */
  private videoPaused = false;
  private screenArt: ScreenArt = { name: 'none', layers: [] };
  private readonly screenFiles = new ScreenFiles();
  private screenLayers: Array<ScreenLayerFile | null> = [];
  /** The TV's mode: the compositor draws at this size (setOutputSize follows a new TV). */
  private outputSize: FrameSize;
  private selfViewVisible: boolean;
  private readonly pipelines = new Map<string, SupervisedPipeline>();
  private readonly unsubscribe: Array<() => void> = [];
  private started = false;
  private sending = false;
  /** The frame rate the running playout was built with. */
  private playoutFps = 0;
  /**
   * webrtcdsp binds to the echo probe in the playout pipeline when it starts: each new playout
   * has a new probe, and an audio sender bound to an older one must restart to cancel echo.
   */
  private probeGeneration = 0;
  private audioSendProbeGeneration = -1;
  /** What the far end's media did since this call started (see setSending). */
  private receive = new ReceiveMeter();
  private receivePoll: NodeJS.Timeout | undefined;

  constructor(private readonly opts: MediaEngineOptions) {
    super();
    this.volumePercent = opts.settings.audio.volume;
    this.bitrateKbps = opts.settings.video.bitrateKbps;
    this.sendSize = this.size;
    this.selfViewVisible = opts.settings.output.selfView;
    this.outputSize = { ...opts.outputSize };
  }

  private get size(): FrameSize {
    const [width = 1280, height = 720] = this.opts.settings.video.size.split('x').map(Number);
    return { width, height };
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { settings, log, devices } = this.opts;
    let choice: Awaited<ReturnType<typeof chooseEncoder>>;
    try {
      choice = await chooseEncoder(settings.video.encoders as EncoderName[], log);
    } catch (e) {
      // Not started: a retry must try again, and nothing may keep the process alive.
      this.started = false;
      throw e;
    }
    // After the probe (it polls its own bus): a failed start leaves no timer running.
    startGLibPump();
    this.encoder = choice.chosen;
    this.candidates = choice.candidates;

    const supervise = (name: string, describe: () => PipelineDescription) => {
      const p = new SupervisedPipeline(name, describe, { initialDelayMs: settings.restart.initialDelayMs, maxDelayMs: settings.restart.maxDelayMs }, log);
      p.on('state', () => this.emitStatus());
      this.pipelines.set(name, p);
      return p;
    };

    // Devices before the playout: it chooses its speaker among them when it is built.
    devices.start();
    // Playout first: it holds the echo probe that the microphone's echo canceller looks up.
    this.sending = this.opts.send;
    const playout = supervise('playout', () => this.describePlayout());
    playout.on('started', () => this.probeGeneration++);
    playout.on('state', (s) => {
      if (s.state === 'running') {
        this.rebindEchoCanceller();
        this.placeSelfView();
      }
    });
    playout.start();
    const camera = supervise('camera', () => this.describeCamera());
    camera.on('state', (s) => this.onCameraState(s));
    supervise('slate', () => this.describeSlate());
    supervise('microphone', () => this.describeMicrophone()).on('element', (msg) => {
      const level = parseLevelMessage(msg.getStructure()?.toString() ?? '');
      if (level) this.micLevel = { ...level, at: Date.now() };
    });
    supervise('video-send', () => this.describeVideoSend());
    supervise('audio-send', () => this.describeAudioSend()).on('started', () => (this.audioSendProbeGeneration = this.probeGeneration));

    this.unsubscribe.push(
      devices.on('added', (d) => this.onDeviceAdded(d)),
      devices.on('removed', (d) => this.onDeviceRemoved(d)),
    );
    this.camera = devices.pick('camera', settings.video.camera);
    this.microphone = devices.pick('microphone', settings.audio.microphone);
    this.setSending(this.opts.send);
  }

  /** Starts or stops capture and sending: the camera and microphone are open only while sending. */
  setSending(on: boolean): void {
    if (!this.started) throw new MediaError('DC_MEDIA_NOT_RUNNING', 'the media engine is not running');
    this.sending = on;
    // A new call starts its receive figures from zero; a second setSending(true) in the same
    // call (a peer connection replaced) keeps them.
    if (on && !this.receivePoll) {
      this.receive = this.newReceiveMeter();
      this.receivePoll = setInterval(() => this.pollReceive(false), FRAME_POLL_MS);
      this.receivePoll.unref();
    } else if (!on) {
      this.stopReceivePoll();
    }
    // The screen runs at the call's frame rate only while there is a call to show.
    if (this.screenFps() !== this.playoutFps) {
      this.pipeline('playout').stop();
      this.pipeline('playout').start();
    }
    if (on) {
      this.pipeline('audio-send').start();
      this.startCapture();
      this.pipeline('video-send').start();
    } else {
      for (const name of SENDERS) this.pipeline(name).stop();
      // A preview under way keeps the camera and microphone until it ends.
      if (!this.previewing) this.stopCapture();
      // The next call starts at the capture size, whatever this one's link allowed.
      this.sendSize = this.size;
      this.videoPaused = false;
    }
    this.emitStatus();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.stopReceivePoll();
    this.stopTestTone();
    clearTimeout(this.previewTimer);
    this.previewing = false;
    for (const off of this.unsubscribe.splice(0)) off();
    // Senders before sources, playout last (the echo probe outlives the canceller).
    for (const name of [...SEND_SIDE, 'playout']) this.pipelines.get(name)?.stop();
    this.pipelines.clear();
    this.opts.devices.stop();
    this.screenFiles.remove();
    stopGLibPump();
  }

  status(): MediaStatus {
    return {
      encoder: this.encoder ? { name: this.encoder.name, codec: this.encoder.codec } : null,
      encoderCandidates: this.candidates,
      sending: this.sending,
      previewing: this.previewing,
      videoSource: this.videoSourceState(),
      camera: this.camera ? { id: this.camera.id, name: this.camera.name } : null,
      microphone: this.microphone ? { id: this.microphone.id, name: this.microphone.name } : null,
      speaker: this.speaker ? { id: this.speaker.id, name: this.speaker.name, connection: this.speaker.connection } : null,
      audioMuted: this.audioMuted,
      videoMuted: this.videoMuted,
      volume: this.volumePercent,
      bitrateKbps: this.bitrateKbps,
      selfView: this.selfViewVisible,
      screen: { name: this.screenArt.name, layers: this.screenArt.layers.length },
      output: { ...this.outputSize },
      pipelines: [...this.pipelines.values()].map((p) => p.snapshot),
      rendered: { videoFrames: this.sinkRendered('playout', 'screen'), audioBuffers: this.sinkRendered('playout', 'speaker') },
      sendSize: this.videoPaused ? null : { ...this.sendSize },
      sentVideo: capsSize(this.optionalElement('video-send', 'venc')?.getStaticPad('sink') ?? null),
      received: this.receivedFigures(),
    };
  }

  // --- controls -----------------------------------------------------------------------------

  setBitrate(kbps: number): void {
    if (!Number.isInteger(kbps) || kbps < 50 || kbps > 20_000) {
      throw new MediaError('DC_MEDIA_BAD_REQUEST', `bitrate must be an integer from 50 to 20000 kbps, got ${kbps}`);
    }
    this.bitrateKbps = kbps;
    this.applyBitrate();
    this.emitStatus();
  }

  /** Asks the encoder for a keyframe now (a PLI/FIR from the far end, or a new viewer). */
  forceKeyframe(): void {
    const encoder = this.element('video-send', 'venc');
    const event = GstVideo.videoEventNewUpstreamForceKeyUnit(Gst.CLOCK_TIME_NONE, true, 0);
    if (!encoder.getStaticPad('src')?.sendEvent(event)) {
      throw new MediaError('DC_MEDIA_PIPELINE', 'the encoder did not accept the keyframe request');
    }
  }

  /**
   * Scales the picture before the encoder (a poor link) without a restart: the encoder
   * renegotiates and starts the new size with a keyframe. null pauses video, audio only: the
   * valve before the encoder drops every frame and the audio sender is not touched. A size
   * after null resumes with a forced keyframe, so the far end's decoder can start again.
   */
  setSendSize(size: FrameSize | null): void {
    if (size !== null) {
      const max = this.size;
      const fits = (n: unknown, limit: number) => Number.isInteger(n) && (n as number) % 2 === 0 && (n as number) >= 32 && (n as number) <= limit;
      if (typeof size !== 'object' || !fits(size.width, max.width) || !fits(size.height, max.height)) {
        throw new MediaError(
          'DC_MEDIA_BAD_REQUEST',
          `send size must be an even width and height from 32 up to the capture size ${max.width}x${max.height}, got ${JSON.stringify(size)}`,
        );
      }
    }
    const resume = this.videoPaused && size !== null;
    if (size) this.sendSize = { width: size.width, height: size.height };
    this.videoPaused = size === null;
    this.applySendSize(resume);
    this.emitStatus();
  }

  setAudioMuted(muted: boolean): void {
    this.audioMuted = muted;
    const mute = this.optionalElement('audio-send', 'micmute');
    if (mute) mute.setProperty('mute', muted);
    this.emitStatus();
  }

  /** Muting video stops the camera (its light goes off) and the far end sees the slate. */
  setVideoMuted(muted: boolean): void {
    this.videoMuted = muted;
    this.updateVideoSource();
    this.emitStatus();
  }

  setVolume(percent: number): void {
    if (!Number.isFinite(percent) || percent < 0 || percent > 150) {
      throw new MediaError('DC_MEDIA_BAD_REQUEST', `volume must be from 0 to 150 percent, got ${percent}`);
    }
    this.volumePercent = percent;
    this.optionalElement('playout', 'volume')?.setProperty('volume', percent / 100);
    this.emitStatus();
  }

  /**
   * Plays a 1 kHz tone through the speaker for `seconds`, the far end's voice's way (mixed in
   * before the volume and the echo probe): what the hall hears is what a call would play. A
   * second call starts it again for its own length.
   */
  playTestTone(seconds: number): void {
    if (!this.started) throw new MediaError('DC_MEDIA_NOT_RUNNING', 'the media engine is not running');
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_TONE_S) {
      throw new MediaError('DC_MEDIA_BAD_REQUEST', `test tone length must be more than 0 and at most ${MAX_TONE_S} seconds, got ${seconds}`);
    }
    this.playThroughSpeaker(describeTone({ channel: TONE_CHANNEL, ...TONE }), seconds, 'the test tone');
    this.opts.log.info({ event: 'media.test_tone', seconds, speaker: this.speaker?.name ?? null }, 'test tone');
  }

  /**
   * Opens the camera and the microphone without sending for `seconds`: the setup page's camera
   * preview and microphone meter. Each call sets a new end; at the end they close again unless
   * a call uses them. The TV shows the camera picture full screen meanwhile, for framing.
   */
  preview(seconds: number): void {
    if (!this.started) throw new MediaError('DC_MEDIA_NOT_RUNNING', 'the media engine is not running');
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_PREVIEW_S) {
      throw new MediaError('DC_MEDIA_BAD_REQUEST', `a preview lasts more than 0 and at most ${MAX_PREVIEW_S} seconds, got ${seconds}`);
    }
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => this.endPreview(), seconds * 1000);
    this.previewTimer.unref();
    if (this.previewing) return;
    this.previewing = true;
    this.startCapture();
    this.placeSelfView();
    this.opts.log.info({ event: 'media.preview', seconds }, 'camera preview');
    this.emitStatus();
  }

  microphoneLevel(): MicrophoneLevel | null {
    const state = this.pipelines.get('microphone')?.snapshot.state;
    if (state !== 'running' || !this.micLevel || Date.now() - this.micLevel.at > LEVEL_STALE_MS) return null;
    return { rmsDb: this.micLevel.rmsDb, peakDb: this.micLevel.peakDb };
  }

  /** Records `seconds` of the microphone to a WAV file (opening it for a preview if it is closed). */
  async recordMicrophone(seconds: number): Promise<Recording> {
    if (!this.started) throw new MediaError('DC_MEDIA_NOT_RUNNING', 'the media engine is not running');
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_RECORDING_S) {
      throw new MediaError('DC_MEDIA_BAD_REQUEST', `a recording lasts 1 to ${MAX_RECORDING_S} whole seconds, got ${seconds}`);
    }
    if (!this.microphone) throw new MediaError('DC_MEDIA_NOT_RUNNING', 'no microphone is plugged in');
    if (this.recordingUnderWay) throw new MediaError('DC_MEDIA_BAD_REQUEST', 'a recording is already under way');
    if (!this.capturing) this.preview(seconds + 5);
    this.recordingUnderWay = true;
    const path = this.screenFiles.write('recording.wav', '');
    try {
      await runToEos(describeRecording({ channel: RECORD_CHANNEL, seconds, path }), seconds * 1000 + 5000);
      this.recording = { seconds, peakDb: wavPeakDb(readFileSync(path)), path };
    } finally {
      this.recordingUnderWay = false;
    }
    this.opts.log.info({ event: 'media.recorded', seconds, peakDb: this.recording.peakDb }, 'microphone recorded');
    return { seconds, peakDb: this.recording.peakDb };
  }

  /** Plays the last recording through the speaker, the test tone's way (volume, echo probe). */
  playRecording(): Recording {
    if (!this.started) throw new MediaError('DC_MEDIA_NOT_RUNNING', 'the media engine is not running');
    const recording = this.recording;
    if (!recording) throw new MediaError('DC_MEDIA_BAD_REQUEST', 'nothing recorded yet: record first');
    // Half a second more: the playback's own start-up, so the end is not cut.
    this.playThroughSpeaker(describePlayback({ path: recording.path, channel: TONE_CHANNEL }), recording.seconds + 0.5, 'the recording');
    this.opts.log.info({ event: 'media.playback', seconds: recording.seconds }, 'recording played back');
    return { seconds: recording.seconds, peakDb: recording.peakDb };
  }

  /** A sound into the playout's tone channel for `seconds`; a new one replaces the one playing. */
  private playThroughSpeaker(desc: PipelineDescription, seconds: number, what: string): void {
    this.stopTestTone();
    const pipeline = createPipeline(desc);
    if (pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) {
      pipeline.setState(Gst.State.NULL);
      throw new MediaError('DC_MEDIA_PIPELINE', `${what} did not start`);
    }
    this.tone = pipeline;
    this.toneTimer = setTimeout(() => this.stopTestTone(), seconds * 1000);
    this.toneTimer.unref();
  }

  /**
   * What the TV shows over the picture (daemon/screen/art.ts). Each layer is rendered once,
   * here, when it changes: librsvg takes tens of ms for a full screen, blending it each frame
   * takes far less.
   */
  setScreenArt(art: ScreenArt): void {
    this.screenLayers = this.screenFiles.writeArt(art);
    this.screenArt = { name: art.name, layers: art.layers.map((l) => ({ ...l, svg: '' })) };
    this.screenLayers.forEach((layer, i) => {
      const element = this.optionalElement('playout', screenLayerElement(i));
      if (!element) return;
      if (!layer) return element.setProperty('alpha', 0);
      element.setProperty('offset-x', layer.x);
      element.setProperty('offset-y', layer.y);
      element.setProperty('location', layer.path);
      element.setProperty('alpha', 1);
    });
    this.emitStatus();
  }

  /** A new TV mode (display hotplug): the playout is rebuilt at that size, or with `rebuild` at any. */
  setOutputSize(size: FrameSize, rebuild = false): void {
    if (!Number.isInteger(size.width) || !Number.isInteger(size.height) || size.width < 320 || size.height < 240 || size.width > 1920 || size.height > 1080) {
      throw new MediaError('DC_MEDIA_BAD_REQUEST', `output size must be from 320×240 to 1920×1080, got ${size.width}×${size.height}`);
    }
    if (size.width === this.outputSize.width && size.height === this.outputSize.height && !rebuild) return;
    this.opts.log.info({ event: 'media.output', from: this.outputSize, to: size, rebuild }, 'restarting the screen for the TV');
    this.outputSize = { ...size };
    if (this.started) {
      this.pipeline('playout').stop();
      this.pipeline('playout').start();
    }
    this.emitStatus();
  }

  setSelfView(visible: boolean): void {
    this.selfViewVisible = visible;
    this.placeSelfView();
    this.emitStatus();
  }

  /**
   * The self-view on the TV: the corner picture (if shown), or during a preview the whole
   * screen, scaled up by the compositor, so the camera can be framed looking at the TV.
   */
  private placeSelfView(): void {
    const pad = this.optionalElement('playout', 'comp')?.getStaticPad('sink_2');
    if (!pad) return;
    const self = selfViewSize(this.size);
    const { x, y } = this.previewing && !this.sending ? { x: 0, y: 0 } : selfViewPlacement(this.outputSize, self);
    const size = this.previewing && !this.sending ? this.outputSize : self;
    pad.setProperty('xpos', x);
    pad.setProperty('ypos', y);
    pad.setProperty('width', size.width);
    pad.setProperty('height', size.height);
    pad.setProperty('alpha', this.selfViewVisible || (this.previewing && !this.sending) ? 1 : 0);
  }

  /** A JPEG of the camera picture (at the capture size) or of the screen (at the output size). */
  snapshot(source: SnapshotSource, options: SnapshotOptions = {}): Buffer {
    const [pipelineName, sinkName, full] =
      source === 'camera' ? (['camera', 'sendsink', this.size] as const) : (['playout', 'screen', this.outputSize] as const);
    const size = scaledToWidth(full, options.maxWidth);
    if (source === 'camera' && this.videoSourceState() !== 'camera') {
      throw new MediaError('DC_MEDIA_NOT_RUNNING', `no camera picture to take: the video source is "${this.videoSourceState()}"`);
    }
    const sink = this.element(pipelineName, sinkName) as Gst.Element & { lastSample: Gst.Sample | null };
    const sample = sink.lastSample;
    if (!sample) throw new MediaError('DC_MEDIA_NOT_RUNNING', `no ${source} frame yet`);
    const caps = Gst.Caps.fromString(`image/jpeg,width=${size.width},height=${size.height}`)!;
    const jpeg = GstVideo.videoConvertSample(sample, caps, 2_000_000_000);
    const buffer = jpeg.getBuffer();
    if (!buffer) throw new MediaError('DC_MEDIA_PIPELINE', 'JPEG conversion produced no data');
    return Buffer.from(buffer.extractDup(0, Number(buffer.getSize())) as unknown as number[]);
  }

  /** Posts a real error on a pipeline's bus: the supervisor must restart it (diagnostics, tests). */
  injectFault(pipeline: string): void {
    if (!this.pipelines.get(pipeline)?.injectError()) {
      throw new MediaError('DC_MEDIA_NOT_RUNNING', `pipeline "${pipeline}" is not running`);
    }
  }

  /** The live pipeline object, for measurements (pad probes in tests and benchmarks). */
  pipelineObject(name: string): Gst.Pipeline | null {
    return this.pipelines.get(name)?.current ?? null;
  }

  supervisor(name: string): SupervisedPipeline {
    return this.pipeline(name);
  }

  // --- sources --------------------------------------------------------------------------------

  private videoSourceState(): VideoSourceState {
    if (this.videoMuted) return 'muted';
    const state = this.pipelines.get('camera')?.snapshot.state;
    return this.camera && state === 'running' ? 'camera' : 'no-camera';
  }

  /** Runs the camera or the slate, never both: they feed the same inter channels. */
  private updateVideoSource(): void {
    if (!this.started || !this.capturing) return;
    const camera = this.pipeline('camera');
    const slate = this.pipeline('slate');
    if (this.videoMuted || !this.camera) {
      camera.stop();
      slate.stop(); // restarted to redraw its text
      slate.start();
    } else {
      // The slate comes back only if the camera fails (onCameraState), not while it starts.
      slate.stop();
      camera.start();
    }
  }

  private onCameraState(status: PipelineStatus): void {
    if (this.videoMuted || !this.camera || !this.capturing) return;
    // While the camera restarts the far end sees the slate, not a frozen or black picture.
    if (status.state === 'running') this.pipeline('slate').stop();
    else if (status.state === 'restarting' || status.state === 'failed') this.pipeline('slate').start();
  }

  private onDeviceAdded(device: MediaDevice): void {
    if (!this.started) return;
    if (device.kind === 'speaker') this.followSpeakers();
    if (device.kind === 'camera' && !this.camera) {
      this.camera = device;
      this.opts.log.info({ camera: device.name }, 'camera found');
      this.emit('camera-found', device);
      this.updateVideoSource();
    } else if (device.kind === 'microphone' && !this.microphone) {
      this.microphone = device;
      if (this.capturing) this.pipeline('microphone').start();
    }
    this.emitStatus();
  }

  private onDeviceRemoved(device: MediaDevice): void {
    if (!this.started) return;
    if (device.id === this.camera?.id) {
      this.opts.log.warn({ camera: device.name }, 'camera lost');
      this.camera = this.opts.devices.pick('camera', this.opts.settings.video.camera);
      this.emit('camera-lost', device);
      this.pipeline('camera').stop();
      this.updateVideoSource();
    } else if (device.id === this.microphone?.id) {
      this.microphone = this.opts.devices.pick('microphone', this.opts.settings.audio.microphone);
      this.pipeline('microphone').stop();
      if (this.microphone && this.capturing) this.pipeline('microphone').start();
    } else if (device.kind === 'speaker') {
      this.followSpeakers();
    }
    this.emitStatus();
  }

  /**
   * A speaker came or went: an idle box rebuilds its playout if the choice changed (a
   * speakerphone plugged in is heard from the next test tone). A call is not cut for it: a
   * lost ALSA speaker fails the playout, which restarts with the new choice; a sound server
   * moves the stream itself; the playout is rebuilt when the call ends anyway.
   */
  private followSpeakers(): void {
    if (this.sending || this.speakerChoice().device?.id === this.speaker?.id) return;
    this.pipeline('playout').stop();
    this.pipeline('playout').start();
  }

  private speakerChoice(): SpeakerChoice {
    const { speaker, output } = this.opts.settings.audio;
    return chooseSpeaker(this.opts.devices.list('speaker'), { preference: speaker, output });
  }

  // --- descriptions (called at every start and restart, so they see the current state) -----

  private describeCamera(): PipelineDescription {
    const device = this.camera;
    if (!device) throw new MediaError('DC_MEDIA_NOT_RUNNING', 'no camera');
    const { fps } = this.opts.settings.video;
    const mode = chooseCameraMode(device.modes, { ...this.size, fps });
    return describeCamera({ device, mode, size: this.size, fps, channel: CHANNEL, frameStamps: this.opts.settings.frameStamps });
  }

  private describeSlate(): PipelineDescription {
    const picture = this.screenFiles.write('slate.svg', renderSlate(this.videoMuted ? 'muted' : 'no-camera', this.size));
    return describeSlate({ picture, size: this.size, fps: this.opts.settings.video.fps, channel: CHANNEL });
  }

  private describeMicrophone(): PipelineDescription {
    if (!this.microphone) throw new MediaError('DC_MEDIA_NOT_RUNNING', 'no microphone');
    return describeMicrophone(this.microphone, MIC_CHANNEL, RECORD_CHANNEL);
  }

  /** A call or a preview has the camera and microphone open. */
  private get capturing(): boolean {
    return this.sending || this.previewing;
  }

  private startCapture(): void {
    this.updateVideoSource();
    if (this.microphone) this.pipeline('microphone').start();
  }

  private stopCapture(): void {
    for (const name of CAPTURE) this.pipeline(name).stop();
    this.micLevel = null;
  }

  private endPreview(): void {
    if (!this.started || !this.previewing) return;
    this.previewing = false;
    this.placeSelfView();
    if (!this.sending) this.stopCapture();
    this.opts.log.info({ event: 'media.preview_ended' }, 'camera preview ended');
    this.emitStatus();
  }

  private describeVideoSend(): PipelineDescription {
    const { video, rtp } = this.opts.settings;
    return describeVideoSend({
      channel: CHANNEL,
      size: this.size,
      fps: video.fps,
      encoder: this.encoder!,
      settings: { bitrateKbps: this.bitrateKbps, fps: video.fps, keyframeIntervalS: video.keyframeIntervalS },
      host: rtp.host,
      port: rtp.sendVideoPort,
      sendSize: this.sendSize,
      videoPaused: this.videoPaused,
    });
  }

  private describeAudioSend(): PipelineDescription {
    const { audio, rtp } = this.opts.settings;
    return describeAudioSend({ ...audio, channel: MIC_CHANNEL, muted: this.audioMuted, host: rtp.host, port: rtp.sendAudioPort });
  }

  private screenFps(): number {
    return this.sending ? this.opts.settings.video.fps : Math.min(IDLE_SCREEN_FPS, this.opts.settings.video.fps);
  }

  private rebindEchoCanceller(): void {
    const audioSend = this.pipelines.get('audio-send');
    if (!audioSend || audioSend.snapshot.state === 'stopped' || this.audioSendProbeGeneration === this.probeGeneration) return;
    this.opts.log.info('playout restarted: restarting the audio sender to bind its echo canceller to the new probe');
    audioSend.stop();
    audioSend.start();
  }

  private describePlayout(): PipelineDescription {
    const { video, rtp } = this.opts.settings;
    this.playoutFps = this.screenFps();
    return describePlayout({
      codec: this.encoder!.codec,
      host: rtp.host,
      videoPort: rtp.receiveVideoPort,
      audioPort: rtp.receiveAudioPort,
      jitterLatencyMs: this.opts.settings.jitterBufferMs,
      output: this.outputSize,
      fps: this.playoutFps,
      selfView: { channel: CHANNEL, size: selfViewSize(this.size), visible: this.selfViewVisible },
      screen: this.opts.screen,
      speaker: this.chooseSpeaker(),
      toneChannel: TONE_CHANNEL,
      volumePercent: this.volumePercent,
      screenLayers: this.screenLayers,
      fec: this.opts.settings.audio.fec,
      frameStamps: this.opts.settings.frameStamps,
    });
  }

  /** The playout's speaker, with a warning when the configured output has none (once per change). */
  private chooseSpeaker(): MediaDevice | undefined {
    const { device, fallback } = this.speakerChoice();
    const warning = fallback && device ? `${this.opts.settings.audio.output}:${device.id}` : '';
    if (warning && warning !== this.speakerWarning) {
      const output = this.opts.settings.audio.output;
      this.opts.log.warn({ event: 'media.speaker_fallback', output, speaker: device!.name }, `no ${output} speaker: playing through "${device!.name}"`);
    }
    this.speakerWarning = warning;
    this.speaker = device;
    return device;
  }

  private stopTestTone(): void {
    clearTimeout(this.toneTimer);
    this.toneTimer = undefined;
    this.tone?.setState(Gst.State.NULL);
    this.tone = null;
  }

  // --- helpers ----------------------------------------------------------------------------------

  /** Sets the running sender's size and valve; a sender not running gets them when it is built. */
  private applySendSize(resume: boolean): void {
    const pipeline = this.pipelineObject('video-send');
    if (!pipeline) return;
    const filter = pipeline.getByName('sendcaps') as (Gst.Element & { caps: Gst.Caps | null }) | null;
    const caps = Gst.Caps.fromString(sendSizeCaps(this.sendSize))!;
    // Equal caps would still make the encoder renegotiate and send a needless keyframe.
    if (filter && !filter.caps?.isEqual(caps)) filter.caps = caps;
    if (resume) {
      // Asked before the valve opens: the encoder keeps the request for the next frame it gets,
      // which is then the first one through.
      try {
        this.forceKeyframe();
      } catch (e) {
        // A sender that is (re)starting begins with a keyframe anyway.
        this.opts.log.debug({ err: (e as Error).message }, 'no keyframe forced on resume');
      }
    }
    pipeline.getByName('vvalve')?.setProperty('drop', this.videoPaused);
  }

  private applyBitrate(): void {
    const encoder = this.pipelineObject('video-send')?.getByName('venc');
    if (encoder && this.encoder) this.encoder.setBitrate(encoder, this.bitrateKbps);
  }

  private pipeline(name: string): SupervisedPipeline {
    const p = this.pipelines.get(name);
    if (!p) throw new MediaError('DC_MEDIA_NOT_RUNNING', `the media engine is not running (no "${name}" pipeline)`);
    return p;
  }

  private optionalElement(pipeline: string, element: string): Gst.Element | null {
    return this.pipelines.get(pipeline)?.current?.getByName(element) ?? null;
  }

  private element(pipeline: string, element: string): Gst.Element {
    const found = this.optionalElement(pipeline, element);
    if (!found) throw new MediaError('DC_MEDIA_NOT_RUNNING', `pipeline "${pipeline}" is not running`);
    return found;
  }

  private sinkRendered(pipeline: string, sink: string): number {
    const stats = (this.optionalElement(pipeline, sink) as (Gst.Element & { stats?: Gst.Structure }) | null)?.stats;
    const [ok, rendered] = (stats?.getUint64('rendered') ?? [false, 0]) as [boolean, number | bigint];
    return ok ? Number(rendered) : 0;
  }

  /** Fresh figures during a call; after it, those it ended with. */
  private receivedFigures(): ReceivedMedia {
    if (this.receivePoll) this.pollReceive(true);
    return this.receive.figures();
  }

  private newReceiveMeter(): ReceiveMeter {
    try {
      return new ReceiveMeter(this.pipelines.get('playout')?.current ?? null);
    } catch (e) {
      this.opts.log.debug({ err: (e as Error).message }, 'receive figures start from the next playout');
      return new ReceiveMeter();
    }
  }

  private pollReceive(full: boolean): void {
    try {
      this.receive.poll(this.pipelines.get('playout')?.current ?? null, performance.now(), full);
    } catch (e) {
      // A figure is not worth a fault: the next poll tries again.
      this.opts.log.debug({ err: (e as Error).message }, 'receive figures not read');
    }
  }

  private stopReceivePoll(): void {
    clearInterval(this.receivePoll);
    this.receivePoll = undefined;
  }

  private emitStatus(): void {
    if (this.started) this.emit('status', this.status());
  }
}

// --- receive figures -------------------------------------------------------------------------

/** Gaps up to this long are never a freeze (ms): WebRTC's definition floors near here too. */
const FREEZE_FLOOR_MS = 200;
/** The frame rate is taken over this much of the recent past (ms). */
const FPS_WINDOW_MS = 2000;

/** A gap between decoded frames longer than this is a freeze: max(3 × the average interval, 200 ms). */
export function freezeThresholdMs(averageIntervalMs: number): number {
  return Math.max(3 * averageIntervalMs, FREEZE_FLOOR_MS);
}

/** The pts (ms) in identity's last-message when it describes a buffer; null for an event or none. */
export function ptsOfMessage(message: string | null | undefined): number | null {
  if (!message?.startsWith('chain')) return null;
  const m = /\bpts: (\d+):(\d\d):(\d\d)\.(\d{9})\b/.exec(message);
  if (!m) return null;
  const [, h, min, sec, ns] = m.map(Number) as [number, number, number, number, number];
  return ((h * 60 + min) * 60 + sec) * 1000 + ns / 1e6;
}

/**
 * Decoded frames as seen by polling a cumulative counter and the newest frame's pts: the frame
 * count, the frame rate and the freezes. Pure arithmetic (time comes with each observation).
 *
 * The gap before the frames a poll finds new is at least the time from the newest earlier
 * frame to the previous poll, which found none: that part is certain, and all of it when the
 * polls run on time, even if the frames then come in a burst (a far end catching up). What a
 * late poll (a busy event loop) cannot see is estimated from the frames' timestamps, bounded
 * by the wall clock (a timestamp jump with frames flowing is no freeze): the new frames but
 * one are taken to have come at the usual interval, and the gap is what is left.
 */
export class FrameTimeline {
  frames = 0;
  freezes = 0;
  freezeMs = 0;
  private lastPtsMs: number | null = null;
  /** When the poll that first saw the newest frame ran, and the poll before it (wall ms). */
  private seenAt: number | null = null;
  private seenAfter: number | null = null;
  private lastPollAt: number | null = null;
  private averageMs: number | null = null;
  private readonly history: Array<{ at: number; frames: number }> = [];

  observe(frames: number, ptsMs: number | null, now: number): void {
    const previousPoll = this.lastPollAt ?? now;
    this.lastPollAt = now;
    const fresh = frames - this.frames;
    if (fresh > 0) {
      if (this.seenAt !== null && this.seenAfter !== null) this.measure(fresh, ptsMs, now, previousPoll);
      this.frames = frames;
      this.lastPtsMs = ptsMs;
      this.seenAt = now;
      this.seenAfter = previousPoll;
    }
    this.history.push({ at: now, frames: this.frames });
    while (this.history.length > 2 && this.history[1]!.at <= now - FPS_WINDOW_MS) this.history.shift();
  }

  /** The frames' timestamps start again (a new pipeline): the next gap is timed by the wall clock. */
  discontinuity(): void {
    this.lastPtsMs = null;
  }

  /** Frames a second over the last ~2 s; null before the first frame or with too short a history. */
  fps(): number | null {
    const first = this.history[0];
    const last = this.history[this.history.length - 1];
    if (this.frames === 0 || !first || !last || last.at - first.at < 500) return null;
    return ((last.frames - first.frames) * 1000) / (last.at - first.at);
  }

  private measure(fresh: number, ptsMs: number | null, now: number, previousPoll: number): void {
    const seenAt = this.seenAt!;
    const certainMs = Math.max(0, previousPoll - seenAt);
    const wallMaxMs = now - this.seenAfter!;
    const spanMs =
      ptsMs !== null && this.lastPtsMs !== null && ptsMs >= this.lastPtsMs ? Math.min(ptsMs - this.lastPtsMs, wallMaxMs) : now - seenAt;
    const usual = this.averageMs ?? spanMs / fresh;
    const gapMs = Math.max(certainMs, spanMs - (fresh - 1) * usual);
    // The first interval only sets the pace: a stream at 4 fps is not frozen at its second frame.
    if (this.averageMs !== null && gapMs > freezeThresholdMs(this.averageMs)) {
      this.freezes++;
      this.freezeMs += gapMs;
      return;
    }
    // A moving average over about the last ten frames, freezes left out.
    const keep = 0.9 ** fresh;
    this.averageMs = keep * usual + (1 - keep) * (spanMs / fresh);
  }
}

interface JitterReading {
  pushed: number;
  lost: number;
  late: number;
  jitterNs: number;
}

/** One stream's jitter-buffer counters, summed over the playout pipelines of one call. */
class StreamTally {
  private earlier = { pushed: 0, lost: 0, late: 0 };
  private current = { pushed: 0, lost: 0, late: 0 };
  /** The current pipeline's counts when the call started (it may have played an earlier one). */
  private offset = { pushed: 0, lost: 0, late: 0 };
  private jitterMs: number | null = null;

  constructor(start?: JitterReading | null) {
    if (start) this.offset = { pushed: start.pushed, lost: start.lost, late: start.late };
  }

  update(r: JitterReading): void {
    const o = this.offset;
    this.current = { pushed: Math.max(0, r.pushed - o.pushed), lost: Math.max(0, r.lost - o.lost), late: Math.max(0, r.late - o.late) };
    if (this.current.pushed > 0) this.jitterMs = r.jitterNs / 1e6;
  }

  newPipeline(): void {
    const { earlier: e, current: c } = this;
    this.earlier = { pushed: e.pushed + c.pushed, lost: e.lost + c.lost, late: e.late + c.late };
    this.current = { pushed: 0, lost: 0, late: 0 };
    this.offset = { pushed: 0, lost: 0, late: 0 };
  }

  figures(): ReceivedStream {
    const { earlier: e, current: c } = this;
    return { packets: e.pushed + c.pushed, packetsLost: e.lost + c.lost, packetsLate: e.late + c.late, jitterMs: round(this.jitterMs, 2) };
  }
}

type WithStats = Gst.Element & { stats?: Gst.Structure | null; lastMessage?: string | null };

function uint64(stats: Gst.Structure, field: string): number {
  const [ok, value] = stats.getUint64(field) as [boolean, number | bigint];
  return ok ? Number(value) : 0;
}

function jitterReading(element: Gst.Element | null): JitterReading | null {
  const stats = (element as WithStats | null)?.stats;
  if (!stats) return null;
  return { pushed: uint64(stats, 'num-pushed'), lost: uint64(stats, 'num-lost'), late: uint64(stats, 'num-late'), jitterNs: uint64(stats, 'avg-jitter') };
}

function capsSize(pad: Gst.Pad | null): { width: number; height: number } | null {
  const structure = pad?.getCurrentCaps()?.getStructure(0);
  if (!structure) return null;
  const [okW, width] = structure.getInt('width') as [boolean, number];
  const [okH, height] = structure.getInt('height') as [boolean, number];
  return okW && okH ? { width, height } : null;
}

function round(value: number | null, digits: number): number | null {
  return value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits;
}

/**
 * The receive side of one call, read from the playout pipeline by polling (no per-frame JS):
 * decoded frames (count, size, rate, freezes) and both jitter buffers' counters. A playout
 * restart mid-call starts its counters again; they are added to those of the earlier ones.
 */
class ReceiveMeter {
  private readonly timeline = new FrameTimeline();
  private readonly video: StreamTally;
  private readonly audio: StreamTally;
  private size: { width: number; height: number } | null = null;
  private playout: Gst.Pipeline | null;
  /** Frames decoded by this call's earlier playout pipelines, and by the current one. */
  private framesBefore = 0;
  private framesNow = 0;
  /** The current pipeline's frame count when the call started. */
  private framesOffset = 0;
  private polls = 0;

  /** `playout`: the pipeline running when the call starts, if it goes on playing it; its counts so far are not the call's. */
  constructor(playout: Gst.Pipeline | null = null) {
    this.playout = playout;
    const stats = (playout?.getByName(DECODED_FRAMES) as WithStats | null)?.stats;
    if (stats) this.framesOffset = uint64(stats, 'num-buffers');
    this.video = new StreamTally(jitterReading(playout?.getByName('vjitter') ?? null));
    this.audio = new StreamTally(jitterReading(playout?.getByName('ajitter') ?? null));
  }

  poll(playout: Gst.Pipeline | null, now: number, full: boolean): void {
    if (!playout) return;
    if (playout !== this.playout) {
      if (this.playout) {
        this.framesBefore += this.framesNow;
        this.video.newPipeline();
        this.audio.newPipeline();
        this.timeline.discontinuity();
      }
      this.playout = playout;
      this.framesNow = 0;
      this.framesOffset = 0;
      full = true;
    }
    const meter = playout.getByName(DECODED_FRAMES) as WithStats | null;
    if (meter) {
      const pts = ptsOfMessage(meter.lastMessage);
      const stats = meter.stats;
      if (stats) this.framesNow = Math.max(0, uint64(stats, 'num-buffers') - this.framesOffset);
      this.timeline.observe(this.framesBefore + this.framesNow, pts, now);
    }
    if (!full && ++this.polls % SLOW_POLL_EVERY !== 0) return;
    const video = jitterReading(playout.getByName('vjitter'));
    if (video) this.video.update(video);
    const audio = jitterReading(playout.getByName('ajitter'));
    if (audio) this.audio.update(audio);
    // The caps stay from an earlier call until this one's first frame.
    const size = meter && this.timeline.frames > 0 ? capsSize(meter.getStaticPad('src')) : null;
    if (size) this.size = size;
  }

  figures(): ReceivedMedia {
    const t = this.timeline;
    return {
      video: {
        ...this.video.figures(),
        frames: t.frames,
        width: this.size?.width ?? null,
        height: this.size?.height ?? null,
        fps: round(t.fps(), 1),
        freezes: { count: t.freezes, totalMs: Math.round(t.freezeMs) },
      },
      audio: this.audio.figures(),
    };
  }
}

/** `size` scaled down to `maxWidth` at most, the aspect kept, both sides even (encoders want it). */
export function scaledToWidth(size: FrameSize, maxWidth: number | undefined): FrameSize {
  if (!maxWidth || maxWidth >= size.width) return size;
  const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);
  return { width: even(maxWidth), height: even((size.height * maxWidth) / size.width) };
}
