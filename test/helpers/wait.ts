/** Waiting on conditions with deadlines: tests never sleep blindly to pass. */

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Poll this often (default 50 ms). */
  intervalMs?: number;
}

/**
 * Polls `predicate` every 50 ms until it returns true; rejects naming `what` (and the last
 * value `describe` gives, if any) after the deadline. Resolves with the time it took in ms.
 */
export async function waitUntil(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 50 }: WaitOptions = {},
  describe?: () => unknown,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await predicate()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) {
      const state = describe ? `; last seen: ${JSON.stringify(describe())}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${state}`);
    }
    await delay(intervalMs);
  }
}

/** The error `fn` throws or rejects with; fails (rejects) if it does not. */
export async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, nothing was thrown');
}
