import { cpus } from 'node:os';

interface Ticks {
  busy: number;
  total: number;
}

/**
 * Busy share of all cores between two calls, from the kernel's per-core tick counters
 * (os.cpus(), no process: systeminformation's currentLoad runs `cat /proc/stat | grep` through
 * execSync on every call and keeps one baseline for the whole process).
 */
export class CpuLoadMeter {
  private last: Ticks | null = null;
  private lastPercent: number | null = null;

  /**
   * 0-100 with one decimal since the previous call; null on the first call. The counters move
   * in 10 ms ticks: a call too soon after the previous one repeats its value and keeps the
   * baseline, so the next call measures the whole span.
   */
  sample(): number | null {
    const now = totalTicks();
    const last = this.last;
    if (last && now.total <= last.total) return this.lastPercent;
    this.last = now;
    if (!last) return null;
    const percent = ((now.busy - last.busy) / (now.total - last.total)) * 100;
    this.lastPercent = Math.round(Math.min(100, Math.max(0, percent)) * 10) / 10;
    return this.lastPercent;
  }
}

function totalTicks(): Ticks {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const coreBusy = times.user + times.nice + times.sys + times.irq;
    busy += coreBusy;
    total += coreBusy + times.idle;
  }
  return { busy, total };
}
