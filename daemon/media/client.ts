import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MediaError, type SerializedError } from '../errors.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type { Logger } from '../log.js';
import type { FromWorker, MediaControl, MediaMethod, ToWorker, WorkerInit } from './ipc.js';
import type { MediaStatus, Recording, ScreenArt, SnapshotOptions, SnapshotSource } from './types.js';
import type { MicrophoneLevel } from './microphone.js';
import type { FrameSize } from './pipelines.js';

export type WorkerState = 'stopped' | 'starting' | 'running' | 'restarting';

export interface MediaClientEvents extends Record<string, unknown[]> {
  status: [MediaStatus];
  worker: [{ state: WorkerState; pid: number | null; restarts: number; lastError: SerializedError | null }];
  event: [Extract<FromWorker, { type: 'event' }>];
}

/**
 * Mute states a person set at run time (from the fleet console, a button): a worker that
 * restarts, or a new client after a settings change, gets them back, so a crash never quietly
 * unmutes a microphone. (What the TV shows is redrawn by its owner, the screen director.) The send size a
 * call's link allowed comes back too: the call's policy only speaks when the link changes, and
 * a worker back at full size would flood a poor link until then.
 */
export interface LiveControls {
  audioMuted?: boolean;
  videoMuted?: boolean;
  /** Set during a call (null: video paused); forgotten when sending stops. */
  sendSize?: FrameSize | null;
  /** The TV's mode (display hotplug): a new worker starts its screen at it. */
  outputSize?: FrameSize;
}

export interface MediaClientOptions {
  init: WorkerInit;
  /** Controls to apply as soon as the worker is up (those of the client this one replaces). */
  controls?: LiveControls;
  log: Logger;
  requestTimeoutMs?: number;
  /** How often the worker must answer a health check; a worker that does not is killed. */
  healthIntervalMs?: number;
  restartInitialDelayMs?: number;
  restartMaxDelayMs?: number;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** The worker's entry beside this file: worker.js when built, worker.ts under the test loader. */
function workerEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return self.replace(/client\.(ts|js)$/, 'worker.$1');
}

/**
 * The daemon's handle on the media worker process: starts it, forwards controls to it, and
 * restarts it with backoff when it crashes or stops answering. Implements MediaControl, so the
 * rest of the daemon never knows the engine lives in another process.
 */
export class MediaClient extends TypedEmitter<MediaClientEvents> implements MediaControl {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private state: WorkerState = 'stopped';
  private restarts = 0;
  private delayMs: number;
  private lastError: SerializedError | null = null;
  private lastStatus: MediaStatus | null = null;
  private restartTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private readonly controls: LiveControls;

  constructor(private readonly opts: MediaClientOptions) {
    super();
    this.controls = { ...opts.controls };
    this.delayMs = opts.restartInitialDelayMs ?? 1000;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get workerState(): WorkerState {
    return this.state;
  }

  /** The run-time controls set through this client, to hand to its replacement. */
  get liveControls(): LiveControls {
    return { ...this.controls };
  }

  /** The last status the worker reported (kept while it restarts). */
  get cachedStatus(): MediaStatus | null {
    return this.lastStatus;
  }

  /** Resolves when the worker has started its pipelines; a worker that fails is retried in the background. */
  start(): Promise<void> {
    if (this.state !== 'stopped') return Promise.resolve();
    const ready = this.waitFor('worker', (w) => w.state === 'running', 60_000).then(() => undefined);
    this.spawn();
    return ready;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.setState('stopped');
    clearTimeout(this.restartTimer);
    clearInterval(this.healthTimer);
    clearTimeout(this.stableTimer);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.post({ type: 'shutdown' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  // --- MediaControl ---------------------------------------------------------------------------

  status(): Promise<MediaStatus> {
    return this.request('status', []) as Promise<MediaStatus>;
  }
  async setBitrate(kbps: number): Promise<void> {
    await this.request('setBitrate', [kbps]);
  }
  async forceKeyframe(): Promise<void> {
    await this.request('forceKeyframe', []);
  }
  async setAudioMuted(muted: boolean): Promise<void> {
    await this.request('setAudioMuted', [muted]);
    this.controls.audioMuted = muted;
  }
  async setVideoMuted(muted: boolean): Promise<void> {
    await this.request('setVideoMuted', [muted]);
    this.controls.videoMuted = muted;
  }
  async setVolume(percent: number): Promise<void> {
    await this.request('setVolume', [percent]);
  }
  async playTestTone(seconds: number): Promise<void> {
    await this.request('playTestTone', [seconds]);
  }
  async setScreenArt(art: ScreenArt): Promise<void> {
    await this.request('setScreenArt', [art]);
  }
  async setOutputSize(size: FrameSize, rebuild = false): Promise<void> {
    await this.request('setOutputSize', [size, rebuild]);
    this.controls.outputSize = { ...size };
  }
  async setSelfView(visible: boolean): Promise<void> {
    await this.request('setSelfView', [visible]);
  }
  async snapshot(source: SnapshotSource, options: SnapshotOptions = {}): Promise<Buffer> {
    return Buffer.from((await this.request('snapshot', [source, options])) as Uint8Array);
  }

  async preview(seconds: number): Promise<void> {
    await this.request('preview', [seconds]);
  }

  async microphoneLevel(): Promise<MicrophoneLevel | null> {
    return (await this.request('microphoneLevel', [])) as MicrophoneLevel | null;
  }

  async recordMicrophone(seconds: number): Promise<Recording> {
    // The request lasts as long as the recording.
    return (await this.request('recordMicrophone', [seconds], seconds * 1000 + 10_000)) as Recording;
  }

  async playRecording(): Promise<Recording> {
    return (await this.request('playRecording', [])) as Recording;
  }
  async injectFault(pipeline: string): Promise<void> {
    await this.request('injectFault', [pipeline]);
  }
  async setSending(on: boolean): Promise<void> {
    await this.request('setSending', [on]);
    // The engine went back to the capture size.
    if (!on) delete this.controls.sendSize;
  }
  async setSendSize(size: FrameSize | null): Promise<void> {
    await this.request('setSendSize', [size]);
    this.controls.sendSize = size;
  }

  // --- process --------------------------------------------------------------------------------

  private spawn(): void {
    this.setState(this.restarts > 0 ? 'restarting' : 'starting');
    const child = fork(workerEntry(), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: process.execArgv,
    });
    this.child = child;
    this.opts.log.info({ pid: child.pid }, 'media worker started');
    child.on('message', (msg: FromWorker) => this.onMessage(msg));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    child.on('error', (e) => this.opts.log.error({ err: e }, 'media worker process error'));
    const { outputSize } = this.controls;
    this.post({ type: 'init', init: outputSize ? { ...this.opts.init, outputSize } : this.opts.init });
  }

  private onMessage(msg: FromWorker): void {
    switch (msg.type) {
      case 'ready':
        this.lastStatus = msg.status;
        this.emit('status', msg.status);
        this.setState('running');
        this.watchHealth();
        void this.restoreControls();
        break;
      case 'status':
        this.lastStatus = msg.status;
        this.emit('status', msg.status);
        break;
      case 'response': {
        const pending = this.pending.get(msg.id);
        if (!pending) return;
        this.pending.delete(msg.id);
        clearTimeout(pending.timer);
        if (msg.ok) pending.resolve(msg.result);
        else pending.reject(new MediaError(msg.error.code as 'DC_MEDIA_PIPELINE', msg.error.message, msg.error.details));
        break;
      }
      case 'event':
        this.emit('event', msg);
        break;
      case 'fatal':
        this.lastError = msg.error;
        this.opts.log.error({ err: msg.error }, 'media worker could not start');
        break;
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.child = null;
    clearInterval(this.healthTimer);
    clearTimeout(this.stableTimer);
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new MediaError('DC_MEDIA_WORKER', 'the media worker stopped before answering'));
      this.pending.delete(id);
    }
    if (this.state === 'stopped') return;
    this.lastError ??= { code: 'DC_MEDIA_WORKER', message: `media worker exited (code ${code}, signal ${signal})` };
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.opts.restartMaxDelayMs ?? 30_000);
    this.opts.log.error({ code, signal, retryInMs: delay }, 'media worker exited; restarting');
    this.setState('restarting');
    this.restartTimer = setTimeout(() => {
      this.restarts++;
      this.lastError = null;
      this.spawn();
    }, delay);
  }

  /** Gives a fresh worker the controls its predecessor had. */
  private async restoreControls(): Promise<void> {
    const { audioMuted, videoMuted, sendSize } = this.controls;
    try {
      if (audioMuted) await this.setAudioMuted(true);
      if (videoMuted) await this.setVideoMuted(true);
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'media worker: could not restore the controls');
    }
    // On its own: a size the new settings' capture size cannot hold is refused, mutes are not.
    if (sendSize === undefined) return;
    try {
      await this.setSendSize(sendSize);
    } catch (e) {
      delete this.controls.sendSize;
      this.opts.log.warn({ err: (e as Error).message }, 'media worker: could not restore the send size');
    }
  }

  /** A worker whose event loop is stuck (a wedged GStreamer call) is killed and restarted. */
  private watchHealth(): void {
    clearInterval(this.healthTimer);
    const interval = this.opts.healthIntervalMs ?? 5000;
    this.healthTimer = setInterval(() => {
      this.request('status', [], interval).catch((e: Error) => {
        if (this.state !== 'running') return;
        this.opts.log.error({ err: e.message }, 'media worker does not answer; killing it');
        this.lastError = { code: 'DC_MEDIA_WORKER', message: 'media worker stopped answering' };
        this.child?.kill('SIGKILL');
      });
    }, interval);
    // A worker that stays up a minute has earned a fresh backoff.
    clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => (this.delayMs = this.opts.restartInitialDelayMs ?? 1000), 60_000);
  }

  private request(method: MediaMethod, args: unknown[], timeoutMs = this.opts.requestTimeoutMs ?? 10_000): Promise<unknown> {
    if (this.state !== 'running' || !this.child) {
      return Promise.reject(new MediaError('DC_MEDIA_WORKER', `media is not available now (worker ${this.state})`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new MediaError('DC_MEDIA_TIMEOUT', `media worker did not answer "${method}" in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.post({ type: 'request', id, method, args });
    });
  }

  private post(msg: ToWorker): void {
    if (this.child?.connected) this.child.send(msg);
  }

  private setState(state: WorkerState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('worker', { state, pid: this.pid, restarts: this.restarts, lastError: this.lastError });
  }
}
