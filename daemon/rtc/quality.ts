/**
 * What the box sends on a link of a given quality: the video encoder's bitrate and the picture
 * size, from the far end's view of the link (bandwidth estimate from REMB or transport-cc, loss
 * from its receiver reports, round-trip time). Pure: no timers, no I/O; time comes with each
 * observation, so tests drive it with their own clock.
 *
 * Budget. Audio is paid for first: `audioKbps` (Opus plus RTP/SRTP/UDP overhead, 40 kbit/s by
 * default) is always taken from the estimate, and video gets what is left after `headroom` (15%
 * by default: packet headers and encoder overshoot; with no loss the video bitrate is then
 * 0.85·estimate − 40, the mapping BoxPeer used before):
 *
 *   video budget = min(estimate, loss limit) · (1 − headroom) − audioKbps
 *
 * Loss, as in GCC's loss-based controller: above 10% the loss limit is cut to
 * (1 − 0.5·loss) of what was sent, at most once per 300 ms + RTT; below 2% it grows by 5% a
 * second until the estimate binds again; in between it holds. An RTT more than `rttRiseMs` above
 * its minimum of the last 30 s (a queue building up somewhere) cuts the limit to 0.85 of itself,
 * at the same pace, before the queue overflows and drops audio too. Only below 2% loss, and
 * with no queue building, may the rate and the picture grow.
 *
 * The ladder (sizes above the configured capture size are left out):
 *
 * | rung       | size      | video budget, kbit/s | estimate needed¹, kbit/s | step up when budget ≥² |
 * |------------|-----------|----------------------|--------------------------|------------------------|
 * | 720p       | 1280×720  | ≥ 1200               | ≥ 1459                   | 1380                   |
 * | 540p       | 960×540   | ≥ 700                | ≥ 871                    | 805                    |
 * | 480p       | 848×480³  | ≥ 450                | ≥ 577                    | 518                    |
 * | 360p       | 640×360   | ≥ 150 (~250 typical) | ≥ 224                    | 173                    |
 * | audio-only | —         | < 150                | < 224                    | —                      |
 *
 * ¹ with the defaults (audio 40, headroom 15%) and no loss. ² the rung's threshold × 1.15, held
 * for `upHoldMs` (5 s). ³ 854×480 is 16:9 but odd-sized chroma does not encode; 848 is 0.6% off.
 *
 * Hysteresis: below the current rung's threshold the size drops at once, as many rungs as the
 * budget needs (a collapsing link must not wait); up goes one rung at a time, and only after
 * the budget has stayed at ≥ 1.15 × the next rung's threshold, with growth allowed, for
 * `upHoldMs`. A budget wandering around a threshold therefore moves the size at most once.
 */
export interface FrameSize {
  width: number;
  height: number;
}

export type RungName = '720p' | '540p' | '480p' | '360p' | 'audio-only';

export interface Rung {
  name: RungName;
  /** null: no video at all (audio only). */
  size: FrameSize | null;
  /** The least video budget this rung is used with (kbit/s). */
  minVideoKbps: number;
}

export const LADDER: readonly Rung[] = [
  { name: '720p', size: { width: 1280, height: 720 }, minVideoKbps: 1200 },
  { name: '540p', size: { width: 960, height: 540 }, minVideoKbps: 700 },
  { name: '480p', size: { width: 848, height: 480 }, minVideoKbps: 450 },
  { name: '360p', size: { width: 640, height: 360 }, minVideoKbps: 150 },
  { name: 'audio-only', size: null, minVideoKbps: -Infinity },
];

export interface SendQualityOptions {
  /** The configured capture size: the top of the ladder, never exceeded. */
  captureSize: FrameSize;
  /** Audio's share, taken from the estimate first (kbit/s, default 40). */
  audioKbps?: number;
  /** Share of the estimate kept free for headers and encoder overshoot (default 0.15). */
  headroom?: number;
  /** The encoder bitrate never goes above this (kbit/s, default 2500). */
  maxVideoKbps?: number;
  /**
   * Where the sending rate starts (kbit/s; default: no limit, the estimate alone). A call
   * starting low, and growing while neither loss nor a queue shows, learns the link's unloaded
   * RTT first — starting above a link's capacity fills its queue before the first report.
   */
  startKbps?: number;
  /** How long the budget must stay above the next rung's step-up level (ms, default 5000). */
  upHoldMs?: number;
  /** The next rung's threshold is multiplied by this for stepping up (default 1.15). */
  upMargin?: number;
  /** Loss above this cuts the budget (default 0.10). */
  highLoss?: number;
  /** Loss below this lets the budget and the picture grow (default 0.02). */
  lowLoss?: number;
  /** RTT this far above its recent minimum means a queue is building: cut, no growth (ms, default 60). */
  rttRiseMs?: number;
  /** The window the RTT minimum is taken over (ms, default 30000). */
  rttWindowMs?: number;
}

export interface QualityObservation {
  /** Available send bandwidth (kbit/s): REMB or transport-cc. */
  estimateKbps: number;
  /** Fraction lost (0..1) from the far end's receiver report; left out: unknown, taken as none. */
  lossFraction?: number;
  /** Round-trip time (ms); left out: unknown. */
  rttMs?: number;
  /** When, in ms on any monotonic clock (performance.now() in the daemon). */
  at: number;
}

export interface QualityDecision {
  rung: RungName;
  /** The size to send, or null: video paused, audio only (MediaControl.setSendSize takes it as is). */
  size: FrameSize | null;
  /** The encoder bitrate (kbit/s); 0 in audio-only. */
  videoKbps: number;
  /** The video budget this came from (kbit/s, may be negative on a very poor link). */
  budgetKbps: number;
  /** Whether this observation changed the size (or paused/resumed video). */
  changed: boolean;
  reason: 'start' | 'down' | 'up' | 'hold';
}

/** GCC's loss-based increase: 5% a second while loss stays under 2%. */
const LOSS_GROWTH_PER_S = 1.05;
/** GCC cuts at most once per this plus an RTT, so one burst of loss is not counted twice. */
const LOSS_CUT_INTERVAL_MS = 300;
const ASSUMED_RTT_MS = 100;
/** A building queue cuts the rate by this factor (as GCC's delay-based controller, ×0.85). */
const QUEUE_CUT = 0.85;
/** Bounds the RTT window however often observations come. */
const MAX_RTT_SAMPLES = 1000;

/** The ladder for a capture size: every rung that fits inside it, then audio-only. */
export function ladderFor(capture: FrameSize): Rung[] {
  const rungs = LADDER.filter((r) => !r.size || (r.size.width <= capture.width && r.size.height <= capture.height));
  if (rungs.length < 2) throw new RangeError(`capture size ${capture.width}x${capture.height} is below the smallest rung (640x360)`);
  return rungs;
}

export class SendQuality {
  /** From the capture size (or the largest rung inside it) down to audio-only. */
  readonly rungs: readonly Rung[];
  private readonly o: Required<Omit<SendQualityOptions, 'captureSize' | 'startKbps'>>;
  private index = 0;
  /** Since when the budget has allowed the next rung up (null: it does not now). */
  private upSince: number | null = null;
  private lossLimitKbps: number;
  private lastCutAt = -Infinity;
  private lastAt: number | null = null;
  /** Increasing RTTs in the window (a monotonic deque): the first is the window's minimum. */
  private readonly rtts: Array<{ at: number; rtt: number }> = [];
  private last: QualityDecision | null = null;

  constructor(options: SendQualityOptions) {
    this.rungs = ladderFor(options.captureSize);
    this.lossLimitKbps = options.startKbps ?? Infinity;
    this.o = {
      audioKbps: options.audioKbps ?? 40,
      headroom: options.headroom ?? 0.15,
      maxVideoKbps: options.maxVideoKbps ?? 2500,
      upHoldMs: options.upHoldMs ?? 5000,
      upMargin: options.upMargin ?? 1.15,
      highLoss: options.highLoss ?? 0.1,
      lowLoss: options.lowLoss ?? 0.02,
      rttRiseMs: options.rttRiseMs ?? 60,
      rttWindowMs: options.rttWindowMs ?? 30_000,
    };
    if (!(this.o.headroom >= 0 && this.o.headroom < 1)) throw new RangeError(`headroom must be from 0 to below 1, got ${this.o.headroom}`);
    if (!(this.o.upMargin >= 1)) throw new RangeError(`upMargin must be at least 1, got ${this.o.upMargin}`);
    if (!(this.o.lowLoss <= this.o.highLoss)) throw new RangeError('lowLoss must not be above highLoss');
  }

  /** The last decision; null before the first observation (the encoder is at its configured settings). */
  get current(): QualityDecision | null {
    return this.last;
  }

  get rung(): Rung {
    return this.rungs[this.index]!;
  }

  /**
   * Takes one observation and says what to send now. `changed` is relative to the previous
   * decision; before the first, to the capture size (the engine's default).
   */
  observe(obs: QualityObservation): QualityDecision {
    if (!Number.isFinite(obs.estimateKbps) || !Number.isFinite(obs.at)) {
      throw new RangeError(`an observation needs a finite estimateKbps and at, got ${obs.estimateKbps} and ${obs.at}`);
    }
    // A clock that steps back must not make the hold time negative.
    const at = this.lastAt === null ? obs.at : Math.max(obs.at, this.lastAt);
    const dtMs = this.lastAt === null ? 0 : at - this.lastAt;
    this.lastAt = at;
    const estimate = Math.max(0, obs.estimateKbps);
    const loss = Number.isFinite(obs.lossFraction) ? Math.min(1, Math.max(0, obs.lossFraction!)) : 0;
    const rtt = Number.isFinite(obs.rttMs) && obs.rttMs! >= 0 ? obs.rttMs! : undefined;

    const queueing = rtt !== undefined && this.queueDelay(rtt, at) > this.o.rttRiseMs;
    this.followLoss(estimate, loss, rtt, at, dtMs, queueing);
    const growth = loss < this.o.lowLoss && !queueing;
    const budget = Math.min(estimate, this.lossLimitKbps) * (1 - this.o.headroom) - this.o.audioKbps;

    const first = this.last === null;
    const before = this.index;
    let reason: QualityDecision['reason'] = first ? 'start' : 'hold';
    if (budget < this.rung.minVideoKbps) {
      // Down at once, as far as the budget needs.
      this.index = this.rungs.findIndex((r) => budget >= r.minVideoKbps);
      this.upSince = null;
      reason = first ? 'start' : 'down';
    } else if (this.index > 0 && growth && budget >= this.rungs[this.index - 1]!.minVideoKbps * this.o.upMargin) {
      this.upSince ??= at;
      if (at - this.upSince >= this.o.upHoldMs) {
        this.index--;
        // The next rung needs a hold of its own, counted from this step.
        this.upSince = at;
        reason = 'up';
      }
    } else {
      this.upSince = null;
    }
    return this.decide(budget, this.index !== before, reason);
  }

  private decide(budget: number, changed: boolean, reason: QualityDecision['reason']): QualityDecision {
    const rung = this.rung;
    const videoKbps = rung.size ? Math.round(Math.min(this.o.maxVideoKbps, budget)) : 0;
    this.last = { rung: rung.name, size: rung.size ? { ...rung.size } : null, videoKbps, budgetKbps: Math.round(budget), changed, reason };
    return { ...this.last, size: this.last.size ? { ...this.last.size } : null };
  }

  /** The loss-based limit: cut on heavy loss, grown back on light loss, held in between. */
  private followLoss(estimate: number, loss: number, rtt: number | undefined, at: number, dtMs: number, queueing: boolean): void {
    if (loss > this.o.highLoss || queueing) {
      // A queue building up (the RTT rising) is cut back before it overflows and drops audio too.
      const factor = loss > this.o.highLoss ? 1 - 0.5 * loss : QUEUE_CUT;
      if (at - this.lastCutAt >= LOSS_CUT_INTERVAL_MS + (rtt ?? ASSUMED_RTT_MS)) {
        this.lossLimitKbps = Math.min(this.lossLimitKbps, estimate) * factor;
        this.lastCutAt = at;
      }
    } else if (loss < this.o.lowLoss && Number.isFinite(this.lossLimitKbps)) {
      this.lossLimitKbps *= LOSS_GROWTH_PER_S ** (dtMs / 1000);
      // Grown back to the estimate: the delay-based estimate alone leads again.
      if (this.lossLimitKbps >= estimate) this.lossLimitKbps = Infinity;
    }
  }

  /** How far this RTT is above the lowest of the window: the part that is queueing. */
  private queueDelay(rtt: number, at: number): number {
    while (this.rtts.length > 0 && this.rtts[this.rtts.length - 1]!.rtt >= rtt) this.rtts.pop();
    this.rtts.push({ at, rtt });
    while (this.rtts.length > MAX_RTT_SAMPLES || this.rtts[0]!.at < at - this.o.rttWindowMs) this.rtts.shift();
    return rtt - this.rtts[0]!.rtt;
  }
}
