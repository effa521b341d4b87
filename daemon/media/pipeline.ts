import { Gst, GLib } from './gst.js';
import { requireElements } from './elements.js';
import type { PipelineDescription } from './launch.js';
import { MediaError, isDcError, serializeError, type SerializedError } from '../errors.js';
import type { PipelineState, PipelineStatus } from './types.js';
import { TypedEmitter } from '../util/typed-emitter.js';
import type { Logger } from '../log.js';

/** Checks every element exists (naming the Debian package if not), then parses the description. */
export function createPipeline(desc: PipelineDescription): Gst.Pipeline {
  requireElements(desc.factories);
  let element: Gst.Element;
  try {
    element = Gst.parseLaunch(desc.launch);
  } catch (e) {
    throw new MediaError('DC_MEDIA_PIPELINE', `pipeline "${desc.name}" could not be built: ${(e as Error).message}`, {
      pipeline: desc.name,
    });
  }
  element.name = desc.name;
  return element as Gst.Pipeline;
}

export function errorFromMessage(msg: Gst.Message): { message: string; element: string; debug: string } {
  const [gerror, debug] = msg.parseError();
  return { message: gerror?.message ?? 'unknown error', element: msg.src?.name ?? '?', debug: debug ?? '' };
}

/**
 * Runs a finite pipeline (a probe) to EOS. Resolves on EOS, rejects on error or after the
 * deadline; the pipeline is always set back to NULL. Polls the bus, so it needs no GLib pump.
 */
export async function runToEos(desc: PipelineDescription, timeoutMs: number): Promise<void> {
  const pipeline = createPipeline(desc);
  const bus = pipeline.getBus()!;
  const deadline = Date.now() + timeoutMs;
  try {
    if (pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) {
      throw new MediaError('DC_MEDIA_PIPELINE', `pipeline "${desc.name}" refused to start`);
    }
    for (;;) {
      const msg = bus.pop();
      if (msg?.type === Gst.MessageType.EOS) return;
      if (msg?.type === Gst.MessageType.ERROR) {
        const err = errorFromMessage(msg);
        throw new MediaError('DC_MEDIA_PIPELINE', `${err.element}: ${err.message}`, { pipeline: desc.name, ...err });
      }
      if (msg) continue;
      if (Date.now() > deadline) throw new MediaError('DC_MEDIA_TIMEOUT', `pipeline "${desc.name}" did not finish in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    pipeline.setState(Gst.State.NULL);
  }
}

export interface SupervisorOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Running this long without a fault resets the backoff. */
  stableAfterMs?: number;
}

export interface SupervisedPipelineEvents extends Record<string, unknown[]> {
  state: [PipelineStatus];
  /** An error, unexpected EOS or lost device; the pipeline is already being restarted. */
  fault: [SerializedError];
  /** The new pipeline object after a (re)start, for the owner to look elements up in. */
  started: [Gst.Pipeline];
  /** An element message of the current pipeline (zbar's "barcode": frame stamps, bench/call.ts). */
  element: [Gst.Message];
}

/**
 * One long-running pipeline that restarts itself with exponential backoff after an error, an
 * EOS or a lost device. A fault never escapes as an exception: the daemon must stay up. A
 * missing element is not recoverable and stops the retries (state "failed").
 */
export class SupervisedPipeline extends TypedEmitter<SupervisedPipelineEvents> {
  private pipeline: Gst.Pipeline | null = null;
  private watchBus: Gst.Bus | null = null;
  private restartTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private status: PipelineStatus;

  constructor(
    readonly name: string,
    private readonly describe: () => PipelineDescription,
    private readonly options: SupervisorOptions,
    private readonly log: Logger,
  ) {
    super();
    this.delayMs = options.initialDelayMs;
    this.status = { name, state: 'stopped', restarts: 0, lastError: null };
  }

  get current(): Gst.Pipeline | null {
    return this.pipeline;
  }

  get snapshot(): PipelineStatus {
    return { ...this.status };
  }

  start(): void {
    if (this.status.state !== 'stopped' && this.status.state !== 'failed') return;
    this.launch();
  }

  stop(): void {
    clearTimeout(this.restartTimer);
    clearTimeout(this.stableTimer);
    this.teardown();
    this.delayMs = this.options.initialDelayMs;
    this.setState('stopped');
  }

  /** Posts a real GStreamer error on the pipeline's bus, as an element would (diagnostics, tests). */
  injectError(text = 'injected fault'): boolean {
    if (!this.pipeline) return false;
    // node-gtk's GLib.Error takes (domain, code, message); the generated types only list `new()`.
    const GError = GLib.Error as unknown as new (domain: number, code: number, message: string) => GLib.Error;
    const gerror = new GError(Gst.coreErrorQuark(), Gst.CoreError.FAILED, text);
    return this.pipeline.postMessage(Gst.Message.newError(this.pipeline, gerror, 'injected by diemcau'));
  }

  private launch(): void {
    this.setState(this.status.restarts > 0 ? 'restarting' : 'starting');
    try {
      const pipeline = createPipeline(this.describe());
      this.pipeline = pipeline;
      this.watchBus = pipeline.getBus();
      this.watchBus?.addWatch(GLib.PRIORITY_DEFAULT, (_bus: Gst.Bus, msg: Gst.Message) => {
        if (pipeline === this.pipeline) this.onMessage(msg);
        return true;
      });
      this.emit('started', pipeline);
      if (pipeline.setState(Gst.State.PLAYING) === Gst.StateChangeReturn.FAILURE) {
        // The bus carries the reason as an ERROR message, handled by onMessage; this is the fallback.
        this.fault(new MediaError('DC_MEDIA_PIPELINE', `pipeline "${this.name}" refused to start`));
      }
    } catch (e) {
      this.fault(e);
    }
  }

  private onMessage(msg: Gst.Message): void {
    switch (msg.type) {
      case Gst.MessageType.ERROR: {
        const err = errorFromMessage(msg);
        this.log.warn({ pipeline: this.name, ...err }, 'pipeline error');
        this.fault(new MediaError('DC_MEDIA_PIPELINE', `${err.element}: ${err.message}`, { pipeline: this.name, element: err.element }));
        break;
      }
      case Gst.MessageType.EOS:
        this.fault(new MediaError('DC_MEDIA_PIPELINE', `pipeline "${this.name}" ended (EOS)`, { pipeline: this.name }));
        break;
      case Gst.MessageType.STATE_CHANGED: {
        if (msg.src !== this.pipeline) break;
        const [, newState] = msg.parseStateChanged();
        if (newState === Gst.State.PLAYING && this.status.state !== 'running') {
          this.setState('running');
          clearTimeout(this.stableTimer);
          this.stableTimer = setTimeout(() => (this.delayMs = this.options.initialDelayMs), this.options.stableAfterMs ?? 10_000);
        }
        break;
      }
      case Gst.MessageType.ELEMENT:
        this.emit('element', msg);
        break;
      default:
        break;
    }
  }

  private fault(e: unknown): void {
    const error = serializeError(e);
    this.status.lastError = error;
    clearTimeout(this.stableTimer);
    this.teardown();
    this.emit('fault', error);
    if (isDcError(e) && !e.recoverable) {
      this.log.error({ pipeline: this.name, err: error }, 'pipeline cannot run');
      this.setState('failed');
      return;
    }
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.options.maxDelayMs);
    this.log.warn({ pipeline: this.name, err: error, retryInMs: delay }, 'pipeline restarting');
    this.setState('restarting');
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.status.restarts++;
      this.launch();
    }, delay);
  }

  private teardown(): void {
    const pipeline = this.pipeline;
    this.pipeline = null;
    if (this.watchBus) this.watchBus.removeWatch();
    this.watchBus = null;
    pipeline?.setState(Gst.State.NULL);
  }

  private setState(state: PipelineState): void {
    if (this.status.state === state) return;
    this.status.state = state;
    this.emit('state', this.snapshot);
  }
}
