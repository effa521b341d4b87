/**
 * Reconnection delays: exponential growth with "full jitter". Attempt n (0-based) waits a
 * random time in [0, min(cap, base·2^n)), so a thousand boxes that lost the broker at the
 * same moment do not all come back in the same second. Pure: no timers, random injectable.
 */
export interface BackoffOptions {
  /** Ceiling of the first delay, ms (default 1000). */
  baseMs?: number;
  /** Largest ceiling, ms (default 60 000). */
  capMs?: number;
  /** Returns a number in [0, 1); Math.random by default. */
  random?: () => number;
}

export class Backoff {
  readonly baseMs: number;
  readonly capMs: number;
  private readonly random: () => number;
  private n = 0;

  constructor({ baseMs = 1000, capMs = 60_000, random = Math.random }: BackoffOptions = {}) {
    if (!(baseMs > 0) || !Number.isFinite(baseMs)) throw new RangeError(`baseMs must be > 0, got ${baseMs}`);
    if (!(capMs >= baseMs) || !Number.isFinite(capMs)) throw new RangeError(`capMs must be >= baseMs, got ${capMs}`);
    this.baseMs = baseMs;
    this.capMs = capMs;
    this.random = random;
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.n;
  }

  /** The ceiling of the next delay (no jitter), ms. */
  ceiling(): number {
    // 2^n overflows to Infinity for large n; min() keeps it at the cap.
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.n, 1024));
  }

  /** The next delay, ms (an integer in [0, ceiling]), and counts one attempt. */
  next(): number {
    const ceiling = this.ceiling();
    this.n++;
    const r = Math.min(Math.max(this.random(), 0), 1);
    return Math.floor(r * ceiling);
  }

  /** After a success: the next delay starts from the base again. */
  reset(): void {
    this.n = 0;
  }
}
