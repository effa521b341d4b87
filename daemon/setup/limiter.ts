/**
 * Failed attempts (a wrong setup code, a wrong password) counted per client address: after
 * `maxFailures` within `windowMs` the address is locked out for `lockMs`. Six digits are a
 * million codes; five tries per lock period make guessing one hopeless.
 */
export interface LimiterOptions {
  maxFailures?: number;
  windowMs?: number;
  lockMs?: number;
  now?: () => number;
}

interface Record {
  failures: number[];
  lockedUntil: number;
}

export class FailureLimiter {
  private readonly records = new Map<string, Record>();
  private readonly now: () => number;

  constructor(private readonly opts: LimiterOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** Milliseconds until `key` may try again; 0: now. */
  lockedFor(key: string): number {
    const record = this.records.get(key);
    return record ? Math.max(0, record.lockedUntil - this.now()) : 0;
  }

  /** Counts a failure; true when it locked the key out (the end of a burst). */
  fail(key: string): boolean {
    const now = this.now();
    const record = this.records.get(key) ?? { failures: [], lockedUntil: 0 };
    record.failures = record.failures.filter((t) => now - t < (this.opts.windowMs ?? 10 * 60_000));
    record.failures.push(now);
    this.records.set(key, record);
    if (record.failures.length < (this.opts.maxFailures ?? 5)) return false;
    record.failures = [];
    record.lockedUntil = now + (this.opts.lockMs ?? 5 * 60_000);
    return true;
  }

  succeed(key: string): void {
    this.records.delete(key);
  }
}
