import { Gst, GstVideo, startGLibPump, stopGLibPump } from './gst.js';
import { chooseEncoder, type EncoderCandidate, type EncoderName, type EncoderProfile } from './encoders.js';
import { SupervisedPipeline } from './pipeline.js';
import {
  describeAudioSend,
  describeCamera,
  describeMicrophone,
  describePlayout,
  describeSlate,
  describeVideoSend,
  selfViewSize,
  type FrameSize,
  type ScreenSink,
} from './pipelines.js';
import { chooseCameraMode, type MediaDevice } from './devices/model.js';
import type { DeviceWatcher } from './devices/watcher.js';
import type { PipelineDescription } from './launch.js';
import { MediaError } from '../errors.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type { Logger } from '../log.js';
import type { MediaSettings, MediaStatus, PipelineStatus, SnapshotSource, VideoSourceState } from './types.js';

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
/** Everything that captures and sends; closed while the box is idle. */
const SEND_SIDE = ['video-send', 'audio-send', 'camera', 'slate', 'microphone'] as const;
/** The idle screen changes once a second at most: drawing it at 30 fps cost 15% of a core here. */
const IDLE_SCREEN_FPS = 5;
const MIC_CHANNEL = 'mic';
const SLATE_TEXT = {
  'no-camera': 'Không có camera\nNo camera',
  muted: 'Camera đang tắt\nCamera off',
} as const;

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
  private videoMuted = false;
  private audioMuted = false;
  private volumePercent: number;
  private bitrateKbps: number;
  private overlayText = '';
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

  constructor(private readonly opts: MediaEngineOptions) {
    super();
    this.volumePercent = opts.settings.audio.volume;
    this.bitrateKbps = opts.settings.video.bitrateKbps;
    this.selfViewVisible = opts.settings.output.selfView;
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

    // Playout first: it holds the echo probe that the microphone's echo canceller looks up.
    this.sending = this.opts.send;
    const playout = supervise('playout', () => this.describePlayout());
    playout.on('started', () => this.probeGeneration++);
    playout.on('state', (s) => {
      if (s.state === 'running') this.rebindEchoCanceller();
    });
    playout.start();
    const camera = supervise('camera', () => this.describeCamera());
    camera.on('state', (s) => this.onCameraState(s));
    supervise('slate', () => this.describeSlate());
    supervise('microphone', () => this.describeMicrophone());
    supervise('video-send', () => this.describeVideoSend());
    supervise('audio-send', () => this.describeAudioSend()).on('started', () => (this.audioSendProbeGeneration = this.probeGeneration));

    devices.start();
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
    // The screen runs at the call's frame rate only while there is a call to show.
    if (this.screenFps() !== this.playoutFps) {
      this.pipeline('playout').stop();
      this.pipeline('playout').start();
    }
    if (on) {
      this.pipeline('audio-send').start();
      this.updateVideoSource();
      if (this.microphone) this.pipeline('microphone').start();
      this.pipeline('video-send').start();
    } else {
      for (const name of SEND_SIDE) this.pipeline(name).stop();
    }
    this.emitStatus();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const off of this.unsubscribe.splice(0)) off();
    // Senders before sources, playout last (the echo probe outlives the canceller).
    for (const name of [...SEND_SIDE, 'playout']) this.pipelines.get(name)?.stop();
    this.pipelines.clear();
    this.opts.devices.stop();
    stopGLibPump();
  }

  status(): MediaStatus {
    return {
      encoder: this.encoder ? { name: this.encoder.name, codec: this.encoder.codec } : null,
      encoderCandidates: this.candidates,
      sending: this.sending,
      videoSource: this.videoSourceState(),
      camera: this.camera ? { id: this.camera.id, name: this.camera.name } : null,
      microphone: this.microphone ? { id: this.microphone.id, name: this.microphone.name } : null,
      audioMuted: this.audioMuted,
      videoMuted: this.videoMuted,
      volume: this.volumePercent,
      bitrateKbps: this.bitrateKbps,
      selfView: this.selfViewVisible,
      overlayText: this.overlayText,
      pipelines: [...this.pipelines.values()].map((p) => p.snapshot),
      rendered: { videoFrames: this.sinkRendered('playout', 'screen'), audioBuffers: this.sinkRendered('playout', 'speaker') },
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

  /** Text drawn over the screen (Vietnamese welcome, "Đang kết nối…"); empty hides it. */
  setOverlayText(text: string): void {
    this.overlayText = text;
    this.optionalElement('playout', 'overlay')?.setProperty('text', text);
    this.emitStatus();
  }

  setSelfView(visible: boolean): void {
    this.selfViewVisible = visible;
    const pad = this.optionalElement('playout', 'comp')?.getStaticPad('sink_2');
    pad?.setProperty('alpha', visible ? 1 : 0);
    this.emitStatus();
  }

  /** A JPEG of the camera picture (at the capture size) or of the screen (at the output size). */
  snapshot(source: SnapshotSource): Buffer {
    const [pipelineName, sinkName, size] =
      source === 'camera' ? (['camera', 'sendsink', this.size] as const) : (['playout', 'screen', this.opts.outputSize] as const);
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
    if (!this.started || !this.sending) return;
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
    if (this.videoMuted || !this.camera || !this.sending) return;
    // While the camera restarts the far end sees the slate, not a frozen or black picture.
    if (status.state === 'running') this.pipeline('slate').stop();
    else if (status.state === 'restarting' || status.state === 'failed') this.pipeline('slate').start();
  }

  private onDeviceAdded(device: MediaDevice): void {
    if (!this.started) return;
    if (device.kind === 'camera' && !this.camera) {
      this.camera = device;
      this.opts.log.info({ camera: device.name }, 'camera found');
      this.emit('camera-found', device);
      this.updateVideoSource();
    } else if (device.kind === 'microphone' && !this.microphone) {
      this.microphone = device;
      if (this.sending) this.pipeline('microphone').start();
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
      if (this.microphone && this.sending) this.pipeline('microphone').start();
    }
    this.emitStatus();
  }

  // --- descriptions (called at every start and restart, so they see the current state) -----

  private describeCamera(): PipelineDescription {
    const device = this.camera;
    if (!device) throw new MediaError('DC_MEDIA_NOT_RUNNING', 'no camera');
    const { fps } = this.opts.settings.video;
    const mode = chooseCameraMode(device.modes, { ...this.size, fps });
    return describeCamera({ device, mode, size: this.size, fps, channel: CHANNEL });
  }

  private describeSlate(): PipelineDescription {
    const text = this.videoMuted ? SLATE_TEXT.muted : SLATE_TEXT['no-camera'];
    return describeSlate({ text, size: this.size, fps: this.opts.settings.video.fps, channel: CHANNEL });
  }

  private describeMicrophone(): PipelineDescription {
    if (!this.microphone) throw new MediaError('DC_MEDIA_NOT_RUNNING', 'no microphone');
    return describeMicrophone(this.microphone, MIC_CHANNEL);
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
      jitterLatencyMs: 80,
      output: this.opts.outputSize,
      fps: this.playoutFps,
      selfView: { channel: CHANNEL, size: selfViewSize(this.size), visible: this.selfViewVisible },
      screen: this.opts.screen,
      speaker: this.opts.devices.pick('speaker', this.opts.settings.audio.speaker),
      volumePercent: this.volumePercent,
      overlayText: this.overlayText,
      fec: this.opts.settings.audio.fec,
    });
  }

  // --- helpers ----------------------------------------------------------------------------------

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

  private emitStatus(): void {
    if (this.started) this.emit('status', this.status());
  }
}
