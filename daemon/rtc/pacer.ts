/**
 * Spreads video packets over time at a little above the encoder's bitrate, as libwebrtc's
 * pacer does. A keyframe is many times an ordinary frame: sent at once, it fills a slow link's
 * queue and the audio queued behind it is dropped (measured on an emulated 1 Mbit/s link with
 * a 150 ms queue: audio fell to 28-38 of 50 packets a second in one run out of four). Paced,
 * the burst waits here instead, where it delays only video; audio is never paced.
 */

export interface PacerOptions {
  /** Pacing rate as a multiple of the target bitrate: room for the encoder's overshoot. */
  factor?: number;
  /** The longest a packet may wait here: past that the rate rises to drain the queue in time. */
  maxQueueMs?: number;
  /** How often the queue is drained (Node's timers are good to about a millisecond). */
  tickMs?: number;
  /**
   * What may leave at once after a pause, as time at the paced rate: about one ordinary frame
   * (at 30 fps 33 ms of the bitrate, under 40 ms at the paced rate), so that only frames much
   * larger than usual (keyframes) wait here and the others are not delayed.
   */
  burstMs?: number;
}

const DEFAULTS: Required<PacerOptions> = { factor: 1.5, maxQueueMs: 300, tickMs: 5, burstMs: 40 };

export class Pacer {
  private readonly opts: Required<PacerOptions>;
  private readonly queue: Array<{ datagram: Buffer; at: number }> = [];
  private queued = 0;
  /** Bytes that may go now; negative after a packet larger than what was left. */
  private budget = 0;
  private lastRefill = 0;
  private bytesPerMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (datagram: Buffer) => void,
    opts: PacerOptions = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** The encoder's bitrate now; until it is known, packets pass straight through. */
  setTargetKbps(kbps: number): void {
    this.bytesPerMs = (kbps * this.opts.factor) / 8;
  }

  /** Bytes waiting to be sent. */
  get queuedBytes(): number {
    return this.queued;
  }

  push(datagram: Buffer): void {
    if (this.bytesPerMs === undefined) return this.send(datagram);
    this.queue.push({ datagram, at: performance.now() });
    this.queued += datagram.length;
    this.drain();
    if (this.queue.length > 0 && !this.timer) this.timer = setInterval(() => this.drain(), this.opts.tickMs);
  }

  /** Drops what is queued and stops: the peer connection is closing. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queued = 0;
  }

  private drain(): void {
    const now = performance.now();
    // Fast enough that the oldest packet leaves by its deadline, and all the others with it.
    const oldest = this.queue[0]?.at ?? now;
    const left = Math.max(this.opts.tickMs, this.opts.maxQueueMs - (now - oldest));
    const rate = Math.max(this.bytesPerMs ?? Infinity, this.queued / left);
    // No more than one frame's worth saved up while idle: an idle spell must not license a burst.
    const burst = rate * this.opts.burstMs;
    this.budget = Math.min(burst, this.budget + (now - this.lastRefill) * rate);
    this.lastRefill = now;
    while (this.queue.length > 0 && this.budget > 0) {
      const { datagram } = this.queue.shift()!;
      this.queued -= datagram.length;
      this.budget -= datagram.length;
      this.send(datagram);
    }
    if (this.queue.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
